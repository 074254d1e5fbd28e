import { expect } from '@playwright/test';
import { checkA11y, createOrg, createUser, hydrated, jsEnabled, open, PASSWORD, rpc, signIn, test } from './helpers';

test('a person creates a scoped token that acts in one organization from allowed addresses, and uses it', async ({ page, request }, info) => {
  const run = info.project.name;
  const email = `scoped-${run}@example.com`;
  createUser(email, `Scoped ${run}`);
  const [red, blue] = [`red-${run}`, `blue-${run}`];
  createOrg(`Red ${run}`, red, email);
  createOrg(`Blue ${run}`, blue, email);
  await signIn(page, info, email, PASSWORD);
  await open(page, '/profile/tokens', info);
  await hydrated(page, info);

  await page.getByRole('link', { name: 'Create a new access token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create a new access token' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('group', { name: 'Scopes' })).toBeVisible();
  await checkA11y(page, jsEnabled(info));
  await dialog.getByLabel('Name').fill(`red reader ${run}`);
  // identity:read is ticked by default; add orgs:read.
  await expect(dialog.getByLabel(/identity:read/)).toBeChecked();
  await dialog.getByLabel(/orgs:read/).check();
  await dialog.getByLabel('Only these:').check();
  await dialog.getByLabel(`Red ${run}`).check();
  // A mistake in the allowlist comes back with everything still chosen.
  await dialog.getByLabel('Allowed addresses').fill('127.0.0.1\nnot-an-address');
  await dialog.getByRole('button', { name: 'Create token' }).click();
  const again = page.getByRole('dialog', { name: 'Create a new access token' });
  await expect(again.getByText(/not-an-address.* is not an IPv4 or IPv6 address/)).toBeVisible();
  await expect(again.getByLabel(/orgs:read/)).toBeChecked();
  await expect(again.getByLabel('Only these:')).toBeChecked();
  await expect(again.getByLabel(`Red ${run}`)).toBeChecked();
  await expect(again.getByLabel('Name')).toHaveValue(`red reader ${run}`);
  await again.getByLabel('Allowed addresses').fill('127.0.0.1\n::1');
  await again.getByRole('button', { name: 'Create token' }).click();

  await expect(page.getByRole('heading', { name: 'Copy your new access token' })).toBeVisible();
  const secret = await page.getByLabel('Access token', { exact: true }).inputValue();
  const get = (path: string) => request.get(path, { headers: { Authorization: `Bearer ${secret}` } });

  // It acts in Red only, may read organizations, and nothing more.
  const me = await (await get('/api/v1/whoami')).json();
  expect(me.organizations.map((o: { slug: string }) => o.slug)).toEqual([red]);
  expect(me.token.scopes).toEqual(['identity:read', 'orgs:read']);
  expect((await get(`/api/v1/orgs/${red}/members`)).status()).toBe(200);
  expect((await get(`/api/v1/orgs/${blue}/members`)).status()).toBe(404);
  const rotate = await request.post('/api/v1/tokens/self/rotate', { headers: { Authorization: `Bearer ${secret}` } });
  expect(rotate.status()).toBe(403);
  expect(rotate.headers()['www-authenticate']).toContain('scope="self:rotate"');

  // The list shows what it may do.
  await page.getByRole('link', { name: 'Done, I have copied it' }).click();
  await hydrated(page, info);
  const row = page.getByRole('row', { name: new RegExp(`red reader ${run}`) });
  await expect(row.getByRole('list', { name: 'Scopes' })).toContainText('orgs:read');
  await expect(row.getByText(`Acts in ${red}`)).toBeVisible();
  await expect(row.getByText('Only from 127.0.0.1, ::1')).toBeVisible();
  await checkA11y(page, jsEnabled(info));
});

test('an instance admin defines a service scope that people can then give their tokens', async ({ page }, info) => {
  const run = info.project.name;
  await signIn(page, info);
  await open(page, '/admin/scopes', info);
  await expect(page.getByRole('heading', { name: 'Scopes', level: 1 })).toBeVisible();
  await hydrated(page, info);
  const name = `billing-${run}:read`;
  await page.getByLabel('Name').fill('Not Valid');
  await page.getByLabel('What it allows').fill('Read invoices');
  await page.getByRole('button', { name: 'Add scope' }).click();
  await expect(page.getByText(/Use lowercase letters/)).toBeVisible();
  await expect(page.getByLabel('What it allows')).toHaveValue('Read invoices');
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Add scope' }).click();
  await expect(page.getByRole('row', { name: new RegExp(name) })).toBeVisible();
  await checkA11y(page, jsEnabled(info));

  // Offered under Services in the create dialog.
  await open(page, '/profile/tokens?new', info);
  const dialog = page.getByRole('dialog', { name: 'Create a new access token' });
  await expect(dialog.getByLabel(new RegExp(name.replace('.', '\\.')))).toBeVisible();
});

test('an organization that approves personal tokens: a member asks, an admin approves, and only then the token acts there', async ({ page, context, request }, info) => {
  const run = info.project.name;
  const slug = `approving-${run}`;
  const admin = `approver-${run}@example.com`;
  const member = `asker-${run}@example.com`;
  createUser(admin, `Approver ${run}`);
  createUser(member, `Asker ${run}`);
  createOrg(`Approving ${run}`, slug, admin);

  // The admin turns approval on in the settings.
  await signIn(page, info, admin, PASSWORD);
  await rpc(page, 'add_org_member', { org: slug, email: member, role: 'user' });
  await open(page, `/orgs/${slug}/settings`, info);
  await page.getByLabel('Personal tokens need approval to act in this organization').check();
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Settings saved.')).toBeVisible();
  // Said once: the note does not outlive the page the form came back to.
  await open(page, `/orgs/${slug}/settings`, info);
  await expect(page.getByText('Settings saved.')).toHaveCount(0);
  await expect(page.getByLabel('Personal tokens need approval to act in this organization')).toBeChecked();
  await context.clearCookies();

  // The member makes a personal token; it waits for approval.
  await signIn(page, info, member, PASSWORD);
  await open(page, '/profile/tokens?new', info);
  const dialog = page.getByRole('dialog', { name: 'Create a new access token' });
  const name = `asking ${run}`;
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByLabel(/orgs:read/).check();
  await dialog.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByRole('heading', { name: 'Copy your new access token' })).toBeVisible();
  const secret = await page.getByLabel('Access token', { exact: true }).inputValue();
  const members = () => request.get(`/api/v1/orgs/${slug}/members`, { headers: { Authorization: `Bearer ${secret}` } });
  expect((await members()).status()).toBe(404);
  await open(page, '/profile/tokens', info);
  const row = page.getByRole('row', { name: new RegExp(name) });
  await expect(row.getByText(`Awaiting approval in ${slug}`)).toBeVisible();
  await checkA11y(page, jsEnabled(info));
  await context.clearCookies();

  // The admin sees the request on the tokens tab and approves it.
  await signIn(page, info, admin, PASSWORD);
  await open(page, `/orgs/${slug}/tokens`, info);
  const requests = page.getByRole('table', { name: 'Personal tokens awaiting approval' });
  const ask = requests.getByRole('row', { name: new RegExp(name) });
  await expect(ask).toContainText(`Asker ${run}`);
  await expect(ask).toContainText('orgs:read');
  await checkA11y(page, jsEnabled(info));
  await ask.getByRole('button', { name: `Approve ${name}` }).click();
  await expect(page.getByRole('table', { name: 'Personal tokens awaiting approval' })).toHaveCount(0);

  // Now the token acts in the organization, and its owner sees why.
  expect((await members()).status()).toBe(200);
  await context.clearCookies();
  await signIn(page, info, member, PASSWORD);
  await open(page, '/profile/tokens', info);
  await expect(page.getByRole('row', { name: new RegExp(name) }).getByText(`Approved in ${slug}`)).toBeVisible();
});
