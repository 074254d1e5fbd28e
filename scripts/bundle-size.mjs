// The bytes a browser downloads on a first visit: the app's JavaScript and
// WASM (the stylesheet aside), as sent with brotli (quality 11, as a
// precompressing build would) and gzip. Fails when brotli exceeds the budget.
//   node scripts/bundle-size.mjs <dir with the built files> [budget in bytes]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const [dir, budgetArg] = process.argv.slice(2);
const budget = Number(budgetArg ?? Infinity);
let raw = 0;
let brotli = 0;
let gzip = 0;
for (const name of readdirSync(dir)) {
  if (!/\.(js|wasm)$/.test(name)) continue;
  const bytes = readFileSync(join(dir, name));
  const br = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  const gz = gzipSync(bytes, { level: 9 }).length;
  console.log(`${name}: ${bytes.length} bytes, ${br} brotli, ${gz} gzip`);
  raw += bytes.length;
  brotli += br;
  gzip += gz;
}
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`first load (JS + WASM): ${kb(raw)} raw, ${kb(brotli)} brotli, ${kb(gzip)} gzip`);
if (brotli > budget) {
  console.error(`over the budget of ${kb(budget)} brotli by ${kb(brotli - budget)}`);
  process.exit(1);
}
