import { expect, type APIRequestContext, type BrowserContext, type Page, type TestInfo } from '@playwright/test';
import { checkA11y, createOrg, createUser, hydrated, jsEnabled, open, PASSWORD, rpc, signIn, test } from './helpers';

/**
 * Creates an access token with the dialog on the current tokens tab, checks
 * the one-time copy view (and the clipboard when hydrated), closes it, and
 * returns the secret.
 */
async function createInDialog(page: Page, context: BrowserContext, info: TestInfo, name: string, adminLabel: string) {
  await page.getByRole('link', { name: 'Create a new access token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create a new access token' });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByLabel('Expires').selectOption('7d');
  await dialog.getByLabel(adminLabel).check();
  // These integrations read the organization's members.
  await dialog.getByLabel(/orgs:read/).check();
  await checkA11y(page, jsEnabled(info));
  await dialog.getByRole('button', { name: 'Create token' }).click();

  await expect(page.getByRole('heading', { name: 'Copy your new access token' })).toBeVisible();
  await expect(page.getByText('This is the only time it is shown.')).toBeVisible();
  const secret = await page.getByLabel('Access token', { exact: true }).inputValue();
  if (jsEnabled(info)) {
    await hydrated(page, info);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.getByRole('button', { name: 'Copy' }).click();
    await expect(page.getByText('Copied to the clipboard.')).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  } else {
    // Nothing to press without JavaScript: the secret is there to select.
    await expect(page.getByRole('button', { name: 'Copy' })).toHaveCount(0);
  }
  await page.getByRole('link', { name: 'Done, I have copied it' }).click();
  await hydrated(page, info);
  return secret;
}

/** Revoke → 401, Reactivate → 200, Delete (confirmed) → gone and 401. */
async function statusButtons(page: Page, request: APIRequestContext, name: string, call: () => Promise<number>) {
  const row = () => page.getByRole('row', { name: new RegExp(name) });
  await expect(row().getByText('Active', { exact: true })).toBeVisible();
  await row().getByRole('button', { name: /^Revoke/ }).click();
  await expect(row().getByText('Revoked', { exact: true })).toBeVisible();
  expect(await call()).toBe(401);
  await row().getByRole('button', { name: /^Reactivate/ }).click();
  await expect(row().getByText('Active', { exact: true })).toBeVisible();
  expect(await call()).toBe(200);
  await row().locator('summary', { hasText: 'Delete' }).click();
  await row().getByRole('button', { name: `Delete token “${name}”` }).click();
  await expect(row()).toHaveCount(0);
  expect(await call()).toBe(401);
  void request;
}

// Known defect: pages under the organization layout (Members included, and
// already before these tabs existed) intermittently fail to hydrate — Leptos
// reports a hydration mismatch and the WASM stops — so with JavaScript on the
// dialog may never open. The no-JS run covers these flows until that is fixed.
test('an organization admin runs an organization token from creation to deletion', async ({ page, context, request }, info) => {
  const run = info.project.name;
  const slug = `tok-org-${run}`;
  const admin = `org-admin-${run}@example.com`;
  createUser(admin, `Org Admin ${run}`);
  createOrg(`Token Org ${run}`, slug, admin);
  await signIn(page, info, admin, PASSWORD);

  await open(page, `/orgs/${slug}/tokens`, info);
  await expect(page.getByText('This organization has no access tokens yet.')).toBeVisible();
  await checkA11y(page, jsEnabled(info));
  const name = `exporter ${run}`;
  const secret = await createInDialog(page, context, info, name, 'Assign the organization admin role');
  expect(secret).toMatch(/^lko_[0-9A-Za-z]{38}$/);
  expect(await page.content()).not.toContain(secret);

  const row = page.getByRole('row', { name: new RegExp(name) });
  await expect(row.getByText('Organization admin', { exact: true })).toBeVisible();
  await expect(row.getByText(`Org Admin ${run}`)).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // The integration lists the organization's members with it.
  const members = () =>
    request.get(`/api/v1/orgs/${slug}/members`, { headers: { Authorization: `Bearer ${secret}` } });
  const listed = await members();
  expect(listed.status()).toBe(200);
  const people = await listed.json();
  expect(people.map((m: { email: string | null }) => m.email)).toContain(admin);
  expect(people.some((m: { technical: boolean; display_name: string }) => m.technical && m.display_name === name)).toBe(true);

  await statusButtons(page, request, name, async () => (await members()).status());

  // The audit and settings tabs.
  await open(page, `/orgs/${slug}/audit`, info);
  await expect(page.getByText(new RegExp(`deleted the organization token .${name}.`))).toBeVisible();
  await checkA11y(page, jsEnabled(info));
  await open(page, `/orgs/${slug}/settings`, info);
  await expect(page.getByLabel('Allow organization access tokens')).toBeChecked();
  await checkA11y(page, jsEnabled(info));
});

test('a group admin runs a group token on the group tab', async ({ page, context, request }, info) => {
  const run = info.project.name;
  const slug = `tok-grp-${run}`;
  const admin = `grp-owner-${run}@example.com`;
  const groupAdmin = `grp-admin-${run}@example.com`;
  createUser(admin, `Owner ${run}`);
  createUser(groupAdmin, `Group Admin ${run}`);
  createOrg(`Group Token Org ${run}`, slug, admin);
  await signIn(page, info, admin, PASSWORD);
  await rpc(page, 'add_org_member', { org: slug, email: groupAdmin, role: 'user' });
  await rpc(page, 'create_group', { org: slug, name: 'Platform', slug: 'platform' });
  await rpc(page, 'add_group_member', { org: slug, group: 'platform', email: groupAdmin, role: 'admin' });
  await context.clearCookies();

  await signIn(page, info, groupAdmin, PASSWORD);
  await open(page, `/orgs/${slug}/groups/platform`, info);
  await page.getByRole('link', { name: 'Access Tokens' }).click();
  await expect(page.getByRole('heading', { name: 'Group access tokens' })).toBeVisible();
  await hydrated(page, info);
  await checkA11y(page, jsEnabled(info));
  const name = `group bot ${run}`;
  const secret = await createInDialog(page, context, info, name, 'Assign the group admin role');
  expect(secret).toMatch(/^lkg_[0-9A-Za-z]{38}$/);
  expect(await page.content()).not.toContain(secret);
  await expect(page.getByRole('row', { name: new RegExp(name) }).getByText('Group admin', { exact: true })).toBeVisible();

  const groupMembers = () =>
    request.get(`/api/v1/orgs/${slug}/groups/platform/members`, { headers: { Authorization: `Bearer ${secret}` } });
  expect((await groupMembers()).status()).toBe(200);
  // A group token does not reach the organization's member list.
  const orgMembers = await request.get(`/api/v1/orgs/${slug}/members`, { headers: { Authorization: `Bearer ${secret}` } });
  expect(orgMembers.status()).toBe(403);

  await statusButtons(page, request, name, async () => (await groupMembers()).status());
});

test('a plain member sees neither token tab and is refused by the server function', async ({ page }, info) => {
  const run = info.project.name;
  const slug = `tok-plain-${run}`;
  const admin = `plain-owner-${run}@example.com`;
  const member = `plain-${run}@example.com`;
  createUser(admin, `Plain Owner ${run}`);
  createUser(member, `Plain Member ${run}`);
  createOrg(`Plain Org ${run}`, slug, admin);
  await signIn(page, info, admin, PASSWORD);
  await rpc(page, 'add_org_member', { org: slug, email: member, role: 'user' });
  await rpc(page, 'create_group', { org: slug, name: 'Platform', slug: 'platform' });
  await rpc(page, 'add_group_member', { org: slug, group: 'platform', email: member, role: 'user' });
  await page.context().clearCookies();

  await signIn(page, info, member, PASSWORD);
  await open(page, `/orgs/${slug}`, info);
  await expect(page.getByRole('link', { name: 'Members' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Access Tokens' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Settings' })).toHaveCount(0);
  await open(page, `/orgs/${slug}/groups/platform`, info);
  await expect(page.getByRole('link', { name: 'Access Tokens' })).toHaveCount(0);
  await open(page, `/orgs/${slug}/tokens`, info);
  await expect(page.getByText('You do not have permission to do that.')).toBeVisible();

  for (const group of ['', 'platform']) {
    const res = await page.request.post('/rpc/create_token', {
      form: { org: slug, group, name: 'sneaky', expiry: '7d', admin: 'on' },
    });
    expect(res.status()).toBe(403);
    expect(await res.text()).not.toMatch(/lk[pog]_/);
  }
});
