/**
 * `hsmkit migrate plan|run --from A --to B`: moves every key of one HSM member to another, possibly
 * of another vendor. A and B are configuration files; each names its member (the first, or the one
 * given with --from-member/--to-member), its store and its policy. This is a composition root: it
 * chooses the PKCS#11 adapter for both sides and hands src/migration interfaces only.
 */
import type { Command } from 'commander';
import { Pkcs11KeyManager } from '../../adapters/pkcs11/pkcs11-key-manager.js';
import { Pkcs11ReplicationCeremonyMember } from '../../adapters/pkcs11/replication-ceremony.js';
import { hsmkitPaths } from '../../config/home.js';
import { loadConfig, readPinFile } from '../../config/load.js';
import type { HsmkitConfig, MemberConfig } from '../../config/schema.js';
import { HsmError } from '../../errors/index.js';
import { stderrAlerts } from '../../governance/alerts.js';
import { type Governance, openGovernance } from '../../governance/open-governance.js';
import type { ReplicationCeremonyMember } from '../../kms/replication.js';
import {
  type CertificateDirectory,
  type MigrationPlan,
  type MigrationResult,
  type MigrationSide,
  migrationAudit,
  pkiCertificateDirectory,
  planMigration,
  runMigration,
  TRANSPORT_KEY_LABEL,
} from '../../migration/index.js';
import { createPkiDeps } from '../../pki/pki-deps.js';
import { asPkiKeyManager } from '../../pki/pki-key-manager.js';
import { defaultPkiPolicy } from '../../pki/policy.js';
import { evaluatePolicy } from '../../policy/policy-engine.js';
import type { Store } from '../../store/store.js';
import { memberOptions } from '../member-options.js';
import { openStore } from '../open-store.js';
import { emit, type GlobalOptions, required, table } from '../output.js';
import { collect } from '../repeatable.js';

interface SideOptions {
  from?: string;
  to?: string;
  fromMember?: string;
  toMember?: string;
  transportLabel: string;
}

/** One opened side: the migration's view, plus what the composition needs to close it. */
interface OpenedSide {
  side: MigrationSide;
  config: HsmkitConfig;
  member: MemberConfig;
  adapter: Pkcs11KeyManager;
  governance: Governance;
  store: Store;
  close(): Promise<void>;
}

/** `hsmkit migrate …`. */
export function registerMigrate(program: Command, globals: () => GlobalOptions): void {
  const migrate = program
    .command('migrate')
    .description('move every key of one HSM member to another (another vendor, or another token)');

  const common = (c: Command) =>
    c
      .option('--from <config>', 'configuration file of the source member')
      .option('--to <config>', 'configuration file of the target member')
      .option('--from-member <name>', "source member (default: the source configuration's first)")
      .option('--to-member <name>', "target member (default: the target configuration's first)")
      .option(
        '--transport-label <label>',
        'label of the transport key shared by the two HSMs',
        TRANSPORT_KEY_LABEL,
      );

  common(migrate.command('plan'))
    .description('list every key of the source and what happens to it (transfer, rekey, …) and why')
    .action(async (o: SideOptions) => {
      const plan = await withSides(o, async (source, target) =>
        planMigration(source.side, target.side, planOptions(o, source)),
      );
      emit(globals(), plan, () => describePlan(plan));
    });

  common(migrate.command('run'))
    .description('carry out the plan with audit; every key is verified by a signature on the target')
    .option(
      '--so-pin-file <side=file>',
      'SO PIN file (mode 0600) for the transport-key ceremony: from=FILE and to=FILE (or member=FILE); a token without an SO role (NSS) uses its user PIN',
      collect,
      [],
    )
    .option('--skip-blocked', 'carry out the rest when some keys are blocked or in conflict')
    .action(async (o: SideOptions & { soPinFile: string[]; skipBlocked?: boolean }) => {
      const pinFiles = parsePinFiles(o.soPinFile);
      const result = await withSides(o, async (source, target) =>
        runMigration(source.side, target.side, {
          ...planOptions(o, source),
          audit: migrationAudit(auditTargets(source, target)),
          ceremony: { open: () => openCeremony(source, target, pinFiles) },
          skipBlocked: o.skipBlocked === true,
        }),
      );
      if (!result.complete) {
        const failed = result.keys.filter((k) => k.status === 'failed');
        const first = failed.find((k) => k.error)?.error;
        throw new HsmError(
          (first?.code ?? 'HSM_ERR_POLICY') as 'HSM_ERR_POLICY',
          `migration incomplete: ${failed.map((k) => `"${k.label}" ${k.action} ${k.status}${k.error ? ` (${k.error.code})` : ''}`).join(', ')}`,
          { details: { result: summarise(result) } },
        );
      }
      emit(globals(), summarise(result), () => describeResult(result));
    });
}

function planOptions(
  o: SideOptions,
  source: OpenedSide,
): { transportKeyLabel: string; certificates: CertificateDirectory } {
  const deps = createPkiDeps(
    asPkiKeyManager(source.governance.km),
    source.store,
    defaultPkiPolicy(source.config.securityPolicy),
  );
  return { transportKeyLabel: o.transportLabel, certificates: pkiCertificateDirectory(deps) };
}

async function withSides<T>(
  o: SideOptions,
  fn: (source: OpenedSide, target: OpenedSide) => Promise<T>,
): Promise<T> {
  const source = await openSide(required(o.from, '--from'), o.fromMember);
  let target: OpenedSide;
  try {
    target = await openSide(required(o.to, '--to'), o.toMember);
  } catch (err) {
    await source.close();
    throw err;
  }
  try {
    if (source.adapter.tokenLabel === target.adapter.tokenLabel && sameModule(source, target)) {
      throw new HsmError('HSM_ERR_INVALID_INPUT', 'source and target are the same token');
    }
    return await fn(source, target);
  } finally {
    await Promise.allSettled([source.close(), target.close()]);
  }
}

function sameModule(a: OpenedSide, b: OpenedSide): boolean {
  return (
    a.member.module === b.member.module &&
    JSON.stringify(a.member.env ?? {}) === JSON.stringify(b.member.env ?? {}) &&
    a.member.initArgs === b.member.initArgs
  );
}

/** Opens one member of a configuration as a governed key manager over its own store and policy. */
async function openSide(file: string, memberName: string | undefined): Promise<OpenedSide> {
  const config = loadConfig(file);
  const member =
    memberName === undefined ? config.members[0] : config.members.find((m) => m.name === memberName);
  if (!member) {
    throw new HsmError(
      'HSM_ERR_CONFIG',
      memberName === undefined
        ? `${file}: no member configured`
        : `${file}: no member named "${memberName.slice(0, 64)}"`,
    );
  }
  const store = await openStore(config);
  let adapter: Pkcs11KeyManager;
  try {
    adapter = await Pkcs11KeyManager.open(memberOptions(config, member, { provider: member.provider }), {
      store: store.keys,
      policy: config.securityPolicy,
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  let governance: Governance;
  try {
    governance = await openGovernance({
      inner: adapter,
      db: store.db,
      security: config.securityPolicy,
      member: member.name,
      alerts: stderrAlerts,
    });
  } catch (err) {
    await adapter.close();
    await store.close();
    throw err;
  }
  const side: MigrationSide = {
    name: member.name,
    token: adapter.tokenLabel,
    km: governance.km,
    // Read-only questions to the adapter (attributes, vendor profile, generation limits); every
    // operation that changes or uses a key goes through the governed key manager.
    inspector: adapter,
    decide: (req) =>
      evaluatePolicy(governance.policy().document, { ...req, actor: governance.governor.actor }),
  };
  return {
    side,
    config,
    member,
    adapter,
    governance,
    store,
    close: async () => {
      try {
        await governance.km.close();
      } finally {
        await store.close();
      }
    },
  };
}

/** Both sides' audit logs, each with its own actor and correlation id; one log when both use one store. */
function auditTargets(source: OpenedSide, target: OpenedSide) {
  const sides = [source, target];
  if (storePath(source.config) === storePath(target.config)) sides.pop();
  return sides.map((s) => ({
    audit: s.governance.audit,
    actor: s.governance.governor.actor,
    correlationId: s.governance.governor.options.correlationId,
    policyVersion: () => s.governance.policy().version,
  }));
}

/**
 * The two ceremony sessions. Each side logs in as its token's SO with the SO PIN file given for it,
 * except a token without an SO role (NSS softokn), whose user session takes that part with the
 * configured user PIN.
 */
async function openCeremony(
  source: OpenedSide,
  target: OpenedSide,
  pinFiles: Map<string, string>,
): Promise<{ source: ReplicationCeremonyMember; target: ReplicationCeremonyMember; close(): Promise<void> }> {
  const opened: Pkcs11ReplicationCeremonyMember[] = [];
  const close = async () => {
    await Promise.allSettled(opened.map((m) => m.close()));
  };
  try {
    for (const [role, s] of [
      ['from', source],
      ['to', target],
    ] as const) {
      const login = s.adapter.transferSupport().ceremonyLogin;
      const options = memberOptions(s.config, s.member, { provider: s.member.provider });
      if (login === 'so') {
        const file = pinFiles.get(role) ?? pinFiles.get(s.member.name);
        if (file === undefined) {
          throw new HsmError(
            'HSM_ERR_INVALID_INPUT',
            `the transport-key ceremony needs the SO PIN of the ${role === 'from' ? 'source' : 'target'} member "${s.member.name}": --so-pin-file ${role}=FILE`,
          );
        }
        options.pin = readPinFile(file);
      }
      opened.push(await Pkcs11ReplicationCeremonyMember.open(options, { login }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { source: opened[0]!, target: opened[1]!, close };
}

function parsePinFiles(pairs: string[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new HsmError(
        'HSM_ERR_INVALID_INPUT',
        `--so-pin-file takes side=file, got "${pair.slice(0, 64)}"`,
      );
    }
    files.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return files;
}

/** The run's output: the outcomes, with the plan's sides and summary (the full plan is `migrate plan`). */
function summarise(r: MigrationResult) {
  return {
    from: r.plan.from,
    to: r.plan.to,
    summary: r.plan.summary,
    transportKey: r.transportKey,
    complete: r.complete,
    keys: r.keys,
  };
}

function describePlan(plan: MigrationPlan): string {
  const head = table([
    [
      'from',
      `${plan.from.member} (token ${plan.from.token}, ${plan.from.vendor}, wrap ${plan.from.wrapMechanism ?? 'none'})`,
    ],
    [
      'to',
      `${plan.to.member} (token ${plan.to.token}, ${plan.to.vendor}, wrap ${plan.to.wrapMechanism ?? 'none'})`,
    ],
    ['transport key', plan.transportKeyLabel],
  ]);
  const rows = plan.keys.map((k) => {
    const certs = k.certificates
      .filter((c) => c.action !== 'keep')
      .map(
        (c) =>
          `\n    ${c.action} ${c.serial ?? c.caName ?? ''}${c.automatic ? ' (automatic)' : ''}: ${c.reason}`,
      )
      .join('');
    return `  ${k.action.padEnd(8)} ${k.label} (${k.type})\n    ${k.reason}${certs}`;
  });
  const s = plan.summary;
  return `${head}\n${rows.join('\n')}\n${s.transfer} transfer, ${s.rekey} rekey, ${s.present} present, ${s.skip} skip, ${s.blocked} blocked, ${s.conflict} conflict`;
}

function describeResult(r: MigrationResult): string {
  return r.keys
    .map((k) => {
      const pub = k.publicKey
        ? ` public key ${k.publicKey.old.slice(0, 16)}… → ${k.publicKey.new.slice(0, 16)}…`
        : '';
      const ver = k.verified === undefined ? '' : k.verified ? ', verified by signature' : ', NOT verified';
      return `${k.status.padEnd(7)} ${k.action.padEnd(8)} ${k.label}${ver}${pub}${k.error ? ` — ${k.error.code}: ${k.error.message}` : ''}`;
    })
    .join('\n');
}

function storePath(config: HsmkitConfig): string {
  return config.store.driver === 'sqlite' ? (config.store.path ?? hsmkitPaths().database) : '';
}
