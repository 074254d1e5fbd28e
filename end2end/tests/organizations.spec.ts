import { expect } from '@playwright/test';
import { checkA11y, hydrated, jsEnabled, open, PASSWORD, signIn, test } from './helpers';

test('an admin creates an organization, adds a member and creates a group', async ({ page }, info) => {
  const run = info.project.name;
  const slug = `org-${run}`;
  const member = `member-${run}@example.com`;

  await signIn(page, info);
  await checkA11y(page, jsEnabled(info));

  // A bad URL name is explained next to the field and the name is kept.
  await page.getByLabel('Name', { exact: true }).fill(`Org ${run}`);
  await page.getByLabel('URL name').fill('Not A Slug!');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByText('Use 2–40 lower-case letters')).toBeVisible();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(`Org ${run}`);
  await checkA11y(page, jsEnabled(info));

  await page.getByLabel('URL name').fill(slug);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page).toHaveURL(new RegExp(`/orgs/${slug}$`));
  await expect(page.getByRole('heading', { level: 1, name: `Org ${run}` })).toBeVisible();
  await hydrated(page, info);
  await expect(page.getByRole('link', { name: 'Members' })).toHaveAttribute('aria-current', 'page');
  await checkA11y(page, jsEnabled(info));

  // Unknown email: a field error, typed value kept.
  await page.getByLabel('Email', { exact: true }).fill('nobody@example.com');
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.getByText('No account has this email yet.')).toBeVisible();
  await expect(page.getByLabel('Email', { exact: true })).toHaveValue('nobody@example.com');

  await page.getByLabel('Email', { exact: true }).fill(member);
  await page.getByLabel('Role', { exact: true }).selectOption('user');
  await page.getByRole('button', { name: 'Add member' }).click();
  const row = page.getByRole('row', { name: new RegExp(`Member ${run}`) });
  await expect(row).toBeVisible();
  await expect(row.getByText('User', { exact: true })).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // Promote, then remove after a confirmation.
  await row.getByRole('button', { name: /Make admin/ }).click();
  await expect(page.getByRole('row', { name: new RegExp(`Member ${run}`) }).getByText('Admin', { exact: true })).toBeVisible();

  // Groups tab: create a group.
  await page.getByRole('link', { name: 'Groups' }).click();
  await expect(page).toHaveURL(new RegExp(`/orgs/${slug}/groups$`));
  await page.getByLabel('Name', { exact: true }).fill('Platform');
  await page.getByRole('button', { name: 'Create group' }).click();
  const groupLink = page.getByRole('main').getByRole('link', { name: 'Platform' });
  await expect(groupLink).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // The group page: add the member to the group.
  await groupLink.click();
  await expect(page.getByRole('heading', { level: 1, name: 'Platform' })).toBeVisible();
  await hydrated(page, info);
  await page.getByLabel('Email', { exact: true }).fill(member);
  await page.getByRole('button', { name: 'Add to group' }).click();
  await expect(page.getByRole('row', { name: new RegExp(`Member ${run}`) })).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // The token tabs (their flows are in org-tokens.spec.ts).
  await page.getByRole('link', { name: 'Access Tokens' }).click();
  await expect(page.getByRole('heading', { name: 'Group access tokens' })).toBeVisible();
  await open(page, `/orgs/${slug}/tokens`, info);
  await expect(page.getByRole('heading', { name: 'Organization access tokens' })).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // Remove the member from the organization after confirming.
  await open(page, `/orgs/${slug}`, info);
  const memberRow = page.getByRole('row', { name: new RegExp(`Member ${run}`) });
  await memberRow.locator('summary', { hasText: 'Remove' }).click();
  await memberRow.getByRole('button', { name: `Remove Member ${run} from Org ${run}` }).click();
  await expect(page.getByRole('row', { name: new RegExp(`Member ${run}`) })).toHaveCount(0);
});

test('a member sees the organization in the navigation but no admin controls', async ({ page }, info) => {
  const run = info.project.name;
  const slug = `member-view-${run}`;
  const member = `member-${run}@example.com`;
  await signIn(page, info);
  await page.getByLabel('Name', { exact: true }).fill(`Member view ${run}`);
  await page.getByLabel('URL name').fill(slug);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page).toHaveURL(new RegExp(`/orgs/${slug}$`));
  await hydrated(page, info);
  await page.getByLabel('Email', { exact: true }).fill(member);
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.getByRole('row', { name: new RegExp(`Member ${run}`) })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);

  await signIn(page, info, member, PASSWORD);
  const nav = page.getByRole('navigation', { name: 'Your organizations' });
  await nav.getByRole('link', { name: `Member view ${run}` }).click();
  await expect(page.getByRole('heading', { level: 1, name: `Member view ${run}` })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Add member' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Make admin/ })).toHaveCount(0);
  await open(page, '/profile', info);
  await expect(page.getByText(member)).toBeVisible();
  await checkA11y(page, jsEnabled(info));
});

test('unknown pages are a real 404 page', async ({ page }, info) => {
  await signIn(page, info);
  const res = await page.goto('/definitely/not/here');
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await checkA11y(page, jsEnabled(info));
});
