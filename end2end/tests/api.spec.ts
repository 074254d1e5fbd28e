import { expect } from '@playwright/test';
import { checkA11y, createUser, jsEnabled, open, signIn, test } from './helpers';

test('the API reference lists the routes and links the OpenAPI document', async ({ page, request }, info) => {
  await open(page, '/api-docs', info);
  await expect(page.getByRole('heading', { level: 1, name: 'API reference' })).toBeVisible();
  await expect(page.getByRole('heading', { level: 2, name: 'Tokens', exact: true })).toBeVisible();
  await expect(page.getByText('/oauth/introspect', { exact: true })).toBeVisible();
  await expect(page.getByText('Rotate the calling token')).toBeVisible();
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
