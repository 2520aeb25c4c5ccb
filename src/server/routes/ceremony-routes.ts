import type { FastifyInstance, FastifyRequest } from 'fastify';
import { canonicalJson } from '../../audit/canonical-json.js';
import type { Approval } from '../../ceremony/approval.js';
import { ApprovalVerifier } from '../../ceremony/approval-verifier.js';
import type { Challenge } from '../../ceremony/challenge.js';
import type { PostedApproval } from '../../ceremony/store-approval-source.js';
import { HsmError } from '../../errors/index.js';
import type { GovernedKeyManager } from '../../governance/governed-key-manager.js';
import type { CeremonyStepRecord } from '../../store/ceremony-records.js';
import type { AdminDeps } from '../admin-deps.js';

const idParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' },
  },
} as const;
const b64 = (max: number) =>
  ({ type: 'string', minLength: 1, maxLength: max, pattern: '^[A-Za-z0-9+/]+={0,2}$' }) as const;

type IdReq = { Params: { id: string } };
interface ApprovalBody {
  step: number;
  custodian: string;
  signature_b64: string;
  challenge_b64: string;
  site?: string;
  biometric?: string;
}

/**
 * `/v1/ceremonies`: runs, their pending challenges, and custodian approvals posted over the API.
 * A posted approval must answer the step's open challenge (same ceremony, step, parameters and an
 * unconsumed nonce) and verify with the custodian's registered key; an accepted one waits with the
 * step until the ceremony runner collects it (StoreApprovalSource), which checks it again against
 * the script. Every posting, accepted or refused, is a governed `ceremony.approve` call: audited.
 */
export function registerCeremonyRoutes(
  app: FastifyInstance,
  km: (req: FastifyRequest) => GovernedKeyManager,
  admin: AdminDeps,
): void {
  const repo = admin.ceremonies;
  const verifier = new ApprovalVerifier(repo);
  // Posting is read-modify-write of the step record: one at a time per ceremony in this process.
  const queues = new Map<string, Promise<unknown>>();
  const serial = <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    const next = (queues.get(id) ?? Promise.resolve()).then(fn, fn);
    const settled = next.catch(() => undefined);
    queues.set(id, settled);
    void settled.then(() => {
      if (queues.get(id) === settled) queues.delete(id);
    });
    return next;
  };

  app.get(
    '/v1/ceremonies',
    {
      schema: { summary: 'Ceremony runs, newest first' },
      config: {
        access: 'ceremony.read',
        responses: {
          200: {
            description: 'Runs',
            schema: { type: 'object', properties: { items: { type: 'array', items: { type: 'object' } } } },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      return g.governor.run({ operation: 'ceremony.read', params: {} }, async () => {
        const runs = await repo.listRuns();
        const items = [];
        for (const r of runs) {
          items.push({
            id: r.id,
            type: r.type,
            status: r.status,
            phase: phaseOf(await repo.listSteps(r.id)),
            started_at: r.startedAt,
            updated_at: r.updatedAt,
          });
        }
        return { items };
      });
    },
  );

  app.get<IdReq>(
    '/v1/ceremonies/:id',
    {
      schema: {
        summary: 'One ceremony run and the challenges awaiting custodian approval',
        params: idParams,
      },
      config: {
        access: 'ceremony.read',
        responses: {
          200: {
            description: 'The run; sign a challenge (challenge_b64 is its canonical JSON) to approve',
            schema: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                type: { type: 'string' },
                status: { type: 'string' },
                phase: { type: 'string' },
                pending_approvals: { type: 'array', items: { type: 'object' } },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      return g.governor.run({ operation: 'ceremony.read', params: { id: req.params.id } }, async () => {
        const run = await repo.getRun(req.params.id);
        if (!run) throw new HsmError('HSM_ERR_NOT_FOUND', 'no such ceremony');
        const steps = await repo.listSteps(run.id);
        return {
          id: run.id,
          type: run.type,
          status: run.status,
          phase: phaseOf(steps),
          script_sha256: run.scriptSha256,
          started_at: run.startedAt,
          updated_at: run.updatedAt,
          pending_approvals: steps
            .filter((s) => s.status === 'awaiting_approval' && s.challenge !== undefined)
            .map((s) => ({
              step: s.step,
              challenge: s.challenge,
              challenge_b64: Buffer.from(canonicalJson(s.challenge), 'utf8').toString('base64'),
              received: Array.isArray(s.approvals) ? (s.approvals as PostedApproval[]).length : 0,
            })),
        };
      });
    },
  );

  app.post<IdReq & { Body: ApprovalBody }>(
    '/v1/ceremonies/:id/approvals',
    {
      schema: {
        summary: 'Post a custodian’s signed approval of a step’s challenge',
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['step', 'custodian', 'signature_b64', 'challenge_b64'],
          properties: {
            step: { type: 'integer', minimum: 1, maximum: 10_000 },
            custodian: { type: 'string', minLength: 1, maxLength: 64 },
            signature_b64: b64(2048),
            challenge_b64: b64(8192),
            site: {
              type: 'string',
              minLength: 1,
              maxLength: 64,
              description: 'default "unspecified", as `ceremony approve`',
            },
            biometric: { type: 'string', maxLength: 65_536 },
          },
        },
      },
      config: {
        access: 'ceremony.approve',
        responses: {
          201: {
            description: 'Accepted; it counts when the ceremony collects it',
            schema: {
              type: 'object',
              properties: { accepted: { type: 'boolean' }, step: { type: 'integer' } },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const g = km(req);
      const id = req.params.id;
      const b = req.body;
      const params = { id, step: b.step, custodian: b.custodian };
      await g.governor.run({ operation: 'ceremony.approve', params }, () =>
        serial(id, async () => {
          const run = await repo.getRun(id);
          if (!run) throw new HsmError('HSM_ERR_NOT_FOUND', 'no such ceremony');
          const rec = (await repo.listSteps(id)).find((s) => s.step === b.step);
          const open = rec?.challenge as Challenge | undefined;
          if (!rec || !open) {
            throw new HsmError('HSM_ERR_CEREMONY_STATE', `step ${b.step} of ceremony ${id} has no challenge`);
          }
          const custodians = await repo.listCustodians();
          const registered = custodians.find((c) => c.name === b.custodian);
          const approval: Approval = {
            type: 'hsmkit.ceremony.approval',
            v: 1,
            challenge: decodeChallenge(b.challenge_b64),
            custodian: b.custodian,
            site: b.site ?? 'unspecified',
            // The key is the one registered to the name; a signature by any other key fails.
            keyFingerprint: registered?.fingerprint ?? '0'.repeat(64),
            ...(b.biometric === undefined ? {} : { biometric: b.biometric }),
            signature: b.signature_b64,
          };
          // Participants and sites are in the script, which the runner holds: it checks them again.
          const ok = await verifier.check(
            approval,
            { challenge: open, participants: [b.custodian], sites: [] },
            custodians,
          );
          if (rec.status !== 'awaiting_approval') {
            throw new HsmError(
              'HSM_ERR_CEREMONY_STATE',
              `step ${b.step} of ceremony ${id} is not awaiting approval`,
            );
          }
          const posted = Array.isArray(rec.approvals) ? (rec.approvals as PostedApproval[]) : [];
          if (posted.some((p) => (p.approval as Approval).custodian === ok.custodian.name)) {
            throw new HsmError(
              'HSM_ERR_APPROVAL_REFUSED',
              `${ok.custodian.name} already approved step ${b.step}`,
              {
                details: { reason: 'duplicate_custodian' },
              },
            );
          }
          const entry: PostedApproval = {
            source: `api:${ok.custodian.name}`,
            receivedAt: new Date().toISOString(),
            approval,
          };
          const { updatedAt: _u, ...rest } = rec;
          await repo.saveStep({ ...rest, approvals: [...posted, entry] });
        }),
      );
      return reply.code(201).send({ accepted: true, step: b.step });
    },
  );
}

/** Where a run stands: the first step not done and its status, or `done`. */
function phaseOf(steps: CeremonyStepRecord[]): string {
  const current = steps.find((s) => s.status !== 'done');
  if (!current) return steps.length === 0 ? 'not_started' : 'done';
  return `step ${current.step}: ${current.status}`;
}

function decodeChallenge(text: string): Challenge {
  try {
    const c = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as Challenge;
    if (typeof c === 'object' && c !== null && !Array.isArray(c)) return c;
  } catch {
    // refused below
  }
  throw new HsmError('HSM_ERR_APPROVAL_REFUSED', 'challenge_b64 is not a base64 JSON challenge', {
    details: { reason: 'malformed' },
  });
}
