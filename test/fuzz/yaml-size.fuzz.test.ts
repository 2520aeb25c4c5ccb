/**
 * Fuzz: the YAML size cap (src/config/yaml-limits.ts). Config, policy and ceremony documents over
 * MAX_YAML_BYTES are refused with HSM_ERR_INVALID_INPUT before parsing, so the heap does not grow
 * with them; documents at the cap parse within a bound; alias expansion is capped in all three.
 * Before the cap a 500 KB flow list cost the config loader about 440 MiB.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseCeremonyScript } from '../../src/ceremony/script-loader.js';
import { parseConfig } from '../../src/config/index.js';
import { MAX_YAML_ALIASES, MAX_YAML_BYTES } from '../../src/config/yaml-limits.js';
import { HsmError } from '../../src/errors/index.js';
import { parsePolicyDocument } from '../../src/policy/policy-document.js';
import { Bounds, checkCorpus, describeInput, fuzzParams, typedOutcome } from './support/harness.js';

const CEREMONY = readFileSync(
  fileURLToPath(new URL('../../examples/ceremonies/root-ca-3-of-5.yaml', import.meta.url)),
);

/** The three YAML parsers and the codes each may answer besides the size refusal. */
const PARSERS = [
  {
    name: 'config',
    parse: (text: string) => parseConfig(text, { env: {}, baseDir: '/etc/hsmkit' }),
    codes: ['HSM_ERR_CONFIG', 'HSM_ERR_INVALID_INPUT'] as const,
  },
  {
    name: 'policy',
    parse: (text: string) => parsePolicyDocument(text),
    codes: ['HSM_ERR_INVALID_INPUT'] as const,
  },
  {
    name: 'ceremony',
    parse: (text: string) => parseCeremonyScript(Buffer.from(text), '/tmp'),
    codes: ['HSM_ERR_CEREMONY_SCRIPT', 'HSM_ERR_INVALID_INPUT'] as const,
  },
];

/** A dense flow list (the parser's most expensive shape per byte) of exactly `bytes` bytes. */
function flowList(bytes: number): string {
  const prefix = 'x: [';
  const items = Math.max(0, Math.floor((bytes - prefix.length - 3) / 2));
  const text = `${prefix}${'1,'.repeat(items)}1]\n`;
  return text + ' '.repeat(Math.max(0, bytes - text.length));
}

/** Heap bound for a document at the cap: ~0.5 MiB per KiB measured, with room for a busy GC. */
const AT_CAP_PEAK = 160 * 1024 * 1024;
/** Heap bound for a refused document: the text itself and little else. */
const REFUSED_PEAK = 48 * 1024 * 1024;

describe('fuzz: YAML size cap', () => {
  for (const p of PARSERS) {
    describe(p.name, () => {
      it(`one byte over ${MAX_YAML_BYTES} is HSM_ERR_INVALID_INPUT before parsing, even when 40× over`, () => {
        for (const size of [MAX_YAML_BYTES + 1, 2 * MAX_YAML_BYTES, 40 * MAX_YAML_BYTES]) {
          const text = flowList(size);
          assert.equal(Buffer.byteLength(text), size);
          const bounds = new Bounds(`${p.name}(${size} B)`, { runMs: 500, peakBytes: REFUSED_PEAK });
          const out = bounds.run(() =>
            typedOutcome(
              () => p.parse(text),
              p.codes,
              () => describeInput(text),
            ),
          );
          bounds.finish();
          assert.equal(out.ok, false);
          assert.ok(!out.ok && out.error.code === 'HSM_ERR_INVALID_INPUT', !out.ok ? out.error.message : '');
          assert.ok(!out.ok && out.error.details?.limit === MAX_YAML_BYTES);
          assert.ok(!out.ok && !out.error.message.includes('1,1,1'), 'the document is not quoted');
        }
      });

      it('a dense document exactly at the cap parses (or is refused by the schema) within a heap bound', () => {
        const text = flowList(MAX_YAML_BYTES);
        const bounds = new Bounds(`${p.name}(at cap)`, { runMs: 15_000, peakBytes: AT_CAP_PEAK });
        const out = bounds.run(() =>
          typedOutcome(
            () => p.parse(text),
            p.codes,
            () => describeInput(text),
          ),
        );
        const stats = bounds.finish();
        // Over the size check: whatever it answers, it is not the size refusal.
        assert.ok(out.ok || out.error.details?.limit === undefined);
        console.log(`${p.name} at ${MAX_YAML_BYTES} B`, JSON.stringify(stats));
      });

      it(`more than ${MAX_YAML_ALIASES} alias expansions are refused with a code`, () => {
        // 2^12 expansions from a 20-line document.
        let text = 'a0: &a0 [x, x]\n';
        for (let i = 1; i <= 12; i++) text += `a${i}: &a${i} [*a${i - 1}, *a${i - 1}]\n`;
        const out = typedOutcome(
          () => p.parse(text),
          p.codes,
          () => describeInput(text),
        );
        assert.equal(out.ok, false);
      });
    });
  }

  it('random sizes up to 4× the cap: refused exactly when over it, heap bounded across 1,000 runs', () => {
    const bounds = new Bounds('yaml size property', { runMs: 15_000, peakBytes: AT_CAP_PEAK });
    fc.assert(
      fc.property(
        fc.constantFrom(...PARSERS),
        // Mostly near the cap (where an off-by-one would show), some far over it.
        fc.oneof(
          fc.integer({ min: MAX_YAML_BYTES - 64, max: MAX_YAML_BYTES + 64 }),
          fc.integer({ min: MAX_YAML_BYTES + 1, max: 4 * MAX_YAML_BYTES }),
        ),
        fc.constantFrom('flow', 'scalar', 'multibyte'),
        (p, size, shape) => {
          // Small documents near the cap are only parsed by a cheap shape, so 1,000 runs stay fast.
          const text =
            shape === 'flow' && size > MAX_YAML_BYTES
              ? flowList(size)
              : shape === 'multibyte'
                ? `x: "${'é'.repeat(Math.floor((size - 7) / 2))}"\n`
                : `x: "${'A'.repeat(Math.max(0, size - 7))}"\n`;
          const bytes = Buffer.byteLength(text);
          const out = bounds.run(() =>
            typedOutcome(
              () => p.parse(text),
              p.codes,
              () => describeInput(text),
            ),
          );
          const sizeRefused = !out.ok && out.error.details?.limit === MAX_YAML_BYTES;
          assert.equal(sizeRefused, bytes > MAX_YAML_BYTES, `${p.name} ${bytes} B`);
        },
      ),
      fuzzParams(),
    );
    console.log('yaml size property', JSON.stringify(bounds.finish()));
  });

  it('the ceremony example is far below the cap (the cap leaves real documents room)', () => {
    assert.ok(CEREMONY.length * 10 < MAX_YAML_BYTES);
    assert.doesNotThrow(() => parseCeremonyScript(CEREMONY, '/tmp'));
  });

  it('committed corpus: the oversized documents are refused with HSM_ERR_INVALID_INPUT', async () => {
    for (const p of PARSERS) {
      await checkCorpus(`yaml-size/${p.name}`, (file) => {
        try {
          p.parse(file.bytes.toString('utf8'));
          return true;
        } catch (err) {
          assert.ok(HsmError.is(err, 'HSM_ERR_INVALID_INPUT'), String(err));
          return false;
        }
      });
    }
  });
});
