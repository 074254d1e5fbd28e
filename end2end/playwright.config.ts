import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// One server for the whole run, on a fresh SQLite database. The variable is set
// here once so the test workers (which inherit it) reach the same database.
process.env.LATCHKEY_E2E_DATA_DIR ??= mkdtempSync(join(tmpdir(), 'latchkey-e2e-'));
const port = Number(process.env.LATCHKEY_E2E_PORT ?? 3107);

export default defineConfig({
  testDir: './tests',
  workers: 1,
  retries: 0,
  timeout: 60_000,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    // The one-time first-admin setup, before everything else.
    { name: 'setup', testMatch: /setup\.spec\.ts/ },
    {
      name: 'hydrated',
      dependencies: ['setup'],
      testIgnore: /setup\.spec\.ts/,
      use: { javaScriptEnabled: true },
    },
    {
      name: 'no-js',
      dependencies: ['setup'],
      testIgnore: /setup\.spec\.ts/,
      use: { javaScriptEnabled: false },
    },
  ],
  webServer: {
    // The debug build by default (its hydration checks are stricter);
    // LATCHKEY_E2E_BINARY=../target/release/latchkey runs the suite against
    // what `scripts/run.sh` ships.
    command: `${process.env.LATCHKEY_E2E_BINARY ?? '../target/debug/latchkey'} serve`,
    url: `http://127.0.0.1:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: {
      LATCHKEY_ADDR: `127.0.0.1:${port}`,
      LATCHKEY_DATA_DIR: process.env.LATCHKEY_E2E_DATA_DIR,
      LEPTOS_SITE_ROOT: '../target/site',
      DATABASE_URL: '',
      RUST_LOG: 'warn',
      // Every browser here signs in from 127.0.0.1, many times a minute; the
      // per-address limit has its own integration tests.
      LATCHKEY_SIGN_IN_RATE_BURST: '200',
    },
  },
});
