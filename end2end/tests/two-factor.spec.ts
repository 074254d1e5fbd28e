import { expect, type Page } from '@playwright/test';
import { checkA11y, createUser, hydrated, jsEnabled, open, PASSWORD, signIn, test, totp } from './helpers';

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
}

test('a person turns on two-factor sign-in, signs in with a code and with a recovery code, and turns it off', async ({ page }, info) => {
  const run = info.project.name;
  const email = `totp-${run}@example.com`;
  createUser(email, `Totp ${run}`);
  await signIn(page, info, email, PASSWORD);
  await open(page, '/profile', info);

  await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  await expect(page.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
  const key = (await page.locator('code.secret-key').innerText()).trim();
  await checkA11y(page, jsEnabled(info));
  await page.getByLabel('Code from the app').fill('000000');
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByText('That code is not right')).toBeVisible();
  await page.getByLabel('Code from the app').fill(totp(key));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByRole('heading', { name: 'Two-factor sign-in is on' })).toBeVisible();
  const codes = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
  expect(codes).toHaveLength(10);
  await checkA11y(page, jsEnabled(info));
  await page.getByRole('link', { name: 'Done, I have saved them' }).click();
  await expect(page.getByText('10 unused recovery codes left.')).toBeVisible();

  // Signing in now asks for a code after the password.
  await signOut(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Enter your code' })).toBeVisible();
  await hydrated(page, info);
  await checkA11y(page, jsEnabled(info));
  await page.getByLabel('Authentication code').fill('123');
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByText('That code is not right')).toBeVisible();
  // The code that turned it on was spent; the next one works.
  await page.getByLabel('Authentication code').fill(totp(key, 30));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('heading', { level: 1, name: `Hello, Totp ${run}` })).toBeVisible();
  await hydrated(page, info);

  // A recovery code, once.
  await signOut(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Authentication code').fill(codes[0]);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('heading', { level: 1, name: `Hello, Totp ${run}` })).toBeVisible();

  await open(page, '/profile', info);
  await expect(page.getByText('9 unused recovery codes left.')).toBeVisible();
  await page.getByLabel('Code to turn it off').fill(codes[1]);
  await page.getByRole('button', { name: 'Turn off two-factor sign-in' }).click();
  await expect(page.getByRole('button', { name: 'Set up two-factor sign-in' })).toBeVisible();
});
