import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { pemFingerprint, signApproval } from '../../ceremony/approval.js';
import { approvalFile, DirectoryApprovalSource } from '../../ceremony/approval-source.js';
import { commandBiometricVerifier } from '../../ceremony/biometric.js';
import { abortCeremony } from '../../ceremony/ceremony-abort.js';
import { stderrCeremonyAlerts } from '../../ceremony/ceremony-alerts.js';
import { CeremonyAudit } from '../../ceremony/ceremony-audit.js';
import { CeremonyRunner } from '../../ceremony/ceremony-runner.js';
import type { Challenge } from '../../ceremony/challenge.js';
import { CombinedApprovalSource } from '../../ceremony/combined-approval-source.js';
import { loadCeremonyScript } from '../../ceremony/script-loader.js';
import { StoreApprovalSource } from '../../ceremony/store-approval-source.js';
import { TerminalApprovalSource } from '../../ceremony/terminal-approval-source.js';
import { verifyTranscript } from '../../ceremony/transcript-verify.js';
import { HsmError } from '../../errors/index.js';
import { CeremonyRepository } from '../../store/ceremony-records.js';
import { type CliContext, withContext } from '../context.js';
import { readInput, writeOutput } from '../files.js';
import { emit, type GlobalOptions, required } from '../output.js';
import { approveCeremony } from '../remote/ceremony.js';
import { withPki } from './ca.js';
import { registerCeremonyRuns } from './ceremony-runs.js';

/** Environment variable naming the external biometric verifier program (see docs/ceremonies.md). */
export const BIOMETRIC_VERIFIER_ENV = 'HSMKIT_BIOMETRIC_VERIFIER';

/** The ceremony audit trail of a CLI run: the governance audit log, as the CLI's actor. */
function ceremonyAudit(ctx: CliContext): CeremonyAudit {
  const g = ctx.governance;
  return new CeremonyAudit({
    log: g.audit,
    actor: g.governor.actor,
    correlationId: g.governor.options.correlationId,
    policyVersion: g.policy().version,
  });
}

/** `hsmkit ceremony …`: run, approve, verify and abort key ceremonies; register custodians. */
export function registerCeremony(program: Command, globals: () => GlobalOptions): void {
  const cer = program.command('ceremony').description('key ceremonies with M-of-N custodian approvals');

  const custodian = cer.command('custodian').description('ceremony custodians and their token keys');
  custodian
    .command('add')
    .description('register a custodian with the public key of the key pair on their own token')
    .option('--name <name>', 'custodian name, as ceremony scripts list it')
    .option('--public-key <file>', 'PEM public key (e.g. from "hsmkit key public" on the custodian token)')
    .action(async (o: { name?: string; publicKey?: string }) => {
      const name = required(o.name, '--name');
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
        throw new HsmError('HSM_ERR_INVALID_INPUT', 'a custodian name is letters, digits, ".", "_", "-"');
      }
      const pem = readInput(required(o.publicKey, '--public-key')).toString('utf8');
      const fingerprint = pemFingerprint(pem);
      const rec = await withContext(globals(), async (ctx) => {
        const r = await new CeremonyRepository(ctx.store.db).addCustodian({
          name,
          fingerprint,
          publicKeyPem: pem,
        });
        await ceremonyAudit(ctx).record('custodian.add', { name, fingerprint });
        return r;
      });
      emit(
        globals(),
        { name: rec.name, fingerprint: rec.fingerprint },
        () => `Registered custodian ${rec.name} (${rec.fingerprint})`,
      );
    });
  custodian
    .command('list')
    .description('list the registered custodians')
    .action(async () => {
      const rows = await withContext(globals(), (ctx) =>
        new CeremonyRepository(ctx.store.db).listCustodians(),
      );
      const out = rows.map((r) => ({ name: r.name, fingerprint: r.fingerprint, createdAt: r.createdAt }));
      emit(
        globals(),
        out,
        () => out.map((r) => `${r.name.padEnd(20)} ${r.fingerprint}`).join('\n') || 'No custodians.',
      );
    });
  // main.ts makes two levels throw instead of exiting; this is a third.
  for (const c of custodian.commands) c.exitOverride();

  cer
    .command('run <script>')
    .description('run or resume a ceremony script; interactive on a terminal')
    .option('--non-interactive', 'take approvals from files in --approvals instead of the terminal')
    .option('--approvals <dir>', 'folder for challenges and approval files (default: <script dir>/approvals)')
    .option('--wait <seconds>', 'with --non-interactive: wait this long for missing approvals', '0')
    .option('--video <file>', 'video recording to bind into the transcript (path + SHA-256)')
    .action(
      async (
        file: string,
        o: { nonInteractive?: boolean; approvals?: string; wait: string; video?: string },
      ) => {
        const script = loadCeremonyScript(file);
        const dir = o.approvals ?? join(script.dir, 'approvals');
        mkdirSync(dir, { recursive: true });
        const waitMs = Number(o.wait) * 1000;
        if (!Number.isFinite(waitMs) || waitMs < 0)
          throw new HsmError('HSM_ERR_INVALID_INPUT', '--wait takes seconds');
        if (!o.nonInteractive && !process.stdin.isTTY) {
          throw new HsmError(
            'HSM_ERR_INVALID_INPUT',
            'not a terminal: pass --non-interactive and --approvals',
          );
        }
        const verifier = process.env[BIOMETRIC_VERIFIER_ENV];
        const outcome = await withPki(globals(), (deps, ctx) => {
          const repo = new CeremonyRepository(ctx.store.db);
          // Non-interactive: approval files in the folder, and approvals posted to the service
          // (POST /v1/ceremonies/:id/approvals, kept in the store this run shares).
          const approvals = o.nonInteractive
            ? new CombinedApprovalSource(
                [new DirectoryApprovalSource(dir), new StoreApprovalSource(repo)],
                waitMs,
              )
            : new TerminalApprovalSource(dir);
          return new CeremonyRunner({
            script,
            km: deps.km,
            pki: deps,
            repo,
            audit: ceremonyAudit(ctx),
            approvals,
            alerts: stderrCeremonyAlerts,
            ...(verifier ? { biometric: commandBiometricVerifier(verifier) } : {}),
            ...(o.video === undefined ? {} : { video: o.video }),
          }).run();
        });
        const { transcript: _omit, ...shown } = outcome as typeof outcome & { transcript?: string };
        emit(globals(), shown, () =>
          outcome.status === 'completed'
            ? `Ceremony ${outcome.ceremonyId} completed; transcript in ${outcome.transcriptPath}`
            : `Ceremony ${outcome.ceremonyId} waits for ${outcome.needed} approvals of step ${outcome.step}; challenge: ${outcome.challengePath}`,
        );
      },
    );

  cer
    .command('approve')
    .description(
      "sign a ceremony challenge with the custodian's own token (--config names the custodian's config)",
    )
    .option('--challenge <file>', 'challenge file written by "ceremony run"')
    .option('--key <label>', 'label of the custodian key on the token')
    .option('--custodian <name>', 'registered custodian name')
    .option('--site <site>', 'site the approval is given from', 'unspecified')
    .option('--biometric <file>', 'biometric evidence file, when the ceremony requires it')
    .option('--out <file>', 'approval file (default: next to the challenge); never overwritten')
    .option('--ceremony <id>', 'with --server: the ceremony whose open challenge to sign and post')
    .option('--step <n>', 'with --server: the step, when several await approval')
    .option('--approval <file>', 'with --server: post this approval file instead of signing here')
    .action(
      async (o: {
        challenge?: string;
        key?: string;
        custodian?: string;
        site: string;
        biometric?: string;
        out?: string;
        ceremony?: string;
        step?: string;
        approval?: string;
      }) => {
        if (globals().server) return approveCeremony(globals(), o);
        const challengePath = required(o.challenge, '--challenge');
        const key = required(o.key, '--key');
        const name = required(o.custodian, '--custodian');
        const challenge = JSON.parse(readInput(challengePath).toString('utf8')) as Challenge;
        if (challenge?.type !== 'hsmkit.ceremony.challenge') {
          throw new HsmError('HSM_ERR_INVALID_INPUT', `${challengePath} is not a ceremony challenge`);
        }
        const out = o.out ?? approvalFile(challengePath, name);
        const biometric = o.biometric === undefined ? undefined : readFileSync(o.biometric, 'utf8').trim();
        const approval = await withContext(globals(), (ctx) =>
          signApproval(ctx.km, key, challenge, {
            custodian: name,
            site: o.site,
            ...(biometric === undefined ? {} : { biometric }),
          }),
        );
        writeOutput(out, `${JSON.stringify(approval, null, 2)}\n`);
        emit(
          globals(),
          {
            out,
            ceremonyId: challenge.ceremonyId,
            step: challenge.step,
            custodian: name,
            keyFingerprint: approval.keyFingerprint,
          },
          () => `Approved step ${challenge.step} of ${challenge.ceremonyId} as ${name}; approval in ${out}`,
        );
      },
    );

  cer
    .command('verify <transcript>')
    .description('verify a ceremony transcript offline (signature, approvals, hashes)')
    .option('--attestation-key <pem>', 'the trusted attestation public key')
    .option('--script <file>', 'the ceremony script, to check its hash')
    .action((file: string, o: { attestationKey?: string; script?: string }) => {
      const r = verifyTranscript(readInput(file).toString('utf8'), {
        ...(o.attestationKey === undefined
          ? {}
          : { attestationKeyPem: readInput(o.attestationKey).toString('utf8') }),
        ...(o.script === undefined ? {} : { script: readInput(o.script) }),
      });
      const { transcript: _t, ...shown } = r;
      emit(
        globals(),
        { valid: true, ...shown },
        () =>
          `Transcript of ceremony ${r.ceremonyId} (${r.type}) is valid: ${r.steps} steps, ${r.approvals} approvals, ` +
          `${r.outputsChecked} outputs checked; attestation key ${r.attestationFingerprint}`,
      );
    });

  cer
    .command('abort <script>')
    .description('abort a running ceremony: audit record, generated keys destroyed, never resumable')
    .option('--reason <text>', 'why the ceremony is aborted')
    .action(async (file: string, o: { reason?: string }) => {
      const reason = required(o.reason, '--reason');
      const script = loadCeremonyScript(file);
      const r = await withContext(globals(), (ctx) =>
        abortCeremony(
          { repo: new CeremonyRepository(ctx.store.db), audit: ceremonyAudit(ctx), km: ctx.km },
          script.doc.ceremony.id,
          reason,
        ),
      );
      emit(globals(), r, () => `Ceremony ${r.ceremonyId} aborted; ${r.deletedKeys.length} keys destroyed`);
    });

  registerCeremonyRuns(cer, globals);
}
