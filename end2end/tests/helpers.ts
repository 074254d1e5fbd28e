import AxeBuilder from '@axe-core/playwright';
import { expect, test as base, type BrowserContext, type Page, type TestInfo } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';

/**
 * Every spec's `test`: fails a test when the page panicked or reported a
 * hydration mismatch, which otherwise leave a page that looks right but whose
 * buttons do nothing.
 */
export const test = base.extend<{ browserErrors: void }>({
  browserErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error).slice(0, 500)));
      page.on('console', (message) => {
        if (message.type() === 'error' && /hydration|panicked/i.test(message.text())) {
          errors.push(message.text().slice(0, 500));
        }
      });
      await use();
      expect(errors, 'errors in the browser console').toEqual([]);
    },
    { auto: true },
  ],
});

export const ADMIN = { email: 'root@example.com', password: 'correct horse battery staple' };
export const PASSWORD = 'correct horse battery staple';

/** Opens a page; in the hydrated run, waits until WASM has taken over. */
export async function open(page: Page, path: string, info: TestInfo) {
  await page.goto(path);
  await hydrated(page, info);
}

export async function hydrated(page: Page, info: TestInfo) {
  if (jsEnabled(info)) {
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  }
}

export const jsEnabled = (info: TestInfo) => info.project.use.javaScriptEnabled !== false;

/**
 * Fails on any axe-core accessibility violation on the current page. axe needs
 * script, so for the no-JavaScript run the HTML on screen is copied into a
 * scratch page of the same site (same stylesheet) where only axe runs: the
 * app's JS and WASM are blocked.
 */
export async function checkA11y(page: Page, javaScript = true) {
  let target = page;
  let scratch: BrowserContext | undefined;
  if (!javaScript) {
    const browser = page.context().browser()!;
    scratch = await browser.newContext({
      javaScriptEnabled: true,
      storageState: await page.context().storageState(),
    });
    target = await scratch.newPage();
    await target.route(/\/pkg\/.*\.(js|wasm)$/, (route) => route.abort());
    await target.goto(new URL('/a11y-scratch', page.url()).toString());
    await target.setContent(await page.content());
  }
  const results = await new AxeBuilder({ page: target }).analyze();
  await scratch?.close();
  const summary = results.violations.map(
    (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
  );
  expect(summary, `accessibility violations on ${page.url()}`).toEqual([]);
}

export async function signIn(page: Page, info: TestInfo, email = ADMIN.email, password = ADMIN.password) {
  await open(page, '/sign-in', info);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: /^Hello, / })).toBeVisible();
  await hydrated(page, info);
}

/** Creates an account with the real command line, on the server's database. */
export function createUser(email: string, name: string) {
  execFileSync('../target/debug/latchkey', ['user', 'create', '--email', email, '--name', name], {
    input: `${PASSWORD}\n`,
    env: { ...process.env, LATCHKEY_DATA_DIR: process.env.LATCHKEY_E2E_DATA_DIR, DATABASE_URL: '' },
  });
}

/** Creates an organization with the real command line, `admin` as its admin. */
export function createOrg(name: string, slug: string, admin: string) {
  execFileSync('../target/debug/latchkey', ['org', 'create', '--name', name, '--slug', slug, '--admin', admin], {
    env: { ...process.env, LATCHKEY_DATA_DIR: process.env.LATCHKEY_E2E_DATA_DIR, DATABASE_URL: '' },
  });
}

/** Calls a server function with the page's session, as a setup step. */
export async function rpc(page: Page, name: string, form: Record<string, string>) {
  const res = await page.request.post(`/rpc/${name}`, { form });
  expect(res.status(), `${name}: ${await res.text()}`).toBe(200);
}

/** RFC 6238 with SHA-1, 6 digits and 30-second steps, as authenticator apps compute it. */
export function totp(base32Key: string, offsetSeconds = 0): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32Key.replace(/[\s=]/g, '').toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor((Date.now() / 1000 + offsetSeconds) / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, '0');
}

/** Turns two-factor sign-in on for the page's signed-in person, as a setup step. */
export async function enrolTwoFactor(page: Page) {
  await rpc(page, 'begin_two_factor', {});
  const status = await (await page.request.post('/rpc/get_two_factor', { form: {} })).json();
  await rpc(page, 'confirm_two_factor', { code: totp(status.enrolment.secret) });
}
