// Writes brotli (quality 11) and gzip (level 9) copies beside each script,
// WASM module and stylesheet of a built site, which the server then sends as
// they are instead of compressing per request at a lower quality. Slow once
// (seconds), small forever: the WASM is about 15 % smaller than brotli at the
// server's on-the-fly quality.
//   node scripts/precompress.mjs <site pkg dir>
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const [dir] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node scripts/precompress.mjs <site pkg dir>');
  process.exit(2);
}
for (const name of readdirSync(dir)) {
  if (!/\.(js|wasm|css)$/.test(name)) continue;
  const bytes = readFileSync(join(dir, name));
  const brotli = brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
  writeFileSync(join(dir, `${name}.br`), brotli);
  writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes, { level: 9 }));
  console.log(`${name}: ${bytes.length} bytes, ${brotli.length} brotli`);
}
