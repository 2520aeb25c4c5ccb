import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { HsmError, toHsmError } from '../errors/index.js';
import type { KeyDeleter } from '../kms/key-manager.js';
import type { PkiDeps } from '../pki/pki-deps.js';
import type { PkiKeyManager } from '../pki/pki-key-manager.js';
import type { CeremonyRepository, CeremonyStepRecord } from '../store/ceremony-records.js';
import {
  keyFacts,
  type OutputFact,
  runAction,
  type StepResult,
  sha256Hex,
  writeOutputOnce,
} from './actions/index.js';
import type { Approval } from './approval.js';
import type { ApprovalSource } from './approval-source.js';
import { ApprovalVerifier } from './approval-verifier.js';
import type { BiometricVerifier } from './biometric.js';
import type { CeremonyAlertSink } from './ceremony-alerts.js';
import type { CeremonyAudit } from './ceremony-audit.js';
import { type Challenge, newChallenge } from './challenge.js';
import type { CeremonyScript, CeremonyStep } from './script-loader.js';
import type { ShareDecrypter } from './share-envelope.js';
import { ensureAttestationKey, signTranscript, type Transcript, type TranscriptStep } from './transcript.js';

/** What a ceremony runs with; the composition root (CLI, tests) builds it. */
export interface CeremonyRunnerOptions {
  script: CeremonyScript;
  /** The governed key manager of the ceremony HSM. */
  km: PkiKeyManager & Partial<KeyDeleter>;
  pki: PkiDeps;
  repo: CeremonyRepository;
  audit: CeremonyAudit;
  approvals: ApprovalSource;
  alerts?: CeremonyAlertSink;
  /** Required when the script sets controls.biometric. */
  biometric?: BiometricVerifier;
  /** Custodian share decrypters for reconstruct-secret. */
  decrypters?: ShareDecrypter[];
  /** Path of the video recording to bind into the transcript. */
  video?: string;
  /** The clock (tests move it past not_after). */
  now?: () => Date;
}

/** How a run ended: completed, or stopped at a step that waits for approvals. */
export type CeremonyOutcome =
  | { status: 'completed'; ceremonyId: string; transcript: string; transcriptPath: string }
  | { status: 'awaiting_approval'; ceremonyId: string; step: number; challengePath?: string; needed: number };

/** An approval as the step state keeps it. */
type StoredApproval = Approval & { biometricVerifier?: string };

/**
 * Runs a ceremony script step by step. State is persisted after every phase (challenge issued,
 * approvals accepted, action progress, step done), so a run killed at any point resumes where it
 * was; a completed step never runs again. Every event is audited; nothing runs without quorum.
 */
export class CeremonyRunner {
  private readonly verifier: ApprovalVerifier;
  private readonly now: () => Date;

  constructor(private readonly o: CeremonyRunnerOptions) {
    this.verifier = new ApprovalVerifier(o.repo);
    this.now = o.now ?? (() => new Date());
  }

  private get id(): string {
    return this.o.script.doc.ceremony.id;
  }

  /** Runs (or resumes) the ceremony until it completes or a step waits for approvals. */
  async run(): Promise<CeremonyOutcome> {
    const { script, repo, audit } = this.o;
    const doc = script.doc;
    if (doc.ceremony.type === 'emergency') audit.breakGlass();
    const run = await repo.getRun(this.id);
    if (!run) {
      for (const out of doc.outputs) {
        if (existsSync(script.path(out))) {
          throw new HsmError(
            'HSM_ERR_INVALID_INPUT',
            `${out} exists; ceremony outputs are never overwritten`,
          );
        }
      }
      this.checkWindow(0);
      await repo.startRun(this.id, doc.ceremony.type, script.sha256);
      await audit.record('start', { id: this.id, type: doc.ceremony.type, scriptSha256: script.sha256 });
      if (doc.emergency) await this.alertOfficers(doc.emergency.reason);
    } else {
      if (run.status !== 'running') {
        throw new HsmError('HSM_ERR_CEREMONY_STATE', `ceremony ${this.id} is ${run.status}`);
      }
      if (run.scriptSha256 !== script.sha256) {
        throw new HsmError(
          'HSM_ERR_CEREMONY_STATE',
          `the script of ceremony ${this.id} changed since it started`,
        );
      }
      await audit.record('resume', { id: this.id });
    }
    const records = await repo.listSteps(this.id);
    for (const step of script.steps) {
      let rec = records.find((r) => r.step === step.number);
      if (rec?.status === 'done') continue;
      await this.guard(step, async () => this.checkWindow(step.number));
      if (rec === undefined || rec.status === 'awaiting_approval') {
        const approved = await this.approve(step, rec);
        if (approved.status === 'awaiting') {
          return {
            status: 'awaiting_approval',
            ceremonyId: this.id,
            step: step.number,
            needed: step.quorum,
            ...(approved.path === undefined ? {} : { challengePath: approved.path }),
          };
        }
        rec = approved.rec;
      }
      await this.execute(step, rec);
    }
    return this.complete(run?.startedAt ?? this.now().toISOString());
  }

  /** Refuses (and records) a step outside the window. */
  private checkWindow(step: number): void {
    const w = this.o.script.doc.window;
    const t = this.now().getTime();
    if (t < Date.parse(w.not_before) || t > Date.parse(w.not_after)) {
      throw new HsmError(
        'HSM_ERR_CEREMONY_WINDOW',
        `step ${step} at ${this.now().toISOString()} is outside the window ${w.not_before} … ${w.not_after}`,
        { details: { step } },
      );
    }
  }

  /** Records a refusal of the step before rethrowing it. */
  private async guard<T>(step: CeremonyStep, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const e = toHsmError(err);
      await this.o.audit.record('step', { id: this.id, step: step.number, action: step.action }, 'denied', {
        errorCode: e.code,
      });
      throw e;
    }
  }

  /** Issues (once) the step's challenge and checks the approvals; consumes the nonce on success. */
  private async approve(
    step: CeremonyStep,
    rec: CeremonyStepRecord | undefined,
  ): Promise<{ status: 'awaiting'; path?: string } | { status: 'approved'; rec: CeremonyStepRecord }> {
    const { repo, audit, approvals, script } = this.o;
    let challenge = rec?.challenge as Challenge | undefined;
    if (!challenge) {
      challenge = newChallenge(this.id, script.sha256, step);
      await repo.issueNonce(challenge.nonce, this.id, step.number);
      await repo.saveStep({
        ceremonyId: this.id,
        step: step.number,
        status: 'awaiting_approval',
        challenge,
        progress: {},
      });
      await audit.record('challenge', {
        id: this.id,
        step: step.number,
        paramsSha256: challenge.paramsSha256,
        nonce: challenge.nonce,
      });
    }
    const path = await approvals.publish(challenge, step);
    const inputs = await approvals.collect(challenge, step.quorum);
    if (inputs.length === 0)
      return path === undefined ? { status: 'awaiting' } : { status: 'awaiting', path };
    const outcome = await this.verifier.verifyAll(inputs, {
      challenge,
      participants: script.custodians,
      sites: script.doc.sites ?? [],
      ...(script.doc.controls.biometric ? { biometric: this.o.biometric ?? failingBiometric } : {}),
    });
    for (const r of outcome.refused) {
      await audit.record(
        'approval',
        {
          id: this.id,
          step: step.number,
          source: basename(r.source),
          reason: r.reason,
          custodian: r.custodian,
        },
        'denied',
        { errorCode: 'HSM_ERR_APPROVAL_REFUSED' },
      );
    }
    for (const a of outcome.accepted) {
      await audit.record('approval', {
        id: this.id,
        step: step.number,
        custodian: a.custodian.name,
        fingerprint: a.custodian.fingerprint,
        site: a.approval.site,
      });
    }
    if (outcome.accepted.length < step.quorum) {
      const err = new HsmError(
        'HSM_ERR_QUORUM',
        `step ${step.number} has ${outcome.accepted.length} valid approvals of ${step.quorum} needed`,
        {
          details: {
            step: step.number,
            accepted: outcome.accepted.length,
            needed: step.quorum,
            refused: outcome.refused,
          },
        },
      );
      await audit.record('step', { id: this.id, step: step.number, action: step.action }, 'denied', {
        errorCode: err.code,
      });
      throw err;
    }
    if (!(await repo.consumeNonce(challenge.nonce))) {
      throw new HsmError('HSM_ERR_APPROVAL_REFUSED', 'the challenge was already used', {
        details: { reason: 'replay' },
      });
    }
    const stored: StoredApproval[] = outcome.accepted.map((a) => ({
      ...a.approval,
      ...(a.biometricVerifier === undefined ? {} : { biometricVerifier: a.biometricVerifier }),
    }));
    const next: CeremonyStepRecord = {
      ceremonyId: this.id,
      step: step.number,
      status: 'running',
      challenge,
      approvals: stored,
      progress: {},
      updatedAt: '',
    };
    await repo.saveStep(next);
    await audit.record('step.approved', {
      id: this.id,
      step: step.number,
      custodians: stored.map((a) => a.custodian),
    });
    return { status: 'approved', rec: next };
  }

  /** Runs an approved step's action, persisting its progress, then marks it done. */
  private async execute(step: CeremonyStep, rec: CeremonyStepRecord): Promise<void> {
    const { repo, audit } = this.o;
    let progress = { ...rec.progress };
    const save = async (p: Record<string, unknown>) => {
      progress = { ...progress, ...p };
      await repo.saveStep({ ...rec, status: 'running', progress });
    };
    let result: StepResult;
    try {
      result = await runAction(
        {
          ceremonyId: this.id,
          script: this.o.script,
          km: this.o.km,
          pki: this.o.pki,
          ceremonies: repo,
          progress,
          saveProgress: save,
          ...(this.o.decrypters ? { decrypters: this.o.decrypters } : {}),
        },
        step,
      );
    } catch (err) {
      const e = toHsmError(err);
      await audit.record('step', { id: this.id, step: step.number, action: step.action }, 'error', {
        errorCode: e.code,
      });
      throw e;
    }
    await repo.saveStep({ ...rec, status: 'done', progress, result });
    await audit.record('step', {
      id: this.id,
      step: step.number,
      action: step.action,
      outputs: result.outputs,
      keys: result.keys.map((k) => k.uri),
    });
    for (const out of result.outputs)
      await audit.record('output', { id: this.id, step: step.number, ...out });
  }

  /** Builds, signs (in the HSM) and writes the transcript, and closes the run. */
  private async complete(startedAt: string): Promise<CeremonyOutcome> {
    const { script, repo, audit, km } = this.o;
    const doc = script.doc;
    if (doc.controls.video_required && this.o.video === undefined) {
      throw new HsmError(
        'HSM_ERR_CEREMONY_STATE',
        'the script requires a video recording reference (--video)',
      );
    }
    const records = await repo.listSteps(this.id);
    const steps: TranscriptStep[] = [];
    const outputs: OutputFact[] = [];
    const keyUris = new Set<string>();
    for (const step of script.steps) {
      const rec = records.find((r) => r.step === step.number)!;
      const result = rec.result as StepResult;
      const challenge = rec.challenge as Challenge;
      steps.push({
        step: step.number,
        action: step.action,
        paramsSha256: challenge.paramsSha256,
        quorum: step.quorum,
        challenge,
        approvals: rec.approvals as StoredApproval[],
        details: result.details,
        outputs: result.outputs,
      });
      outputs.push(...result.outputs);
      for (const k of result.keys) keyUris.add(k.uri);
    }
    // Attributes are read from the HSM now, at completion, not copied from the request.
    const keys = [];
    for (const uri of keyUris) keys.push(await keyFacts(km, uri));
    const registered = await repo.listCustodians();
    const attestation = await ensureAttestationKey(km);
    const transcript: Transcript = {
      type: 'hsmkit.ceremony.transcript',
      v: 1,
      ceremony: {
        id: this.id,
        type: doc.ceremony.type,
        ...(doc.ceremony.description === undefined ? {} : { description: doc.ceremony.description }),
        scriptSha256: script.sha256,
        window: { notBefore: doc.window.not_before, notAfter: doc.window.not_after },
        sites: doc.sites ?? [],
        quorum: doc.quorum,
        ...(doc.emergency ? { emergencyReason: doc.emergency.reason } : {}),
      },
      startedAt,
      completedAt: this.now().toISOString(),
      participants: doc.participants.map((p) => ({ name: p.name, role: p.role })),
      custodians: registered
        .filter((c) => script.custodians.includes(c.name))
        .map((c) => ({ name: c.name, fingerprint: c.fingerprint, publicKeyPem: c.publicKeyPem })),
      steps,
      outputs,
      keys,
      ...(this.o.video === undefined
        ? {}
        : { video: { path: this.o.video, sha256: sha256Hex(readFileSync(this.o.video)) } }),
      attestation: { keyUri: attestation.uri, publicKeyPem: attestation.publicKeyPem },
    };
    const jws = await signTranscript(km, transcript);
    const transcriptPath = script.path(doc.transcript);
    const fact = writeOutputOnce(transcriptPath, `${jws}\n`);
    await repo.finishRun(this.id, 'completed', jws);
    await audit.record('complete', { id: this.id, transcript: fact });
    return { status: 'completed', ceremonyId: this.id, transcript: jws, transcriptPath };
  }

  private async alertOfficers(reason: string): Promise<void> {
    for (const officer of this.o.script.officers) {
      this.o.alerts?.raise({ kind: 'emergency_ceremony', ceremonyId: this.id, reason, recipient: officer });
      await this.o.audit.record('alert', { id: this.id, recipient: officer, reason });
    }
  }
}

/** Refuses every approval: the script wants biometrics and no verifier was configured. */
const failingBiometric: BiometricVerifier = {
  verify: async () => ({ ok: false, verifier: 'none', reason: 'no biometric verifier is configured' }),
};
