import { expect } from '@playwright/test';
import { checkA11y, createUser, jsEnabled, open, signIn, test } from './helpers';

test('the API reference lists the routes and links the OpenAPI document', async ({ page, request }, info) => {
  await open(page, '/api-docs', info);
  await expect(page.getByRole('heading', { level: 1, name: 'API reference' })).toBeVisible();
  await expect(page.getByRole('heading', { level: 2, name: 'Tokens', exact: true })).toBeVisible();
  await expect(page.getByText('Rotate the calling token')).toBeVisible();
  // A table of contents leads to each operation.
  const contents = page.getByRole('navigation', { name: 'Contents' });
  await contents.getByRole('link', { name: 'POST /oauth/introspect' }).click();
  await expect(page).toHaveURL(/#post-oauth-introspect$/);
  const introspect = page.locator('#post-oauth-introspect');
  await expect(introspect.getByRole('heading', { level: 3 })).toContainText('/oauth/introspect');
  // Descriptions are Markdown, rendered.
  await expect(introspect.locator('.api-description code', { hasText: 'tokens:introspect' })).toBeVisible();
  await expect(introspect).not.toContainText('`tokens:introspect`');
  // It fits a phone: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.setViewportSize({ width: 1280, height: 720 });
  const link = page.getByRole('link', { name: '/api/v1/openapi.json' });
  const spec = await request.get((await link.getAttribute('href'))!);
  expect(spec.ok()).toBe(true);
  expect((await spec.json()).openapi).toMatch(/^3\.1/);
  await checkA11y(page, jsEnabled(info));
});

test('a token reported leaked is revoked and flagged on its owner\'s tab', async ({ page, request }, info) => {
  const email = `leaky-${info.project.name}@example.com`;
  createUser(email, 'Leaky');
  await signIn(page, info, email);
  const created = await page.request.post('/rpc/create_token', { form: { name: 'pushed by mistake', expiry: '7d', 'scopes[]': 'identity:read' } });
  expect(created.ok()).toBe(true);
  const secret: string = (await created.json()).secret;

  const report = await request.post('/api/v1/credentials/leaked', { data: [{ token: secret, url: 'https://example.com/commit/1' }] });
  expect(report.status()).toBe(202);
  const whoami = await request.get('/api/v1/whoami', { headers: { Authorization: `Bearer ${secret}` } });
  expect(whoami.status()).toBe(401);

  await open(page, '/profile/tokens', info);
  await expect(page.getByRole('alert')).toContainText('found in public');
  const row = page.getByRole('row', { name: /pushed by mistake/ });
  await expect(row.getByText('Leaked')).toBeVisible();
  await expect(row.getByText('Revoked', { exact: true })).toBeVisible();
  await expect(page.locator('body')).not.toContainText(secret);
  await checkA11y(page, jsEnabled(info));
});
