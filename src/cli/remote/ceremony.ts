/** `hsmkit ceremony list|show|approve` against a service: `/v1/ceremonies`. */
import { canonicalJson } from '../../audit/canonical-json.js';
import { type Approval, signApproval } from '../../ceremony/approval.js';
import type { Challenge } from '../../ceremony/challenge.js';
import { HsmError } from '../../errors/index.js';
import { withContext } from '../context.js';
import { readInput } from '../files.js';
import { emit, type GlobalOptions, required, table } from '../output.js';
import { seg } from './remote-client.js';
import { remoteClient } from './remote-context.js';

interface CeremonyView {
  id: string;
  type: string;
  status: string;
  phase: string;
  pending_approvals?: Array<{ step: number; challenge: Challenge; challenge_b64?: string }>;
}

/** `ceremony list`: GET /v1/ceremonies. */
export async function listCeremonies(g: GlobalOptions): Promise<void> {
  const r = await remoteClient(g).get<{ items: CeremonyView[] }>('/v1/ceremonies');
  emit(g, r, () =>
    r.items.length === 0
      ? 'No ceremonies.'
      : r.items
          .map((c) => `${c.id.padEnd(32)} ${c.type.padEnd(16)} ${c.status.padEnd(12)} ${c.phase}`)
          .join('\n'),
  );
}

/** `ceremony show ID`: GET /v1/ceremonies/:id, with the challenges awaiting approval. */
export async function showCeremony(g: GlobalOptions, id: string): Promise<void> {
  const c = await remoteClient(g).get<CeremonyView>(`/v1/ceremonies/${seg(id)}`);
  emit(g, c, () =>
    [
      table([
        ['id', c.id],
        ['type', c.type],
        ['status', c.status],
        ['phase', c.phase],
      ]),
      ...(c.pending_approvals ?? []).map(
        (p) => `step ${p.step} awaits approval (nonce ${p.challenge.nonce ?? '?'})`,
      ),
    ].join('\n'),
  );
}

/** Options of `ceremony approve` that the remote form reads. */
export interface ApproveOptions {
  approval?: string;
  ceremony?: string;
  step?: string;
  key?: string;
  custodian?: string;
  site: string;
  biometric?: string;
}

/**
 * `ceremony approve --server`: posts a custodian's approval (POST /v1/ceremonies/:id/approvals).
 * Either `--approval FILE` (made offline by `hsmkit ceremony approve --challenge …`), or
 * `--ceremony ID [--step N] --key L --custodian NAME`: the open challenge is fetched from the
 * service and signed here with the custodian's own token (the local configuration, `--config`).
 */
export async function approveCeremony(g: GlobalOptions, o: ApproveOptions): Promise<void> {
  const client = remoteClient(g);
  let approval: Approval;
  let challengeB64: string;
  if (o.approval !== undefined) {
    approval = JSON.parse(readInput(o.approval).toString('utf8')) as Approval;
    if (approval?.type !== 'hsmkit.ceremony.approval')
      throw new HsmError('HSM_ERR_INVALID_INPUT', `${o.approval} is not a ceremony approval`);
    challengeB64 = Buffer.from(canonicalJson(approval.challenge), 'utf8').toString('base64');
  } else {
    const id = required(o.ceremony, '--ceremony (or --approval)');
    const key = required(o.key, '--key');
    const custodian = required(o.custodian, '--custodian');
    const c = await client.get<CeremonyView>(`/v1/ceremonies/${seg(id)}`);
    const pending = (c.pending_approvals ?? []).filter(
      (p) => o.step === undefined || p.step === Number(o.step),
    );
    if (pending.length !== 1) {
      throw new HsmError(
        'HSM_ERR_CEREMONY_STATE',
        pending.length === 0
          ? `ceremony ${id} has no step awaiting approval${o.step ? ` at step ${o.step}` : ''}`
          : `ceremony ${id} has ${pending.length} steps awaiting approval: pass --step`,
      );
    }
    const open = pending[0]!;
    const biometric = o.biometric === undefined ? undefined : readInput(o.biometric).toString('utf8').trim();
    approval = await withContext(g, (ctx) =>
      signApproval(ctx.km, key, open.challenge, {
        custodian,
        site: o.site,
        ...(biometric === undefined ? {} : { biometric }),
      }),
    );
    challengeB64 =
      open.challenge_b64 ?? Buffer.from(canonicalJson(open.challenge), 'utf8').toString('base64');
  }
  const id = approval.challenge.ceremonyId;
  const r = await client.post<{ accepted: boolean; step: number }>(`/v1/ceremonies/${seg(id)}/approvals`, {
    step: approval.challenge.step,
    custodian: approval.custodian,
    signature_b64: approval.signature,
    challenge_b64: challengeB64,
    site: approval.site,
    ...(approval.biometric === undefined ? {} : { biometric: approval.biometric }),
  });
  emit(
    g,
    { ...r, ceremony: id, custodian: approval.custodian },
    () => `Approved step ${r.step} of ${id} as ${approval.custodian} (accepted by the service)`,
  );
}
