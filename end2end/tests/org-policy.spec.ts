import { expect, type Page, type Response } from '@playwright/test';
import {
  checkA11y, createOrg, createUser, enrolTwoFactor, jsEnabled, open, PASSWORD, rpc, signIn, test,
} from './helpers';

/** Requests the page makes that the server refuses: normal use makes none. */
function refusedRequests(page: Page): string[] {
  const refused: string[] = [];
  page.on('response', (response: Response) => {
    if (response.status() >= 400) {
      refused.push(`${response.status()} ${new URL(response.url()).pathname}`);
    }
  });
  return refused;
}

/** Saves the Settings form and waits for the server's answer (a fetch when
 * hydrated, the form's own navigation without JavaScript). */
async function saveSettings(page: Page) {
  await Promise.all([
    page.waitForResponse((response) => response.url().includes('/rpc/update_org_settings')),
    page.getByRole('button', { name: 'Save settings' }).click(),
  ]);
}

test('an organization requires two-factor sign-in: members without it are told why, admins see who has it', async ({ page, browser }, info) => {
  const run = info.project.name;
  const slug = `tfa-${run}`;
  const admin = `tfa-admin-${run}@example.com`;
  const member = `tfa-member-${run}@example.com`;
  createUser(admin, `Tfa Admin ${run}`);
  createUser(member, `Tfa Member ${run}`);
  createOrg(`Two Factor Org ${run}`, slug, admin);
  await signIn(page, info, admin, PASSWORD);
  await rpc(page, 'add_org_member', { org: slug, email: member, role: 'user' });

  // Only someone who has it may require it.
  await open(page, `/orgs/${slug}/settings`, info);
  await page.getByLabel('Members must use two-factor sign-in').check();
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Turn on two-factor sign-in for your own account first')).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  await enrolTwoFactor(page);
  await open(page, `/orgs/${slug}/settings`, info);
  await expect(page.getByText('1 member has not turned it on yet')).toBeVisible();
  await page.getByLabel('Members must use two-factor sign-in').check();
  await saveSettings(page);
  await open(page, `/orgs/${slug}/settings`, info);
  await expect(page.getByLabel('Members must use two-factor sign-in')).toBeChecked();

  await open(page, `/orgs/${slug}`, info);
  const members = page.getByRole('table', { name: 'Members of the organization' });
  await expect(members.getByRole('columnheader', { name: 'Two-factor' })).toBeVisible();
  await expect(members.getByRole('row', { name: new RegExp(admin) }).getByText('On', { exact: true })).toBeVisible();
  await expect(members.getByRole('row', { name: new RegExp(member) }).getByText('Off', { exact: true })).toBeVisible();
  await checkA11y(page, jsEnabled(info));
  await open(page, `/orgs/${slug}/audit`, info);
  await expect(page.getByText(`Tfa Admin ${run} required two-factor sign-in`)).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // The member is told why and where to turn it on.
  const context = await browser.newContext({ javaScriptEnabled: jsEnabled(info) });
  const other = await context.newPage();
  await signIn(other, info, member, PASSWORD);
  await expect(other.getByRole('link', { name: 'Needs your two-factor sign-in' })).toBeVisible();
  await open(other, `/orgs/${slug}/tokens`, info);
  await expect(other.getByRole('heading', { level: 1, name: 'Two-factor sign-in required' })).toBeVisible();
  await expect(other.locator('main').getByRole('heading')).toHaveCount(1);
  await expect(other.locator('main')).not.toContainText('permission');
  await checkA11y(other, jsEnabled(info));
  await other.getByRole('link', { name: 'Turn on two-factor sign-in' }).click();
  await expect(other).toHaveURL(/\/profile#two-factor$/);
  await expect(other.getByText(`Two Factor Org ${run} requires two-factor sign-in`)).toBeVisible();
  await context.close();
});

test('tokens an organization turned off say so, offer nothing unusable, and the page asks nothing that fails', async ({ page }, info) => {
  const run = info.project.name;
  const slug = `off-${run}`;
  const admin = `off-admin-${run}@example.com`;
  createUser(admin, `Off Admin ${run}`);
  createOrg(`Tokens Off Org ${run}`, slug, admin);
  await signIn(page, info, admin, PASSWORD);
  await rpc(page, 'create_token', { org: slug, name: 'deploy-bot', expiry: '7d', 'scopes[]': 'identity:read' });

  await open(page, `/orgs/${slug}/settings`, info);
  await page.getByLabel('Allow organization access tokens').uncheck();
  await saveSettings(page);

  const refused = refusedRequests(page);
  await open(page, `/orgs/${slug}/tokens`, info);
  await expect(page.getByRole('status').filter({ hasText: 'Turned off.' })).toContainText(`turned off for Tokens Off Org ${run}`);
  await expect(page.getByRole('link', { name: 'Open Settings' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Create a new access token' })).toHaveCount(0);
  const row = page.getByRole('row', { name: /deploy-bot/ });
  await expect(row.getByText('Turned off', { exact: true })).toBeVisible();
  await expect(row.getByText('Active', { exact: true })).toHaveCount(0);
  await checkA11y(page, jsEnabled(info));

  await open(page, `/orgs/${slug}/audit`, info);
  await expect(page.getByText(`Off Admin ${run} turned organization tokens off`)).toBeVisible();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.waitForLoadState('networkidle');
  expect(refused).toEqual([]);
});
