/**
 * The vendor conformance suite: the same cases on five real PKCS#11 implementations, each started
 * here from scratch and stopped afterwards (only the processes this suite started, by pid):
 * SoftHSM2, the opencryptoki soft token, NSS softokn, tpm2-pkcs11 over swtpm + tpm2-abrmd, and
 * p11-kit-client → p11-kit server → SoftHSM. A case passes or is refused with exactly the code
 * the one expected-refusals table gives; nothing is skipped. The outcomes are rendered into
 * docs/vendors/matrix.md and docs/vendors/<vendor>.md, and the last tests check those equal the
 * committed copies (HSMKIT_UPDATE_VENDOR_DOCS=1 rewrites them).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { vendorProfile } from '../../../src/adapters/pkcs11/vendors/registry.js';
import type { Pkcs11CapabilityReport } from '../../../src/adapters/pkcs11/vendors/token-capabilities.js';
import { Secret } from '../../../src/config/secret.js';
import { HsmError } from '../../../src/errors/index.js';
import type { KeyInfo } from '../../../src/kms/key-info.js';
import type { KeyType } from '../../../src/kms/key-spec.js';
import type { LocalModule, LocalVendor } from '../../support/modules/local-module.js';
import { startNss } from '../../support/modules/nss.js';
import { startOpencryptoki } from '../../support/modules/opencryptoki.js';
import { startP11Kit } from '../../support/modules/p11kit.js';
import { startSoftHsm } from '../../support/modules/softhsm2.js';
import { startTpm2 } from '../../support/modules/tpm2.js';
import { CASES, type CaseContext } from './cases.js';
import { EXPECTED_REFUSALS } from './expected-refusals.js';
import { type Outcome, outcomeText, renderMatrix, renderVendorPage } from './matrix.js';

const MODULES: Array<{ vendor: LocalVendor; start: () => LocalModule | Promise<LocalModule> }> = [
  { vendor: 'softhsm2', start: () => startSoftHsm() },
  { vendor: 'opencryptoki', start: () => startOpencryptoki() },
  { vendor: 'nss', start: () => startNss() },
  { vendor: 'tpm2', start: () => startTpm2() },
  { vendor: 'p11-kit-remote', start: () => startP11Kit() },
];

const DOCS = new URL('../../../docs/vendors/', import.meta.url);
const results = new Map<string, Outcome>();
const seen: Array<{ vendor: LocalVendor; title: string; report: Pkcs11CapabilityReport }> = [];

/** Runs a case: pass, a refusal (an HsmError), or a failure (anything else, e.g. an assertion). */
async function outcomeOf(run: () => Promise<void>): Promise<Outcome> {
  try {
    await run();
    return { kind: 'pass' };
  } catch (err) {
    if (err instanceof HsmError) return { kind: 'refused', code: err.code };
    return { kind: 'fail', message: err instanceof Error ? err.message : String(err) };
  }
}

for (const spec of MODULES) {
  describe(`conformance on ${spec.vendor}`, () => {
    let mod: LocalModule;
    let dir: string;
    const extra: Pkcs11KeyManager[] = [];
    const ctx = { keys: new Map<KeyType, KeyInfo>() } as CaseContext;

    const openKm = (opts: { pin?: string; defaultPolicy?: boolean } = {}) =>
      Pkcs11KeyManager.open(
        mod.member({
          keygenTimeoutMs: 120_000,
          ...(opts.pin !== undefined ? { pin: new Secret(opts.pin, 'test') } : {}),
        }),
        // The suite knowingly accepts NSS's unenforced CKA_EXTRACTABLE so the other cases run there;
        // the non-exportable-default-policy case checks the default refuses it.
        opts.defaultPolicy ? {} : { allowUnenforcedNonExtractable: true },
      );

    before(async () => {
      mod = await spec.start();
      dir = mkdtempSync(join(tmpdir(), `hsmkit-conformance-${spec.vendor}-`));
      Object.assign(ctx, {
        module: mod,
        dir,
        km: await openKm(),
        reopen: async () => {
          await ctx.km.close();
          ctx.km = await openKm();
        },
        open: async (opts: { pin?: string; defaultPolicy?: boolean }) => {
          const km = await openKm(opts);
          extra.push(km);
          return km;
        },
      });
      const [report] = await ctx.km.capabilities();
      seen.push({ vendor: spec.vendor, title: mod.title, report: report! });
    });

    after(async () => {
      for (const km of extra) await km.close().catch(() => undefined);
      await ctx.km?.close().catch(() => undefined);
      await mod?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const c of CASES) {
      const expected = EXPECTED_REFUSALS[spec.vendor][c.id];
      const title = `${c.id}: ${expected ? `refused(${expected.code})` : 'pass'}`;
      it(title, async () => {
        const outcome = await outcomeOf(() => c.run(ctx));
        results.set(`${spec.vendor}/${c.id}`, outcome);
        if (outcome.kind === 'fail') assert.fail(`${c.title}: ${outcome.message}`);
        assert.equal(outcomeText(outcome), expected ? `refused(${expected.code})` : 'pass');
      });
    }
  });
}

describe('generated vendor documents', () => {
  const update = process.env.HSMKIT_UPDATE_VENDOR_DOCS === '1';

  function check(name: string, content: string): void {
    const url = new URL(name, DOCS);
    if (update) writeFileSync(url, content);
    const committed = existsSync(url) ? readFileSync(url, 'utf8') : '';
    assert.equal(
      committed,
      content,
      `docs/vendors/${name} differs from this run; review the change and regenerate with HSMKIT_UPDATE_VENDOR_DOCS=1`,
    );
  }

  it('docs/vendors/matrix.md equals the committed copy', () => {
    assert.equal(seen.length, MODULES.length, 'every module was started and reported its capabilities');
    check('matrix.md', renderMatrix(seen, CASES, results));
  });

  it('docs/vendors/<vendor>.md of each local module equals the committed copy', () => {
    for (const s of seen) {
      const profile = vendorProfile(s.vendor)!;
      check(`${s.vendor}.md`, renderVendorPage(s.vendor, s.title, profile, s.report, CASES, results));
    }
  });
});
