// Time to interactive on a slow connection: opens pages in Chromium with
// network emulation (1.6 Mbps down, 750 kbps up, 150 ms latency, cache off)
// and reports, per page, navigation start → hydrated, the requests made and
// the bytes on the wire. Run against a release server (`bash scripts/run.sh`,
// or `target/release/latchkey serve` with LEPTOS_SITE_ROOT=target/site):
//   node scripts/first-load.mjs <base URL> <email> <password> [runs]
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../end2end/package.json'));
const { chromium } = require('playwright');

const [base, email, password, runsArg] = process.argv.slice(2);
if (!base || !email || !password) {
  console.error('usage: node scripts/first-load.mjs <base URL> <email> <password> [runs]');
  process.exit(2);
}
const runs = Number(runsArg ?? 3);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic'],
});

async function measure(context, path) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1000 * 1000) / 8,
    uploadThroughput: (750 * 1000) / 8,
  });
  let requests = 0;
  let bytes = 0;
  cdp.on('Network.requestWillBeSent', () => requests++);
  cdp.on('Network.loadingFinished', (event) => (bytes += event.encodedDataLength));
  const errors = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(new URL(path, base).href);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 60_000 });
  const interactive = await page.evaluate(() => performance.now());
  await page.close();
  return { interactive, requests, bytes, errors };
}

const signedOut = await browser.newContext();
const signedIn = await browser.newContext();
{
  const page = await signedIn.newPage();
  await page.goto(new URL('/sign-in', base).href);
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/sign-in')), page.click('button[type="submit"]')]);
  await page.close();
}

for (const [context, path] of [
  [signedOut, '/sign-in'],
  [signedIn, '/profile/tokens'],
]) {
  for (let run = 0; run < runs; run++) {
    const { interactive, requests, bytes, errors } = await measure(context, path);
    console.log(
      `${path}: interactive after ${(interactive / 1000).toFixed(2)} s, ${requests} requests, ` +
        `${(bytes / 1024).toFixed(0)} KiB on the wire${errors.length ? `, errors: ${errors.join(' | ')}` : ''}`,
    );
  }
}
await browser.close();
