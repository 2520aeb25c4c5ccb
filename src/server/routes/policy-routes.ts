import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HsmError } from '../../errors/index.js';
import type { GovernedKeyManager } from '../../governance/governed-key-manager.js';
import { checkPolicy, PolicyAdmin } from '../../governance/policy-admin.js';
import { hashDocument, type PolicyVersionRecord } from '../../store/policy-repository.js';
import type { AdminDeps } from '../admin-deps.js';
import type { ServiceRuntime } from '../service-deps.js';

/** Largest policy document accepted (YAML or JSON text). */
export const MAX_POLICY_CHARS = 256 * 1024;

const versionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: { version: { type: 'string', pattern: '^[1-9][0-9]{0,8}$' } },
} as const;
const documentField = { type: 'string', minLength: 1, maxLength: MAX_POLICY_CHARS } as const;
const STATUS_VIEW = {
  type: 'object',
  properties: { version: { type: 'integer' }, status: { type: 'string', enum: ['pending', 'active'] } },
} as const;

type VersionReq = { Params: { version: string } };

/**
 * `/v1/policies`: the versions, one version's document, validation, and changes under the policy
 * in force: apply (a proposal under dual control), approval by a second identity in another role,
 * and rollback. Every change is a governed call of the caller (`policy.apply`, `policy.approve`,
 * `policy.rollback`), so it is decided and audited like the CLI's `hsmkit policy`.
 */
export function registerPolicyRoutes(
  app: FastifyInstance,
  km: (req: FastifyRequest) => GovernedKeyManager,
  runtime: ServiceRuntime,
  admin: AdminDeps,
): void {
  const policyAdmin = (g: GovernedKeyManager) =>
    new PolicyAdmin(admin.policies, g.governor, () => runtime.policy());

  app.get(
    '/v1/policies',
    {
      schema: { summary: 'The policy in force and every stored version' },
      config: {
        access: 'policy.show',
        responses: {
          200: {
            description: 'Versions, oldest first',
            schema: {
              type: 'object',
              properties: {
                active: { type: 'object' },
                versions: { type: 'array', items: { type: 'object' } },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      return g.governor.run({ operation: 'policy.show', params: {} }, async () => {
        const p = runtime.policy();
        const versions = await admin.policies.list();
        const stored = versions.find((v) => v.version === p.version);
        return {
          active: {
            version: p.version,
            digest: p.hash,
            name: p.document.name,
            ...(p.version === 0 ? { bootstrap: true } : {}),
            ...(stored ? versionView(stored) : {}),
          },
          versions: versions.map(versionView),
        };
      });
    },
  );

  app.get<VersionReq>(
    '/v1/policies/:version',
    {
      schema: { summary: 'One stored policy version and its document text', params: versionParams },
      config: {
        access: 'policy.show',
        responses: {
          200: {
            description: 'The version',
            schema: {
              type: 'object',
              properties: { version: { type: 'integer' }, document: { type: 'string' } },
            },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      const version = Number(req.params.version);
      return g.governor.run({ operation: 'policy.show', params: { version } }, async () => {
        const v = await admin.policies.get(version);
        if (!v) throw new HsmError('HSM_ERR_NOT_FOUND', `no policy version ${version}`);
        return { ...versionView(v), document: v.document };
      });
    },
  );

  app.post<{ Body: { document: string } }>(
    '/v1/policies/validate',
    {
      schema: {
        summary: 'Validate a policy document and run its tests; changes nothing',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['document'],
          properties: { document: documentField },
        },
      },
      config: {
        access: 'policy.show',
        responses: {
          200: {
            description: 'The verdict; issues name the YAML path',
            schema: {
              type: 'object',
              properties: {
                valid: { type: 'boolean' },
                digest: { type: 'string' },
                issues: { type: 'array', items: { type: 'object' } },
                tests: { type: 'array', items: { type: 'object' } },
              },
            },
          },
        },
      },
    },
    async (req) => {
      const digest = hashDocument(req.body.document);
      try {
        const { tests } = checkPolicy(req.body.document, 'document');
        return { valid: true, digest, issues: [], tests };
      } catch (err) {
        if (!HsmError.is(err, 'HSM_ERR_INVALID_INPUT')) throw err;
        const d = err.details as { issues?: unknown[]; failed?: unknown[] } | undefined;
        const issues = d?.issues ?? d?.failed ?? [{ path: '(root)', message: err.message }];
        return { valid: false, digest, issues };
      }
    },
  );

  app.post<{ Body: { document: string; comment?: string } }>(
    '/v1/policies',
    {
      schema: {
        summary:
          'Apply a policy; under dual control it stays pending until a second identity in another role approves',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['document'],
          properties: { document: documentField, comment: { type: 'string', maxLength: 500 } },
        },
      },
      config: { access: 'policy.apply', responses: { 201: { description: 'Stored', schema: STATUS_VIEW } } },
    },
    async (req, reply) => {
      const g = km(req);
      const out = await policyAdmin(g).apply(req.body.document, 'document', false);
      if (out.status === 'active') await admin.refreshPolicy();
      return reply
        .code(201)
        .header('location', `/v1/policies/${out.version.version}`)
        .send({ version: out.version.version, status: out.status, digest: out.version.hash });
    },
  );

  app.post<VersionReq>(
    '/v1/policies/:version/approve',
    {
      schema: {
        summary: 'Approve a pending policy version (dual control: another identity, another role)',
        params: versionParams,
      },
      config: {
        access: 'policy.approve',
        responses: { 200: { description: 'Active', schema: STATUS_VIEW } },
      },
    },
    async (req) => {
      const g = km(req);
      const version = Number(req.params.version);
      const pending = await admin.policies.get(version);
      if (pending?.status !== 'pending') {
        throw new HsmError('HSM_ERR_INVALID_INPUT', `policy version ${version} is not pending approval`);
      }
      const actor = g.governor.actor;
      if (pending.author === actor.name) {
        // Dual control means two people: the proposer cannot approve in another of their roles.
        await g.governor.run({ operation: 'policy.approve', params: { version } }, async () => {
          throw new HsmError(
            'HSM_ERR_POLICY_VIOLATION',
            'policy rule governance.dual_control refused policy.approve: the approver must be another identity than the proposer',
            { details: { rule: 'governance.dual_control', operation: 'policy.approve' } },
          );
        });
      }
      const newest = await admin.policies.pendingByHash(pending.hash);
      if (newest?.version !== version) {
        throw new HsmError(
          'HSM_ERR_INVALID_INPUT',
          `policy version ${version} was proposed again as version ${newest?.version}; approve that one`,
        );
      }
      const out = await policyAdmin(g).apply(pending.document, `policy version ${version}`, true);
      await admin.refreshPolicy();
      return { version: out.version.version, status: out.status };
    },
  );

  app.post<{ Body: { to_version: number } }>(
    '/v1/policies/rollback',
    {
      schema: {
        summary: 'Make an earlier applied version active again, as a new version',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['to_version'],
          properties: { to_version: { type: 'integer', minimum: 1 } },
        },
      },
      config: {
        access: 'policy.rollback',
        responses: {
          200: {
            description: 'The new active version',
            schema: {
              type: 'object',
              properties: { version: { type: 'integer' }, rolled_back_from: { type: 'integer' } },
            },
          },
        },
      },
    },
    async (req) => {
      const g = km(req);
      const v = await policyAdmin(g).rollback(req.body.to_version);
      await admin.refreshPolicy();
      return { version: v.version, rolled_back_from: req.body.to_version, status: v.status };
    },
  );
}

function versionView(v: PolicyVersionRecord): Record<string, unknown> {
  return {
    version: v.version,
    digest: v.hash,
    status: v.status,
    author: v.author,
    author_role: v.authorRole,
    created_at: v.createdAt,
    ...(v.activatedAt === undefined ? {} : { activated_at: v.activatedAt }),
    ...(v.approvedBy === undefined ? {} : { approved_by: v.approvedBy }),
    ...(v.rolledBackFrom === undefined ? {} : { rolled_back_from: v.rolledBackFrom }),
  };
}
