/**
 * Ceremony approvals over mutual TLS: a run awaiting approval (set up in the store as the ceremony
 * runner leaves it), its challenge shown by the API, a custodian's approval — signed with the
 * custodian's own key, outside hsmkit — accepted for the open challenge and then collected for
 * the runner, and refusals (audited) for a forged signature, a superseded or consumed challenge,
 * another step, a second approval by the same custodian.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { approvalPayload, pemFingerprint } from '../../../src/ceremony/approval.js';
import { ApprovalVerifier } from '../../../src/ceremony/approval-verifier.js';
import { type Challenge, newChallenge } from '../../../src/ceremony/challenge.js';
import type { CeremonyStep } from '../../../src/ceremony/script-loader.js';
import { StoreApprovalSource } from '../../../src/ceremony/store-approval-source.js';
import { CeremonyRepository } from '../../../src/store/ceremony-records.js';
import { openServiceFixture, problemCode, type ServiceFixture } from './service-fixture.js';

const ID = 'root-2026';
const SCRIPT_SHA = createHash('sha256').update('the ceremony script').digest('hex');
const step = (n: number) =>
  ({
    number: n,
    action: 'generate-key',
    quorum: 2,
    params: { label: `root-${n}`, key_type: 'ec-p384' },
  }) as unknown as CeremonyStep;

interface Custodian {
  name: string;
  key: KeyObject;
  pem: string;
}

describe('ceremony API over mutual TLS', () => {
  let f: ServiceFixture;
  let repo: CeremonyRepository;
  let ann: Custodian;
  let bob: Custodian;
  let open1: Challenge;

  const custodian = (name: string): Custodian => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { name, key: privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  };
  /** What `hsmkit ceremony approve` does on the custodian's side, with the custodian's own key. */
  const approval = (c: Custodian, challenge: Challenge, signer: Custodian = c, site = 'unspecified') => {
    const payload = approvalPayload({
      challenge,
      custodian: c.name,
      site,
      keyFingerprint: pemFingerprint(c.pem),
    });
    return {
      step: challenge.step,
      custodian: c.name,
      signature_b64: sign('sha256', payload, { key: signer.key, dsaEncoding: 'der' }).toString('base64'),
      challenge_b64: Buffer.from(JSON.stringify(challenge)).toString('base64'),
    };
  };
  const post = (body: unknown, id = ID) =>
    f.send({ method: 'POST', path: `/v1/ceremonies/${id}/approvals`, client: f.clients.custodian, body });
  const refusedFor = async (body: unknown, reason: string) => {
    const a = await post(body);
    assert.equal(a.status, 403, a.text);
    assert.equal(problemCode(a), 'HSM_ERR_APPROVAL_REFUSED');
    assert.equal(a.json.details.reason, reason);
  };
  const awaiting = async (n: number): Promise<Challenge> => {
    const c = newChallenge(ID, SCRIPT_SHA, step(n));
    await repo.issueNonce(c.nonce, ID, n);
    await repo.saveStep({ ceremonyId: ID, step: n, status: 'awaiting_approval', challenge: c, progress: {} });
    return c;
  };

  before(async () => {
    f = await openServiceFixture({ rateLimit: { per_second: 50, burst: 200 } });
    repo = new CeremonyRepository(f.ctx.store.db);
    ann = custodian('ann');
    bob = custodian('bob');
    for (const c of [ann, bob])
      await repo.addCustodian({ name: c.name, fingerprint: pemFingerprint(c.pem), publicKeyPem: c.pem });
    await repo.startRun(ID, 'root-ca', SCRIPT_SHA);
    open1 = await awaiting(1);
  });
  after(async () => f?.close());

  it('GET /v1/ceremonies and /v1/ceremonies/:id show the run and the open challenge', async () => {
    const list = await f.send({ path: '/v1/ceremonies', client: f.clients.auditor });
    assert.equal(list.status, 200, list.text);
    const item = list.json.items.find((i: { id: string }) => i.id === ID);
    assert.deepEqual(
      { type: item.type, status: item.status, phase: item.phase },
      { type: 'root-ca', status: 'running', phase: 'step 1: awaiting_approval' },
    );
    const one = await f.send({ path: `/v1/ceremonies/${ID}`, client: f.clients.custodian });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.pending_approvals.length, 1);
    assert.deepEqual(one.json.pending_approvals[0].challenge, open1);
    assert.deepEqual(
      JSON.parse(Buffer.from(one.json.pending_approvals[0].challenge_b64, 'base64').toString()),
      open1,
    );
  });

  it('an approval of the open challenge, signed by the registered custodian, is accepted and collected for the runner', async () => {
    const a = await post(approval(ann, open1));
    assert.equal(a.status, 201, a.text);
    assert.deepEqual(a.json, { accepted: true, step: 1 });
    const one = await f.send({ path: `/v1/ceremonies/${ID}`, client: f.clients.custodian });
    assert.equal(one.json.pending_approvals[0].received, 1);
    // What the ceremony runner does with it: collect from the store, verify against the script's rules.
    const inputs = await new StoreApprovalSource(repo).collect(open1);
    assert.equal(inputs.length, 1);
    const outcome = await new ApprovalVerifier(repo).verifyAll(inputs, {
      challenge: open1,
      participants: ['ann', 'bob'],
      sites: [],
    });
    assert.deepEqual(
      outcome.accepted.map((x) => x.custodian.name),
      ['ann'],
    );
    assert.deepEqual(outcome.refused, []);
  });

  it('refused and audited: forged signature, same custodian twice, another step, superseded and consumed challenges', async () => {
    // Bob's key signing an approval in Ann's name.
    await refusedFor(approval(ann, open1, bob), 'bad_signature');
    // A changed challenge (other parameters) no longer matches what is open.
    await refusedFor(approval(bob, { ...open1, paramsSha256: '0'.repeat(64) }), 'wrong_step');
    await refusedFor(approval(ann, open1), 'duplicate_custodian');
    // A challenge superseded by a new one for the step is a replay.
    const open2 = await awaiting(1);
    await refusedFor(approval(bob, open1), 'replay');
    // Once the runner consumed the nonce, the same valid approval is a replay too.
    await repo.consumeNonce(open2.nonce);
    await refusedFor(approval(bob, open2), 'replay');
    const rows = await f.ctx.store.db
      .selectFrom('audit_log')
      .select(['actor', 'operation', 'result', 'error_code'])
      .where('operation', '=', 'ceremony.approve')
      .execute();
    assert.equal(rows.filter((r) => r.result === 'ok' && r.actor === 'svc-custodian').length, 1);
    assert.equal(rows.filter((r) => r.error_code === 'HSM_ERR_APPROVAL_REFUSED').length, 5);
  });

  it('only custodians (and admins) may post approvals', async () => {
    const a = await f.send({
      method: 'POST',
      path: `/v1/ceremonies/${ID}/approvals`,
      client: f.clients.operator,
      body: approval(bob, open1),
    });
    assert.equal(a.status, 403);
    assert.equal(problemCode(a), 'HSM_ERR_POLICY_VIOLATION');
  });

  it('bad input is a 4xx problem with a code, and the service keeps answering', async () => {
    const good = approval(bob, open1);
    const cases: Array<{ body: unknown; id?: string; status: number; code: string }> = [
      { body: { ...good, extra: 1 }, status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      { body: { ...good, step: 0 }, status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      { body: { ...good, signature_b64: 'not base64!' }, status: 400, code: 'HSM_ERR_INVALID_INPUT' },
      {
        body: { ...good, challenge_b64: Buffer.from('[1,2]').toString('base64') },
        status: 403,
        code: 'HSM_ERR_APPROVAL_REFUSED',
      },
      { body: { ...good, custodian: 'nobody' }, status: 403, code: 'HSM_ERR_APPROVAL_REFUSED' },
      { body: { ...good, step: 7 }, status: 409, code: 'HSM_ERR_CEREMONY_STATE' },
      { body: good, id: 'no-such-ceremony', status: 404, code: 'HSM_ERR_NOT_FOUND' },
      { body: good, id: 'bad id with spaces', status: 400, code: 'HSM_ERR_INVALID_INPUT' },
    ];
    for (const c of cases) {
      const a = await post(c.body, c.id === undefined ? ID : encodeURIComponent(c.id));
      assert.equal(a.status, c.status, `${JSON.stringify(c.body).slice(0, 120)}: ${a.text.slice(0, 300)}`);
      assert.equal(problemCode(a), c.code);
    }
    const g = await f.send({ path: '/v1/ceremonies/unknown', client: f.clients.auditor });
    assert.equal(g.status, 404);
    assert.equal((await f.send({ path: '/healthz', client: f.clients.auditor })).status, 200);
  });
});
