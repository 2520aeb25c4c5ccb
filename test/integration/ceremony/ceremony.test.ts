/**
 * Key ceremonies in-process on SoftHSM: the example scripts run end to end with custodians who
 * approve on their own SoftHSM tokens (3-of-5 root, then 2-of-3 intermediate); openssl checks the
 * certificates; transcripts verify, and fail with one byte changed. Then the refusals: too few
 * approvals (nothing created), replay / other step / unregistered key, a step after not_after,
 * an emergency ceremony (higher quorum, alerts, break-glass trail, biometric double), and abort.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  approvalFile,
  challengeFile,
  DirectoryApprovalSource,
} from '../../../src/ceremony/approval-source.js';
import { ApprovalVerifier } from '../../../src/ceremony/approval-verifier.js';
import type { BiometricVerifier } from '../../../src/ceremony/biometric.js';
import { abortCeremony } from '../../../src/ceremony/ceremony-abort.js';
import { type Challenge, challengeSha256 } from '../../../src/ceremony/challenge.js';
import { CombinedApprovalSource } from '../../../src/ceremony/combined-approval-source.js';
import type { ShareBundle } from '../../../src/ceremony/secret-sharing.js';
import { StoreApprovalSource } from '../../../src/ceremony/store-approval-source.js';
import { verifyTranscript } from '../../../src/ceremony/transcript-verify.js';
import { type ErrorCode, HsmError } from '../../../src/errors/index.js';
import { listObjects, openssl } from '../../support/tools.js';
import {
  by,
  type CeremonyHsm,
  type Custodian,
  makeCustodian,
  openCeremonyHsm,
  register,
  runner,
  ScriptedApprovals,
  scriptIn,
} from './support.js';

const EXAMPLES = fileURLToPath(new URL('../../../examples/ceremonies/', import.meta.url));
const ROOT_YAML = readFileSync(join(EXAMPLES, 'root-ca-3-of-5.yaml'), 'utf8');
const INTER_YAML = readFileSync(join(EXAMPLES, 'intermediate-2-of-3.yaml'), 'utf8');

let hsm: CeremonyHsm;
let team: Custodian[] = [];
let outsider: Custodian;
const [alice, bob, carol, dave, erin] = ['alice', 'bob', 'carol', 'dave', 'erin'];

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, reason?: string): Promise<HsmError> {
  let caught: HsmError | undefined;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(HsmError.is(e), String(e));
    assert.equal(e.code, code, e.message);
    if (reason !== undefined) assert.equal(e.details?.reason, reason, e.message);
    caught = e;
    return true;
  });
  return caught!;
}

function sslOk(args: string[]): string {
  const r = openssl(args);
  assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

const privateLabels = () => listObjects(hsm.token, 'privkey').map((o) => o.label);

/** A one-step generate-key script with the 5 custodians, m of 5. */
function keyScript(id: string, label: string, m = 3, extra = ''): string {
  return `version: 1
ceremony: { id: ${id}, type: key }
participants:
${[alice, bob, carol, dave, erin].map((n) => `  - { name: ${n}, role: custodian }`).join('\n')}
  - { name: sam, role: security_officer }
quorum: { m: ${m}, n: 5 }
window:
  not_before: x
  not_after: x
${extra}steps:
  - action: generate-key
    params: { label: ${label}, type: ec-p256 }
  - action: export-public-key
    params: { key: ${label}, output: ${id}.pub.pem }
outputs: [${id}.pub.pem, ${id}.jws]
transcript: ${id}.jws
`;
}

before(async () => {
  hsm = await openCeremonyHsm();
  // One RSA custodian key, so both approval algorithms and both share envelopes are exercised.
  team = await Promise.all([
    makeCustodian(alice),
    makeCustodian(bob, 'rsa-2048'),
    makeCustodian(carol),
    makeCustodian(dave),
    makeCustodian(erin),
  ]);
  outsider = await makeCustodian('mallory');
  await register(hsm, team);
});

after(async () => {
  await hsm?.close();
  for (const c of [...team, outsider]) {
    await c?.km.close();
    c?.token.cleanup();
  }
});

describe('key ceremonies', () => {
  let rootTranscript = '';
  const c = (name: string) => team.find((x) => x.name === name)!;

  it('runs the 3-of-5 root CA example: openssl verifies the root, the transcript verifies', async () => {
    const script = scriptIn(hsm, ROOT_YAML);
    const approvals = by([c(alice), c(bob), c(dave)], 'vault-west');
    const out = await runner(hsm, script, approvals).run();
    assert.equal(out.status, 'completed');
    assert.equal(approvals.challenges.length, 3, 'one fresh challenge per step');
    assert.equal(new Set(approvals.challenges.map((x) => x.nonce)).size, 3);
    const rootPem = join(hsm.work, 'out/root-ca.pem');
    assert.match(sslOk(['verify', '-CAfile', rootPem, rootPem]), /OK/);
    assert.match(sslOk(['x509', '-in', rootPem, '-noout', '-subject']), /Example Root CA 2026/);

    if (out.status !== 'completed') return;
    rootTranscript = out.transcript;
    const v = verifyTranscript(readFileSync(out.transcriptPath, 'utf8'), {
      script: readFileSync(script.file),
    });
    assert.equal(v.ceremonyId, 'example-root-2026');
    assert.equal(v.steps, 3);
    assert.equal(v.approvals, 9);
    assert.equal(v.outputsChecked, 2);
    const key = v.transcript.keys.find((k) => k.label === 'example-root-key')!;
    assert.deepEqual(
      [key.attributes.local, key.attributes.neverExtractable, key.attributes.alwaysSensitive],
      [true, true, true],
    );
    // The public key in the transcript is the one the root certificate certifies.
    const certKey = sslOk(['x509', '-in', rootPem, '-noout', '-pubkey']);
    assert.equal(certKey.trim(), key.publicKeyPem.trim());
    assert.equal(v.transcript.custodians.length, 5);

    // One byte changed anywhere in the JWS: the verification fails.
    const jws = readFileSync(out.transcriptPath, 'utf8').trim();
    for (const at of [10, Math.floor(jws.length / 2), jws.length - 5]) {
      const flipped = jws.slice(0, at) + (jws[at] === 'A' ? 'B' : 'A') + jws.slice(at + 1);
      assert.throws(
        () => verifyTranscript(flipped),
        (e: unknown) => HsmError.is(e, 'HSM_ERR_TRANSCRIPT_INVALID'),
      );
    }
    // A changed output file is caught by its hash.
    const changed = join(hsm.work, 'out/root-key.pub.pem');
    writeFileSync(changed, `${readFileSync(changed, 'utf8')}\n`);
    assert.throws(
      () => verifyTranscript(jws),
      (e: unknown) => HsmError.is(e, 'HSM_ERR_TRANSCRIPT_INVALID'),
    );
    assert.equal(verifyTranscript(jws, { checkFiles: false }).ceremonyId, 'example-root-2026');
    // Every step, approval and output is in the audit log.
    const ops = (await hsm.governance.auditStore.list()).map((r) => r.operation);
    for (const op of [
      'ceremony.start',
      'ceremony.challenge',
      'ceremony.approval',
      'ceremony.step',
      'ceremony.output',
      'ceremony.complete',
    ]) {
      assert.ok(ops.includes(op), `audit has ${op}`);
    }
  });

  it('runs the 2-of-3 intermediate example under that root, with a CRL and a 2-of-3 split', async () => {
    assert.ok(rootTranscript, 'needs the root ceremony');
    const script = scriptIn(hsm, INTER_YAML);
    const out = await runner(hsm, script, by([c(carol), c(bob)])).run();
    assert.equal(out.status, 'completed');
    const rootPem = join(hsm.work, 'out/root-ca.pem');
    const issuing = join(hsm.work, 'out/issuing-ca.pem');
    assert.match(sslOk(['verify', '-CAfile', rootPem, issuing]), /OK/);
    assert.match(
      sslOk(['crl', '-in', join(hsm.work, 'out/root.crl'), '-CAfile', rootPem, '-noout']),
      /verify OK/,
    );
    const bundle = JSON.parse(
      readFileSync(join(hsm.work, 'out/issuing-backup-shares.json'), 'utf8'),
    ) as ShareBundle;
    assert.equal(bundle.threshold, 2);
    assert.deepEqual(
      bundle.shares.map((s) => [s.custodian, s.envelope.alg]),
      [
        [alice, 'ECDH-ES+A256GCM'],
        [bob, 'RSA-OAEP-256+A256GCM'],
        [carol, 'ECDH-ES+A256GCM'],
      ],
    );
    if (out.status === 'completed') assert.equal(verifyTranscript(out.transcript).approvals, 8);
  });

  it('does not run a step with 2 of 5 approvals, and creates nothing on the HSM', async () => {
    const script = scriptIn(hsm, keyScript('quorum-test', 'quorum-key'));
    await rejectsCode(runner(hsm, script, by([c(alice), c(bob)])).run(), 'HSM_ERR_QUORUM');
    assert.ok(!privateLabels().includes('quorum-key'));
    // The same challenge stays open; a third approval completes the quorum.
    const out = await runner(hsm, script, by([c(alice), c(bob), c(carol)])).run();
    assert.equal(out.status, 'completed');
    assert.equal(privateLabels().filter((l) => l === 'quorum-key').length, 1);
  });

  it('counts approvals posted to the service (kept in the store) together with approval files', async () => {
    const script = scriptIn(hsm, keyScript('posted-approvals', 'posted-key'));
    const dir = join(hsm.work, 'posted-approvals');
    mkdirSync(dir, { recursive: true });
    // As `hsmkit ceremony run --non-interactive` composes it.
    const source = new CombinedApprovalSource([
      new DirectoryApprovalSource(dir),
      new StoreApprovalSource(hsm.repo),
    ]);
    let rounds = 0;
    for (;;) {
      const out = await runner(hsm, script, source).run();
      if (out.status === 'completed') break;
      assert.equal(out.status, 'awaiting_approval');
      assert.ok(++rounds <= 2, 'one round of approvals per step');
      // The open step, as GET /v1/ceremonies/:id shows it; alice and bob post theirs to the
      // service (POST /v1/ceremonies/:id/approvals stores them like this), carol drops a file.
      const open = (await hsm.repo.listSteps('posted-approvals')).find(
        (r) => r.status === 'awaiting_approval',
      );
      assert.ok(open?.challenge, 'a step awaits approval');
      const challenge = open.challenge as Challenge;
      const posted = await Promise.all(
        [c(alice), c(bob)].map(async (x) => ({
          source: `api:${x.name}`,
          receivedAt: new Date().toISOString(),
          approval: await x.approve(challenge, 'vault-east'),
        })),
      );
      const { updatedAt: _u, ...rest } = open;
      await hsm.repo.saveStep({ ...rest, approvals: posted });
      writeFileSync(
        approvalFile(challengeFile(dir, challenge), carol),
        JSON.stringify(await c(carol).approve(challenge, 'vault-east')),
      );
    }
    assert.equal(rounds, 2, 'both steps needed their approvals');
    assert.equal(privateLabels().filter((l) => l === 'posted-key').length, 1);
  });

  it('refuses a replayed approval, one for another step and one from an unregistered key', async () => {
    const script = scriptIn(hsm, keyScript('refusals', 'refusal-key'));
    let step1: Challenge | undefined;
    const step1Approvals: unknown[] = [];
    // Step 1 runs with three good approvals; step 2 is offered a replay of step 1's, an approval
    // made for step 1 but re-signed for nothing else, and one from a key nobody registered.
    const source = new ScriptedApprovals(async (ch) => {
      if (ch.step === 1) {
        step1 = ch;
        const a = await Promise.all([c(alice), c(bob), c(carol)].map((x) => x.approve(ch)));
        step1Approvals.push(...a);
        return a;
      }
      return [
        { source: 'replayed', value: step1Approvals[0] },
        { source: 'other-step', value: await c(dave).approve({ ...ch, step: 1, nonce: step1!.nonce }) },
        { source: 'unregistered', value: await outsider.approve(ch) },
        { source: 'good', value: await c(erin).approve(ch) },
      ];
    });
    const err = await rejectsCode(runner(hsm, script, source).run(), 'HSM_ERR_QUORUM');
    const refused = err.details?.refused as Array<{ source: string; reason: string }>;
    assert.deepEqual(
      refused.map((r) => [r.source, r.reason]),
      [
        ['replayed', 'wrong_step'],
        ['other-step', 'wrong_step'],
        ['unregistered', 'unregistered_key'],
      ],
    );
    // The approval answered step 1's challenge, whose nonce is consumed: offered to that
    // challenge again it is a replay.
    const verifier = new ApprovalVerifier(hsm.repo);
    const rules = { challenge: step1!, participants: [alice, bob, carol, dave, erin], sites: [] };
    const custodians = await hsm.repo.listCustodians();
    await rejectsCode(
      verifier.check(step1Approvals[0], rules, custodians),
      'HSM_ERR_APPROVAL_REFUSED',
      'replay',
    );
    // A site the script does not allow, and a forged signature.
    const open = source.challenges.at(-1)!;
    const rules2 = { challenge: open, participants: [alice, bob, carol, dave, erin], sites: ['vault-east'] };
    await rejectsCode(
      verifier.check(await c(dave).approve(open, 'elsewhere'), rules2, custodians),
      'HSM_ERR_APPROVAL_REFUSED',
      'site_not_allowed',
    );
    const forged = { ...(await c(dave).approve(open)), site: 'vault-west' };
    await rejectsCode(
      verifier.check(forged, rules2, custodians),
      'HSM_ERR_APPROVAL_REFUSED',
      'bad_signature',
    );
    const mallory = await outsider.approve(open);
    await rejectsCode(
      verifier.check(mallory, rules2, custodians),
      'HSM_ERR_APPROVAL_REFUSED',
      'unregistered_key',
    );
    const refusals = (await hsm.governance.auditStore.list()).filter(
      (r) => r.operation === 'ceremony.approval' && r.result === 'denied',
    );
    assert.ok(refusals.length >= 3);
    assert.ok(refusals.every((r) => r.errorCode === 'HSM_ERR_APPROVAL_REFUSED'));
  });

  it('refuses a step after not_after', async () => {
    const notAfter = new Date(Date.now() + 60_000);
    const script = scriptIn(hsm, keyScript('window-test', 'window-key'), { notAfter });
    // Step 1 runs inside the window; then the clock passes not_after.
    let clock = new Date();
    const source = new ScriptedApprovals(async (ch) =>
      ch.step === 1 ? Promise.all([c(alice), c(bob), c(carol)].map((x) => x.approve(ch))) : [],
    );
    const first = await runner(hsm, script, source, { now: () => clock }).run();
    assert.deepEqual(
      [first.status, first.status === 'awaiting_approval' && first.step],
      ['awaiting_approval', 2],
    );
    clock = new Date(notAfter.getTime() + 1000);
    const all = by([c(alice), c(bob), c(carol)]);
    await rejectsCode(runner(hsm, script, all, { now: () => clock }).run(), 'HSM_ERR_CEREMONY_WINDOW');
    assert.equal(all.challenges.length, 0, 'no approval was even asked for');
    const steps = await hsm.repo.listSteps('window-test');
    assert.deepEqual(
      steps.map((s) => [s.step, s.status]),
      [
        [1, 'done'],
        [2, 'awaiting_approval'],
      ],
    );
  });

  it('runs an emergency ceremony: 4-of-5, alerts to officers, break-glass trail, biometric check', async () => {
    const reason = 'Issuing key suspected compromised; re-key under incident INC-42';
    const yaml = keyScript('break-glass', 'emergency-key', 4, 'controls: { biometric: true }\n')
      .replace('type: key', 'type: emergency')
      .replace('steps:', `emergency: { reason: "${reason}" }\nsteps:`);
    const script = scriptIn(hsm, yaml);
    // Test double of the external verifier: evidence is "match:<custodian>:<challenge hash>".
    const biometric: BiometricVerifier = {
      verify: async (r) => ({
        ok: r.evidence === `match:${r.custodian}:${r.challengeSha256}`,
        verifier: 'double',
      }),
    };
    const source = new ScriptedApprovals((ch) =>
      Promise.all(
        team.map((x) =>
          x.approve(
            ch,
            'vault-east',
            x.name === erin ? 'no-match' : `match:${x.name}:${challengeSha256(ch)}`,
          ),
        ),
      ),
    );
    const out = await runner(hsm, script, source, { biometric }).run();
    assert.equal(out.status, 'completed');
    assert.deepEqual(
      hsm.alerts.map((a) => [a.kind, a.recipient, a.reason]),
      [['emergency_ceremony', 'sam', reason]],
    );
    const records = await hsm.governance.auditStore.list();
    const trail = records.filter((r) => r.operation.startsWith('ceremony.break_glass.'));
    assert.ok(trail.some((r) => r.operation === 'ceremony.break_glass.alert'));
    assert.ok(trail.some((r) => r.operation === 'ceremony.break_glass.complete'));
    assert.ok(
      trail.some((r) => r.operation === 'ceremony.break_glass.approval' && r.result === 'denied'),
      "erin's evidence was refused",
    );
    if (out.status === 'completed') {
      const v = verifyTranscript(out.transcript);
      assert.equal(v.transcript.ceremony.emergencyReason, reason);
      assert.ok(v.transcript.steps.every((s) => s.approvals.length === 4));
    }
  });

  it('adopts the key of a generation interrupted before its URI was recorded', async () => {
    const script = scriptIn(hsm, keyScript('crash-test', 'crash-key'));
    const waiting = new ScriptedApprovals(async () => []);
    assert.equal((await runner(hsm, script, waiting).run()).status, 'awaiting_approval');
    const challenge = waiting.challenges[0]!;
    // The state a crash leaves between C_GenerateKeyPair and recording the key: approved,
    // intent recorded, key on the token, URI not recorded.
    const approvals = await Promise.all([c(alice), c(bob), c(carol)].map((x) => x.approve(challenge)));
    assert.ok(await hsm.repo.consumeNonce(challenge.nonce));
    await hsm.repo.saveStep({
      ceremonyId: 'crash-test',
      step: 1,
      status: 'running',
      challenge,
      approvals,
      progress: { generating: 'crash-key' },
    });
    const made = await hsm.governance.km.createKey({ label: 'crash-key', type: 'ec-p256' });
    const out = await runner(hsm, script, by([c(alice), c(bob), c(carol)])).run();
    assert.equal(out.status, 'completed');
    assert.equal(privateLabels().filter((l) => l === 'crash-key').length, 1);
    if (out.status === 'completed') assert.deepEqual(verifyTranscript(out.transcript).keys, [made.uri]);
  });

  it('aborts: audit record, the generated key destroyed, the ceremony never resumes', async () => {
    const script = scriptIn(hsm, keyScript('abort-test', 'abort-key'));
    const source = new ScriptedApprovals(async (ch) =>
      ch.step === 1 ? Promise.all([c(alice), c(bob), c(carol)].map((x) => x.approve(ch))) : [],
    );
    assert.equal((await runner(hsm, script, source).run()).status, 'awaiting_approval');
    assert.ok(privateLabels().includes('abort-key'));
    const r = await abortCeremony(
      { repo: hsm.repo, audit: hsm.audit(), km: hsm.governance.km },
      'abort-test',
      'custodian dave taken ill',
    );
    assert.equal(r.deletedKeys.length, 1);
    assert.ok(!privateLabels().includes('abort-key'));
    await rejectsCode(runner(hsm, script, by(team)).run(), 'HSM_ERR_CEREMONY_STATE');
    const ops = (await hsm.governance.auditStore.list()).map((x) => x.operation);
    assert.ok(ops.includes('ceremony.abort'));
  });
});
