/**
 * Fixture of the ceremony tests: a ceremony HSM (SoftHSM token + store + governance + PKI), and
 * custodians, each with a key pair on their own SoftHSM token (their "smart card"), registered
 * in the store. Approvals are signed on the custodians' tokens; nothing is mocked below hsmkit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pkcs11KeyManager } from '../../../src/adapters/pkcs11/pkcs11-key-manager.js';
import { type Approval, keyFingerprint, signApproval } from '../../../src/ceremony/approval.js';
import type { ApprovalSource } from '../../../src/ceremony/approval-source.js';
import type { ApprovalInput } from '../../../src/ceremony/approval-verifier.js';
import type { CeremonyAlert } from '../../../src/ceremony/ceremony-alerts.js';
import { CeremonyAudit } from '../../../src/ceremony/ceremony-audit.js';
import { CeremonyRunner, type CeremonyRunnerOptions } from '../../../src/ceremony/ceremony-runner.js';
import type { Challenge } from '../../../src/ceremony/challenge.js';
import { type CeremonyScript, parseCeremonyScript } from '../../../src/ceremony/script-loader.js';
import { spkiToPem } from '../../../src/crypto/public-key.js';
import { type Governance, openGovernance } from '../../../src/governance/open-governance.js';
import type { KeyType } from '../../../src/kms/key-spec.js';
import { createPkiDeps, type PkiDeps } from '../../../src/pki/pki-deps.js';
import { defaultPkiPolicy } from '../../../src/pki/policy.js';
import { CeremonyRepository } from '../../../src/store/ceremony-records.js';
import { Store } from '../../../src/store/store.js';
import { createSoftHsmToken, type SoftHsmToken } from '../../support/softhsm.js';

/** Label of each custodian's key on their token. */
export const CUSTODIAN_KEY = 'custodian';

/** A custodian: a name, a token and the key manager over it. */
export interface Custodian {
  name: string;
  token: SoftHsmToken;
  km: Pkcs11KeyManager;
  publicKeyPem: string;
  fingerprint: string;
  /** Signs a challenge with the custodian's token. */
  approve(challenge: Challenge, site?: string, biometric?: string): Promise<Approval>;
}

/** Opens a custodian token and makes the custodian key on it. */
export async function makeCustodian(name: string, type: KeyType = 'ec-p256'): Promise<Custodian> {
  const token = createSoftHsmToken(`card-${name}`);
  const km = await Pkcs11KeyManager.open(token.member() as never);
  const info = await km.createKey({ label: CUSTODIAN_KEY, type });
  const spki = await km.getPublicKey(info.uri);
  return {
    name,
    token,
    km,
    publicKeyPem: spkiToPem(spki),
    fingerprint: keyFingerprint(spki),
    approve: (challenge, site = 'vault-east', biometric) =>
      signApproval(km, CUSTODIAN_KEY, challenge, {
        custodian: name,
        site,
        ...(biometric === undefined ? {} : { biometric }),
      }),
  };
}

/** The ceremony side: HSM, store, governance, PKI, ceremony repository. */
export interface CeremonyHsm {
  token: SoftHsmToken;
  inner: Pkcs11KeyManager;
  store: Store;
  governance: Governance;
  pki: PkiDeps;
  repo: CeremonyRepository;
  work: string;
  alerts: CeremonyAlert[];
  audit(): CeremonyAudit;
  close(): Promise<void>;
}

/** Opens a ceremony HSM with an in-memory store. */
export async function openCeremonyHsm(): Promise<CeremonyHsm> {
  const token = createSoftHsmToken('ceremony');
  const store = await Store.openMemory();
  const inner = await Pkcs11KeyManager.open(token.member({ hostProcesses: 2 }) as never, {
    store: store.keys,
  });
  const governance = await openGovernance({
    inner,
    db: store.db,
    security: {
      minimumKeySize: {},
      keyAttributes: { extractable: false, persistent: true, sensitive: true },
    },
  });
  const work = mkdtempSync(join(tmpdir(), 'hsmkit-ceremony-'));
  const alerts: CeremonyAlert[] = [];
  return {
    token,
    inner,
    store,
    governance,
    pki: createPkiDeps(governance.km, store, defaultPkiPolicy()),
    repo: new CeremonyRepository(store.db),
    work,
    alerts,
    audit: () =>
      new CeremonyAudit({
        log: governance.audit,
        actor: governance.governor.actor,
        correlationId: governance.governor.options.correlationId,
      }),
    close: async () => {
      await governance.km.close();
      await store.close();
      token.cleanup();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Registers custodians in the ceremony store. */
export async function register(hsm: CeremonyHsm, custodians: Custodian[]): Promise<void> {
  for (const c of custodians) {
    await hsm.repo.addCustodian({ name: c.name, fingerprint: c.fingerprint, publicKeyPem: c.publicKeyPem });
  }
}

/** Approvals handed over in-process: `answer` decides who signs each challenge. */
export class ScriptedApprovals implements ApprovalSource {
  readonly challenges: Challenge[] = [];
  constructor(private readonly answer: (c: Challenge) => Promise<Approval[] | ApprovalInput[]>) {}
  async publish(c: Challenge): Promise<undefined> {
    this.challenges.push(c);
    return undefined;
  }
  async collect(c: Challenge): Promise<ApprovalInput[]> {
    const got = await this.answer(c);
    return got.map((a, i) => ('source' in a ? a : { source: `approval-${i}`, value: a }));
  }
}

/** Signs with the given custodians (all at `site`). */
export function by(custodians: Custodian[], site = 'vault-east'): ScriptedApprovals {
  return new ScriptedApprovals((c) => Promise.all(custodians.map((x) => x.approve(c, site))));
}

/** Copies a script into the work folder with a window around now; returns the parsed script. */
export function scriptIn(
  hsm: CeremonyHsm,
  yamlText: string,
  window: { notBefore?: Date; notAfter?: Date } = {},
): CeremonyScript & { file: string } {
  const nb = (window.notBefore ?? new Date(Date.now() - 3_600_000)).toISOString();
  const na = (window.notAfter ?? new Date(Date.now() + 86_400_000)).toISOString();
  const text = yamlText
    .replace(/not_before: .*/, `not_before: "${nb}"`)
    .replace(/not_after: .*/, `not_after: "${na}"`);
  const file = join(hsm.work, `script-${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, text);
  return { ...parseCeremonyScript(readFileSync(file), hsm.work, file), file };
}

/** A runner over the fixture. */
export function runner(
  hsm: CeremonyHsm,
  script: CeremonyScript,
  approvals: ApprovalSource,
  extra: Partial<CeremonyRunnerOptions> = {},
): CeremonyRunner {
  return new CeremonyRunner({
    script,
    km: hsm.pki.km as CeremonyRunnerOptions['km'],
    pki: hsm.pki,
    repo: hsm.repo,
    audit: hsm.audit(),
    approvals,
    alerts: { raise: (a) => hsm.alerts.push(a) },
    ...extra,
  });
}
