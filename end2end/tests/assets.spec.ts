import { expect } from '@playwright/test';
import { jsEnabled, open, test } from './helpers';

test('scripts, WASM and styles come compressed, under hashed names a browser keeps for a year', async ({ page, request }, info) => {
  test.skip(!jsEnabled(info), 'the same files either way');
  await open(page, '/sign-in', info);
  const html = await page.content();
  const assets = [...new Set([...html.matchAll(/\/pkg\/latchkey\.[A-Za-z0-9_-]{22}\.(?:js|wasm|css)/g)].map((m) => m[0]))];
  expect(assets.map((a) => a.split('.').pop()).sort()).toEqual(['css', 'js', 'wasm']);
  for (const asset of assets) {
    const brotli = await request.get(asset, { headers: { 'Accept-Encoding': 'br, gzip' } });
    expect(brotli.status(), asset).toBe(200);
    expect(brotli.headers()['content-encoding'], asset).toBe('br');
    expect(brotli.headers()['cache-control'], asset).toBe('public, max-age=31536000, immutable');
    expect(brotli.headers()['vary']?.toLowerCase(), asset).toContain('accept-encoding');
    const gzip = await request.get(asset, { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gzip.headers()['content-encoding'], asset).toBe('gzip');
  }
  // Pages are never compressed (they carry secrets beside what was typed)
  // nor kept.
  const pageResponse = await request.get('/sign-in', { headers: { 'Accept-Encoding': 'br, gzip' } });
  expect(pageResponse.headers()['content-encoding']).toBeUndefined();
  expect(pageResponse.headers()['cache-control']).toBe('private, no-store');
  // Not even the not-found page, which the file handler serves.
  const missing = await request.get('/no-such-page', { headers: { 'Accept-Encoding': 'br, gzip' } });
  expect(missing.status()).toBe(404);
  expect(missing.headers()['content-encoding']).toBeUndefined();
});
