import { expect } from '@playwright/test';
import { ADMIN, checkA11y, createUser, hydrated, test } from './helpers';

test('first visit offers a one-time admin setup that keeps input on errors', async ({ browser, page }, info) => {
  // Without JavaScript: a mistake comes back next to its field, typed values kept.
  const noJs = await browser.newContext({ javaScriptEnabled: false });
  const plain = await noJs.newPage();
  await plain.goto('/');
  await expect(plain).toHaveURL(/\/setup$/);
  await checkA11y(plain, false);
  await plain.getByLabel('Email').fill('root@example.com');
  await plain.getByLabel('Display name').fill('Root Admin');
  await plain.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await plain.getByLabel('Repeat password').fill('not the same at all');
  await plain.getByRole('button', { name: 'Create admin account' }).click();
  await expect(plain.getByText('The two passwords do not match.')).toBeVisible();
  await expect(plain.getByLabel('Email')).toHaveValue('root@example.com');
  await expect(plain.getByLabel('Display name')).toHaveValue('Root Admin');
  await expect(plain.getByLabel('Repeat password')).toHaveAttribute('aria-invalid', 'true');
  await checkA11y(plain, false);
  await noJs.close();

  // Hydrated: the real setup.
  await page.goto('/setup');
  await hydrated(page, info);
  await page.getByLabel('Email').fill(ADMIN.email);
  await page.getByLabel('Display name').fill('Root Admin');
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('Repeat password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Create admin account' }).click();
  await expect(page.getByRole('heading', { name: 'Hello, Root Admin' })).toBeVisible();

  // Offered once only.
  await page.goto('/setup');
  await expect(page).toHaveURL(/\/$/);

  for (const run of ['hydrated', 'no-js']) {
    createUser(`member-${run}@example.com`, `Member ${run}`);
  }
});
