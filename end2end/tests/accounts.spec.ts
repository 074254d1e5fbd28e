import { expect, type Browser, type Page, type TestInfo } from '@playwright/test';
import { checkA11y, createOrg, createUser, hydrated, jsEnabled, open, PASSWORD, signIn, test } from './helpers';

/** A second browser of the same kind (with or without JavaScript). */
async function otherBrowser(browser: Browser, info: TestInfo): Promise<Page> {
  const context = await browser.newContext({ javaScriptEnabled: jsEnabled(info), baseURL: info.project.use.baseURL });
  return context.newPage();
}

/** Leaves the one-time link's page. */
async function done(page: Page, info: TestInfo) {
  await page.getByRole('link', { name: /^Done/ }).click();
  await hydrated(page, info);
}

test('an instance admin invites someone, who makes their account with the one-time link; the admin can disable it', async ({ page, browser }, info) => {
  const run = info.project.name;
  const email = `invited-${run}@example.com`;
  await signIn(page, info);
  await page.getByRole('link', { name: 'Administration' }).click();
  await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible();
  await hydrated(page, info);
  await checkA11y(page, jsEnabled(info));

  // A refused form keeps what was typed.
  await page.getByLabel('Email', { exact: true }).fill('root@example.com');
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  await expect(page.getByText('An account with this email already exists.')).toBeVisible();
  await expect(page.getByLabel('Email', { exact: true })).toHaveValue('root@example.com');

  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  await expect(page.getByRole('heading', { name: `Send this link to ${email}` })).toBeVisible();
  const link = await page.getByLabel('Invitation link').inputValue();
  expect(link).toMatch(/\/invite\/lki_/);
  await checkA11y(page, jsEnabled(info));
  await done(page, info);
  await expect(page.getByRole('row', { name: new RegExp(email) })).toContainText('Member of the instance');

  // The invitee opens the link in their own browser.
  const invitee = await otherBrowser(browser, info);
  await invitee.goto(link);
  await hydrated(invitee, info);
  await expect(invitee.getByRole('heading', { name: 'Make your Latchkey account' })).toBeVisible();
  await expect(invitee.getByLabel('Email')).toHaveValue(email);
  await checkA11y(invitee, jsEnabled(info));
  await invitee.getByLabel('Your name').fill(`Invited ${run}`);
  await invitee.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await invitee.getByLabel('Password again').fill('something else entirely');
  await invitee.getByRole('button', { name: 'Make my account' }).click();
  await expect(invitee.getByText('The two passwords do not match.')).toBeVisible();
  await expect(invitee.getByLabel('Your name')).toHaveValue(`Invited ${run}`);
  await invitee.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await invitee.getByLabel('Password again').fill(PASSWORD);
  await invitee.getByRole('button', { name: 'Make my account' }).click();
  await expect(invitee.getByRole('heading', { level: 1, name: `Hello, Invited ${run}` })).toBeVisible();

  // The link worked once.
  const late = await otherBrowser(browser, info);
  await late.goto(link);
  await expect(late.getByText('This invitation link does not work')).toBeVisible();
  await late.context().close();

  // The admin finds them and disables the account: signed out at once.
  await open(page, `/admin/users?q=${encodeURIComponent(email)}`, info);
  const row = page.getByRole('row', { name: new RegExp(email) });
  await expect(row).toContainText('Active');
  await row.locator('summary', { hasText: 'Disable' }).click();
  await row.getByRole('button', { name: `Disable ${email}` }).click();
  await expect(page.getByRole('row', { name: new RegExp(email) })).toContainText('Disabled');
  await invitee.goto('/profile');
  await expect(invitee).toHaveURL(/\/sign-in\?next=\/profile$/);
  await invitee.context().close();
});

test('a person renames themselves, changes their password and signs their other sessions out', async ({ page, browser }, info) => {
  const run = info.project.name;
  const email = `account-${run}@example.com`;
  const newPassword = `new passphrase for ${run}`;
  createUser(email, `Account ${run}`);
  await signIn(page, info, email, PASSWORD);
  const phone = await otherBrowser(browser, info);
  await signIn(phone, info, email, PASSWORD);

  await page.getByRole('link', { name: `Account ${run}` }).click();
  await expect(page.getByRole('heading', { name: 'Sessions' })).toBeVisible();
  await hydrated(page, info);
  await expect(page.locator('.session')).toHaveCount(2);
  await expect(page.getByText('This browser')).toHaveCount(1);
  await checkA11y(page, jsEnabled(info));

  await page.getByLabel('Display name').fill(`Renamed ${run}`);
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(page.getByRole('heading', { level: 1, name: `Renamed ${run}` })).toBeVisible();

  // The current password is required; a wrong one says so on its field.
  const passwordForm = page.locator('form', { has: page.getByRole('button', { name: 'Change password' }) });
  await passwordForm.getByLabel('Current password').fill('not my password');
  await passwordForm.getByLabel('New password', { exact: true }).fill(newPassword);
  await passwordForm.getByLabel('New password again').fill(newPassword);
  await passwordForm.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByText('This is not your current password.')).toBeVisible();
  const again = page.locator('form', { has: page.getByRole('button', { name: 'Change password' }) });
  await again.getByLabel('Current password').fill(PASSWORD);
  await again.getByLabel('New password', { exact: true }).fill(newPassword);
  await again.getByLabel('New password again').fill(newPassword);
  await again.getByRole('button', { name: 'Change password' }).click();
  await expect(page.locator('.session')).toHaveCount(1);

  // The other browser was signed out; signing in brings it back where it was.
  await phone.goto('/profile');
  await expect(phone).toHaveURL(/\/sign-in\?next=\/profile$/);
  await hydrated(phone, info);
  await phone.getByLabel('Email').fill(email);
  await phone.getByLabel('Password').fill(newPassword);
  await phone.getByRole('button', { name: 'Sign in' }).click();
  await expect(phone).toHaveURL(/\/profile$/);
  await expect(phone.getByRole('heading', { level: 1, name: `Renamed ${run}` })).toBeVisible();

  // Sign out everywhere else.
  await open(page, '/profile', info);
  await expect(page.locator('.session')).toHaveCount(2);
  await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await expect(page.locator('.session')).toHaveCount(1);
  await phone.goto('/profile');
  await expect(phone).toHaveURL(/\/sign-in\?next=\/profile$/);
  await phone.context().close();
});

test('an organization admin invites someone into the organization and withdraws it', async ({ page }, info) => {
  const run = info.project.name;
  const admin = `org-inviter-${run}@example.com`;
  const slug = `invites-${run}`;
  createUser(admin, `Inviter ${run}`);
  createOrg(`Invites ${run}`, slug, admin);
  await signIn(page, info, admin, PASSWORD);
  await open(page, `/orgs/${slug}`, info);
  const email = `joiner-${run}@example.com`;
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Joins as').selectOption('admin');
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  await expect(page.getByRole('heading', { name: `Send this link to ${email}` })).toBeVisible();
  await done(page, info);
  const row = page.getByRole('row', { name: new RegExp(email) });
  await expect(row).toContainText(`Admin of Invites ${run}`);
  await checkA11y(page, jsEnabled(info));
  await row.getByRole('button', { name: /Withdraw/ }).click();
  await expect(page.getByRole('row', { name: new RegExp(email) })).toHaveCount(0);
});

test('a person whose session ended signs in again and comes back to the page asked for, query and all', async ({ page, context }, info) => {
  const run = info.project.name;
  const email = `returning-${run}@example.com`;
  createUser(email, `Returning ${run}`);
  await signIn(page, info, email, PASSWORD);
  await open(page, '/profile', info);
  // The session ends elsewhere (signed out everywhere, say).
  await context.clearCookies();
  const asked = '/profile/tokens?from=bookmark';
  await page.goto(asked);
  await expect(page).toHaveURL(/\/sign-in\?next=\/profile\/tokens%3Ffrom%3Dbookmark$/);
  await hydrated(page, info);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/profile\/tokens\?from=bookmark$/);
  await expect(page.getByText('You have no access tokens yet.')).toBeVisible();
});
