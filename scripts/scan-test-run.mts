/**
 * The secrets scan of a full test run (issue 11): `node --import tsx scripts/scan-test-run.mts RUN_DIR`
 * after scripts/test.sh ran every test with its output in RUN_DIR/test.log, its temp files under
 * RUN_DIR/tmp (TMPDIR), and every test PIN recorded in RUN_DIR/pins (test/support/test-pins.ts).
 *
 * Searched: the whole output and every file left under the temp dir (stores, logs, token dirs,
 * configs), for each recorded PIN (UTF-8) and for anything in the test PIN scheme in UTF-8,
 * UTF-16LE, hex (either case) and base64 (any alignment, also base64url). A file whose whole content
 * is one recorded PIN is a PIN file — where a PIN belongs — and is skipped (counted). Hits are
 * printed as file and encoding, never the PIN. The PIN record is deleted afterwards. Exit 1 on any
 * hit, 2 when the run directory is incomplete.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const dir = process.argv[2];
if (!dir || !existsSync(join(dir, 'test.log'))) {
  process.stderr.write('usage: scan-test-run.mts RUN_DIR (with test.log, pins, tmp/)\n');
  process.exit(2);
}
const pinFile = join(dir, 'pins');
const pins = existsSync(pinFile)
  ? [
      ...new Set(
        readFileSync(pinFile, 'utf8')
          .split('\n')
          .filter((l) => l !== ''),
      ),
    ]
  : [];
rmSync(pinFile, { force: true });

const SCHEME = /tpin-[0-9a-f]{16}/;
const SCHEME_UTF16 = /t\0p\0i\0n\0-\0(?:[0-9a-f]\0){16}/;
const SCHEME_HEX = /7470696e2d(?:3[0-9]|6[1-6]){16}/i;
const BASE64_RUN = /[A-Za-z0-9+/_-]{28,}/g;

/** The encodings in which `bytes` holds a test PIN (empty: none). */
function findings(bytes: Buffer): string[] {
  const out: string[] = [];
  const latin1 = bytes.toString('latin1');
  for (const pin of pins) {
    if (bytes.includes(pin)) {
      out.push('utf8 (recorded PIN)');
      break;
    }
  }
  if (SCHEME.test(latin1)) out.push('utf8');
  if (SCHEME_UTF16.test(latin1)) out.push('utf16le');
  if (SCHEME_HEX.test(latin1)) out.push('hex');
  for (const m of latin1.matchAll(BASE64_RUN)) {
    const run = m[0];
    // Every alignment: a PIN may start at any byte of the encoded data.
    for (let skip = 0; skip < 4; skip++) {
      const decoded = Buffer.from(
        run.slice(skip),
        run.includes('-') || run.includes('_') ? 'base64url' : 'base64',
      );
      if (SCHEME.test(decoded.toString('latin1'))) {
        out.push('base64');
        break;
      }
    }
    if (out.includes('base64')) break;
  }
  return out;
}

function walk(d: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      continue; // a socket or a file removed meanwhile
    }
    if (st.isDirectory()) files.push(...walk(p));
    else if (st.isFile()) files.push(p);
  }
  return files;
}

const pinSet = new Set(pins);
const hits: string[] = [];
let scanned = 0;
let pinFiles = 0;
let bytesScanned = 0;
const targets = [join(dir, 'test.log'), ...(existsSync(join(dir, 'tmp')) ? walk(join(dir, 'tmp')) : [])];
for (const file of targets) {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    continue;
  }
  if (pinSet.has(bytes.toString('utf8').trim())) {
    pinFiles++;
    continue;
  }
  scanned++;
  bytesScanned += bytes.length;
  for (const enc of findings(bytes)) hits.push(`${relative(dir, file)}: a test PIN (${enc})`);
}

for (const h of hits) process.stdout.write(`${h}\n`);
process.stdout.write(
  `scan-test-run: ${pins.length} recorded PINs; ${scanned} files (${(bytesScanned / 1048576).toFixed(1)} MiB) scanned, ` +
    `${pinFiles} PIN files skipped; ${hits.length} hit(s)\n`,
);
process.exit(hits.length > 0 ? 1 : 0);
