// The bytes a browser downloads on a first visit: the app's JavaScript and
// WASM (the stylesheet aside), as sent with brotli (quality 11, as a
// precompressing build would) and gzip.
//
// The build is split (`cargo leptos build --release --split`): every page
// loads the main module, its script and the split loader, then the modules
// of the area it belongs to (src/pages/areas.rs), as the split manifest
// lists them. Prints each area's first load and fails when any is above the
// budget. The hash file (cargo-leptos writes it beside the server binary)
// names this build's files among any others in the directory.
//   node scripts/bundle-size.mjs <site pkg dir> <hash file> [budget in bytes]
import { existsSync, readFileSync } from 'node:fs';
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
    .filter(([name, hash]) => name && hash),
);

const sizes = new Map();
function size(name) {
  if (!sizes.has(name)) {
    const bytes = readFileSync(join(dir, name));
    sizes.set(name, {
      raw: bytes.length,
      brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
      gzip: gzipSync(bytes, { level: 9 }).length,
    });
  }
  return sizes.get(name);
}

function built(name, what) {
  if (!existsSync(join(dir, name))) {
    console.error(`the ${what} ${name} is not in ${dir}: is this a --split build?`);
    process.exit(1);
  }
  return name;
}

const shell = [
  built(`latchkey.${hashes.js}.js`, 'main script'),
  built(`latchkey.${hashes.wasm}.wasm`, 'main module'),
  built(`__wasm_split.${hashes.split}.js`, 'split loader'),
];
const manifest = JSON.parse(
  readFileSync(join(dir, built(`__wasm_split_manifest.${hashes.manifest}.json`, 'split manifest')), 'utf8'),
);

// The manifest is keyed by each lazy function's name and a hash of where it
// is declared; its value lists the module stems that function needs.
const areas = new Map();
for (const [key, stems] of Object.entries(manifest)) {
  const area = key.match(/^(.*_area)_\d+$/)?.[1];
  if (!area) continue;
  areas.set(area, stems.map((stem) => built(`${stem}.wasm`, 'module')));
}
if (areas.size === 0) {
  console.error(`no area in the split manifest: is this a --split build?`);
  process.exit(1);
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const total = (names) =>
  names.reduce((sum, name) => {
    const s = size(name);
    return { raw: sum.raw + s.raw, brotli: sum.brotli + s.brotli, gzip: sum.gzip + s.gzip };
  }, { raw: 0, brotli: 0, gzip: 0 });

const shellSize = total(shell);
console.log(`shell (${shell.join(', ')}): ${kb(shellSize.raw)} raw, ${kb(shellSize.brotli)} brotli`);
let worst = 0;
for (const [area, modules] of [...areas].sort()) {
  const load = total([...shell, ...modules]);
  worst = Math.max(worst, load.brotli);
  console.log(
    `first load in ${area}: ${shell.length + modules.length} files, ` +
      `${kb(load.raw)} raw, ${kb(load.brotli)} brotli, ${kb(load.gzip)} gzip`,
  );
}
const everything = total([...new Set([...shell, ...[...areas.values()].flat()])]);
console.log(`every script and module together: ${kb(everything.raw)} raw, ${kb(everything.brotli)} brotli`);
if (worst > budget) {
  console.error(`a first load is over the budget of ${kb(budget)} brotli by ${kb(worst - budget)}`);
  process.exit(1);
}
