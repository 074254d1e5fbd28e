const { chromium } = require('playwright');
(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu'] });
  const [who, paths, width, scheme] = [process.argv[2], process.argv[3].split(','), Number(process.argv[4]), process.argv[5]];
  const ctx = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme });
  const page = await ctx.newPage();
  const errors = [];
  page.on('console', m => m.type() === 'error' && errors.push(m.text()));
  await page.goto('http://127.0.0.1:3005/sign-in');
  await page.waitForSelector('body[data-hydrated="true"]');
  await page.fill('input[name="email"]', who);
  await page.fill('input[name="password"]', 'latchkey-demo-password');
  await Promise.all([page.waitForURL(u => !u.pathname.startsWith('/sign-in')), page.click('button[type="submit"]')]);
  for (const p of paths) {
    await page.goto('http://127.0.0.1:3005' + p);
    await page.waitForSelector('body[data-hydrated="true"]');
    if (p.endsWith('#create')) {
      await page.getByRole('link', { name: /Create a new/ }).first().click();
      await page.waitForTimeout(300);
    }
    const name = `/tmp/s-${p.replace(/[^a-z0-9]+/gi, '_')}-${width}-${scheme}.png`;
    await page.screenshot({ path: name, fullPage: true });
    console.log(name);
  }
  console.log('errors', errors);
  await browser.close();
})();
