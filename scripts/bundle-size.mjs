// The bytes a browser downloads on a first visit: the app's JavaScript and
// WASM (the stylesheet aside) as the release build ships them. Where
// `scripts/precompress.mjs` wrote compressed copies (brotli quality 11, gzip
// level 9), those are what the server sends and what is counted; otherwise
// each file is compressed here the same way. The hash file (cargo-leptos writes it beside
// the server binary) names this build's files among any older ones in the
// directory. Fails when brotli exceeds the budget.
//   node scripts/bundle-size.mjs <site pkg dir> <hash file> [budget in bytes]
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const [dir, hashFile, budgetArg] = process.argv.slice(2);
if (!dir || !hashFile) {
  console.error('usage: node scripts/bundle-size.mjs <site pkg dir> <hash file> [budget in bytes]');
  process.exit(2);
}
const budget = Number(budgetArg ?? Infinity);
const hashes = Object.fromEntries(
  readFileSync(hashFile, 'utf8')
    .split('\n')
    .map((line) => line.split(':').map((part) => part.trim()))
    .filter(([kind, hash]) => kind && hash),
);

let raw = 0;
let brotli = 0;
let gzip = 0;
for (const kind of ['js', 'wasm']) {
  const name = `latchkey.${hashes[kind]}.${kind}`;
  if (!hashes[kind] || !existsSync(join(dir, name))) {
    console.error(`${hashFile} names no ${kind} file in ${dir}: build with \`cargo leptos build --release\` first`);
    process.exit(1);
  }
  const bytes = readFileSync(join(dir, name));
  const shipped = (suffix) => existsSync(join(dir, name + suffix)) && statSync(join(dir, name + suffix)).size;
  const br = shipped('.br') || brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  const gz = shipped('.gz') || gzipSync(bytes, { level: 9 }).length;
  const source = shipped('.br') && shipped('.gz') ? 'as shipped' : 'compressed here';
  console.log(`${name}: ${bytes.length} bytes, ${br} brotli, ${gz} gzip (${source})`);
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
