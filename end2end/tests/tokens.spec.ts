import { expect } from '@playwright/test';
import { checkA11y, createUser, hydrated, jsEnabled, open, PASSWORD, rpc, signIn, test } from './helpers';

test('a person creates a token, copies it once, and controls it with the status buttons', async ({ page, context, request }, info) => {
  const run = info.project.name;
  const email = `tokens-${run}@example.com`;
  createUser(email, `Token user ${run}`);
  await signIn(page, info, email, PASSWORD);
  await open(page, '/profile/tokens', info);
  await expect(page.getByText('You have no access tokens yet.')).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // The create dialog: a past custom time is refused and the name is kept.
  await page.getByRole('link', { name: 'Create a new access token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create a new access token' });
  await expect(dialog).toBeVisible();
  if (jsEnabled(info)) {
    // Opened in place as a modal, without a page load; Escape closes it.
    await expect(page.locator('dialog#create-token:modal')).toHaveCount(1);
    expect(new URL(page.url()).search).toBe('');
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    // Cancel closes it in place as well.
    await page.getByRole('link', { name: 'Create a new access token' }).click();
    await dialog.getByRole('link', { name: 'Cancel' }).click();
    await expect(dialog).toBeHidden();
    expect(new URL(page.url()).search).toBe('');
    await page.getByRole('link', { name: 'Create a new access token' }).click();
    await expect(dialog).toBeVisible();
  } else {
    // A page state of its own.
    expect(new URL(page.url()).search).toBe('?new');
  }
  // Scope and organization choices sit one under another, each as tall as
  // its text (a fieldset of fields once stretched each to 14rem).
  const choices = await dialog.locator('.field-check').all();
  expect(choices.length).toBeGreaterThan(0);
  for (const choice of choices) {
    expect((await choice.boundingBox())?.height ?? 0).toBeLessThan(64);
  }
  await checkA11y(page, jsEnabled(info));
  await dialog.getByLabel('Name').fill(`deploy ${run}`);
  await dialog.getByLabel('Expires').selectOption('custom');
  await dialog.getByLabel('Custom expiry (UTC)').fill('2001-01-01T00:00');
  await dialog.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByText('Choose a time in the future.')).toBeVisible();
  await expect(page.getByRole('dialog', { name: 'Create a new access token' }).getByLabel('Name')).toHaveValue(`deploy ${run}`);

  const again = page.getByRole('dialog', { name: 'Create a new access token' });
  await again.getByLabel('Expires').selectOption('30d');
  await again.getByRole('button', { name: 'Create token' }).click();

  // The one-time copy view.
  await expect(page.getByRole('heading', { name: 'Copy your new access token' })).toBeVisible();
  await expect(page.getByText('This is the only time it is shown.')).toBeVisible();
  const field = page.getByLabel('Access token', { exact: true });
  const secret = await field.inputValue();
  expect(secret).toMatch(/^lkp_[0-9A-Za-z]{38}$/);
  if (jsEnabled(info)) {
    await hydrated(page, info);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect(page.getByText('Copied to the clipboard.')).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  }
  await checkA11y(page, jsEnabled(info));

  // The integration works with it.
  const whoami = () => request.get('/api/v1/whoami', { headers: { Authorization: `Bearer ${secret}` } });
  const me = await whoami();
  expect(me.status()).toBe(200);
  expect((await me.json()).acts_as.email).toBe(email);

  // The secret page was reached by a redirect after the post: reloading it
  // neither shows the secret again nor makes a token.
  expect(new URL(page.url()).pathname).toBe('/tokens/new');
  await page.reload();
  await expect(page.getByRole('heading', { name: 'This token was already shown' })).toBeVisible();
  expect(await page.content()).not.toContain(secret);
  await checkA11y(page, jsEnabled(info));
  await open(page, '/profile/tokens', info);
  const row = page.getByRole('row', { name: new RegExp(`deploy ${run}`) });
  await expect(row).toBeVisible();
  await hydrated(page, info);
  expect(await page.content()).not.toContain(secret);
  await expect(row.getByText('Active')).toBeVisible();
  await expect(row.getByText('in 30 days')).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // Revoke → 401, reactivate → 200.
  await row.getByRole('button', { name: /^Revoke/ }).click();
  await expect(page.getByRole('row', { name: new RegExp(`deploy ${run}`) }).getByText('Revoked', { exact: true })).toBeVisible();
  expect((await whoami()).status()).toBe(401);
  await page.getByRole('row', { name: new RegExp(`deploy ${run}`) }).getByRole('button', { name: /^Reactivate/ }).click();
  await expect(page.getByRole('row', { name: new RegExp(`deploy ${run}`) }).getByText('Active', { exact: true })).toBeVisible();
  expect((await whoami()).status()).toBe(200);

  // Delete after confirming → gone, and refused.
  const current = page.getByRole('row', { name: new RegExp(`deploy ${run}`) });
  await current.locator('summary', { hasText: 'Delete' }).click();
  await current.getByRole('button', { name: `Delete token “deploy ${run}”` }).click();
  await expect(page.getByRole('row', { name: new RegExp(`deploy ${run}`) })).toHaveCount(0);
  expect((await whoami()).status()).toBe(401);
  await expect(page.getByText(`Deleted “deploy ${run}”`)).toBeVisible();
  expect(await page.content()).not.toContain(secret);
});

test('a status button brings the page back where the person was', async ({ page }, info) => {
  test.skip(!jsEnabled(info), 'the place is kept by an island');
  const run = info.project.name;
  const email = `scroll-${run}@example.com`;
  createUser(email, `Scroll user ${run}`);
  await signIn(page, info, email, PASSWORD);
  await rpc(page, 'create_token', { name: `far down ${run}`, expiry: '30d', 'scopes[]': 'identity:read' });
  await page.setViewportSize({ width: 390, height: 480 });
  await open(page, '/profile/tokens', info);
  const revoke = page.getByRole('row', { name: new RegExp(`far down ${run}`) }).getByRole('button', { name: /^Revoke/ });
  await revoke.scrollIntoViewIfNeeded();
  const before = await page.evaluate(() => window.scrollY);
  expect(before).toBeGreaterThan(100);
  await revoke.click();
  await expect(page.getByRole('row', { name: new RegExp(`far down ${run}`) }).getByText('Revoked', { exact: true })).toBeAttached();
  await hydrated(page, info);
  await expect.poll(() => page.evaluate(() => window.scrollY)).toBeGreaterThan(before - 100);
  // Only the page the form came back to: another page opens at the top.
  await open(page, '/profile', info);
  expect(await page.evaluate(() => window.scrollY)).toBe(0);
});
