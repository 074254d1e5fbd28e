import { expect } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { checkA11y, createOrg, createUser, hydrated, jsEnabled, open, PASSWORD, signIn, test } from './helpers';

const base64url = (bytes: Buffer) => bytes.toString('base64url');

test('a person registers an app, authorizes it on the consent page, sees it under Apps and Connections, and revokes it', async ({ page, request, baseURL }, info) => {
  const run = info.project.name;
  const email = `oauth-${run}@example.com`;
  createUser(email, `OAuth ${run}`);
  await signIn(page, info, email, PASSWORD);

  // Profile → Developer applications: register a confidential app.
  await open(page, '/profile/apps', info);
  await expect(page.getByRole('heading', { name: 'Developer applications', level: 2 })).toBeVisible();
  const name = `Dashboard ${run}`;
  const redirect = `${baseURL}/oauth-callback-${run}`;
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Redirect URIs').fill('http://example.com/not-https');
  await page.getByLabel(/^identity:read/).check();
  await page.getByRole('button', { name: 'Register application' }).click();
  // A refused form says why and keeps what was typed.
  await expect(page.getByText(/plain http is allowed only for 127\.0\.0\.1/)).toBeVisible();
  await expect(page.getByLabel('Name')).toHaveValue(name);
  await page.getByLabel('Redirect URIs').fill(redirect);
  await page.getByLabel(/^identity:read/).check();
  await checkA11y(page, jsEnabled(info));
  await page.getByRole('button', { name: 'Register application' }).click();
  await expect(page.getByRole('heading', { name: `${name} is ready` })).toBeVisible();
  const clientId = await page.getByLabel('Client ID').inputValue();
  const secret = await page.getByLabel('Client secret').inputValue();
  expect(secret).toMatch(/^lks_/);
  await checkA11y(page, jsEnabled(info));
  await page.getByRole('link', { name: 'Done' }).click();
  await expect(page.getByRole('heading', { name, level: 3 })).toBeVisible();
  await expect(page.getByText(secret)).toHaveCount(0);

  // The app sends the person to the authorization endpoint (PKCE, S256).
  const verifier = base64url(randomBytes(32));
  const challenge = base64url(createHash('sha256').update(verifier).digest());
  const state = base64url(randomBytes(12));
  const authorize = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirect, scope: 'identity:read',
    state, code_challenge: challenge, code_challenge_method: 'S256',
  });
  await page.goto(`/oauth/authorize?${authorize}`);
  await expect(page.getByRole('heading', { name: `Authorize ${name}` })).toBeVisible();
  await expect(page.getByText('See who the token acts as')).toBeVisible();
  await checkA11y(page, jsEnabled(info));
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.waitForURL((url) => url.pathname === `/oauth-callback-${run}`);
  const back = new URL(page.url()).searchParams;
  expect(back.get('state')).toBe(state);
  expect(back.get('iss')).toBe(baseURL);
  const exchanged = await request.post('/oauth/token', {
    headers: { Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` },
    form: { grant_type: 'authorization_code', code: back.get('code')!, redirect_uri: redirect, code_verifier: verifier },
  });
  expect(exchanged.status()).toBe(200);
  const tokens = await exchanged.json();
  const whoami = () => request.get('/api/v1/whoami', { headers: { Authorization: `Bearer ${tokens.access_token}` } });
  expect((await whoami()).status()).toBe(200);

  // Profile → Apps and Connections lists it; revoking ends its token.
  await open(page, '/profile/connections', info);
  const row = page.getByRole('row', { name: new RegExp(name) });
  await expect(row).toContainText('identity:read');
  await expect(row).toContainText('All your organizations');
  await checkA11y(page, jsEnabled(info));
  await row.getByText('Revoke access').first().click();
  await row.getByRole('button', { name: `Revoke access of ${name}` }).click();
  await expect(page.getByText('You have not authorized any application.')).toBeVisible();
  expect((await whoami()).status()).toBe(401);
  await hydrated(page, info);
});

test('a signed-out person signs in on the way to consent and can deny', async ({ page, baseURL }, info) => {
  const run = info.project.name;
  const owner = `oauth-owner-${run}@example.com`;
  const person = `oauth-visitor-${run}@example.com`;
  createUser(owner, `Owner ${run}`);
  createUser(person, `Visitor ${run}`);
  await signIn(page, info, owner, PASSWORD);
  const redirect = `${baseURL}/oauth-denied-${run}`;
  const registered = await page.request.post('/rpc/register_app', {
    form: { name: `Reader ${run}`, redirect_uris: redirect, client_type: 'public', 'scopes[]': 'identity:read' },
  });
  expect(registered.status()).toBe(200);
  const { client_id: clientId } = await registered.json();
  await page.context().clearCookies();

  const challenge = base64url(createHash('sha256').update(base64url(randomBytes(32))).digest());
  const authorize = new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirect, state: 'xyz',
    code_challenge: challenge, code_challenge_method: 'S256',
  });
  await page.goto(`/oauth/authorize?${authorize}`);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await hydrated(page, info);
  await page.getByLabel('Email').fill(person);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: `Authorize Reader ${run}` })).toBeVisible();
  await expect(page.getByText(`registered by Owner ${run}`)).toBeVisible();
  await page.getByRole('button', { name: 'Deny' }).click();
  await page.waitForURL((url) => url.pathname === `/oauth-denied-${run}`);
  const back = new URL(page.url()).searchParams;
  expect(back.get('error')).toBe('access_denied');
  expect(back.get('state')).toBe('xyz');
});

test('organization admins register apps for the organization and instance admins choose resource servers', async ({ page }, info) => {
  const run = info.project.name;
  const admin = `org-apps-${run}@example.com`;
  const slug = `apps-${run}`;
  createUser(admin, `Org Apps ${run}`);
  createOrg(`Apps Org ${run}`, slug, admin);
  await signIn(page, info, admin, PASSWORD);
  await open(page, `/orgs/${slug}/apps`, info);
  await expect(page.getByRole('heading', { name: 'Applications acting here' })).toBeVisible();
  await expect(page.getByText('No application acts in this organization.')).toBeVisible();
  const name = `Org Service ${run}`;
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Redirect URIs').fill('https://service.example.com/callback');
  await page.getByLabel(/^identity:read/).check();
  await checkA11y(page, jsEnabled(info));
  await page.getByRole('button', { name: 'Register application' }).click();
  await expect(page.getByRole('heading', { name: `${name} is ready` })).toBeVisible();
  await page.getByRole('link', { name: 'Done' }).click();
  await expect(page).toHaveURL(new RegExp(`/orgs/${slug}/apps$`));
  await expect(page.getByRole('heading', { name, level: 3 })).toBeVisible();

  // Edited in place; a mistake comes back with what was typed.
  const card = page.getByRole('article', { name });
  await card.getByText('Edit').first().click();
  const renamed = `${name} v2`;
  await card.getByLabel('Name').fill(renamed);
  await card.getByLabel('Redirect URIs').fill('http://service.example.com/callback');
  await card.getByRole('button', { name: 'Save changes' }).click();
  const again = page.getByRole('article', { name });
  await expect(again.getByText(/plain http is allowed only/)).toBeVisible();
  await expect(again.getByLabel('Name')).toHaveValue(renamed);
  await again.getByLabel('Redirect URIs').fill('https://service.example.com/callback');
  await again.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('heading', { name: renamed, level: 3 })).toBeVisible();
  await page.context().clearCookies();

  // The instance admin lets it introspect tokens.
  await signIn(page, info);
  await open(page, '/admin/apps', info);
  const row = page.getByRole('row', { name: new RegExp(renamed) });
  await expect(row).toContainText(`Apps Org ${run}`);
  await checkA11y(page, jsEnabled(info));
  await row.getByRole('button', { name: `Let ${renamed} introspect` }).click();
  await expect(page.getByRole('row', { name: new RegExp(renamed) }).getByRole('button', { name: `Stop ${renamed} introspecting` })).toBeVisible();
});
