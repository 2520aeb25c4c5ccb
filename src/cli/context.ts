/**
 * The CLI's composition root: reads the configuration, opens the store and the key manager.
 * This (and the server, later) is the only place that chooses adapters.
 */
import { Pkcs11KeyManager } from '../adapters/pkcs11/pkcs11-key-manager.js';
import { AlertRelay } from '../alerting/alert-relay.js';
import type { ClusterKeyManager } from '../cluster/cluster-key-manager.js';
import { hsmkitPaths } from '../config/home.js';
import { loadConfig } from '../config/load.js';
import type { HsmkitConfig, MemberConfig } from '../config/schema.js';
import { HsmError } from '../errors/index.js';
import { stderrAlerts } from '../governance/alerts.js';
import { GovernedKeyManager } from '../governance/governed-key-manager.js';
import { Governor } from '../governance/governor.js';
import { type Governance, openGovernance } from '../governance/open-governance.js';
import type { KeyManager } from '../kms/key-manager.js';
import type { MemberProbe } from '../kms/member-telemetry.js';
import { RefusingKeyManager } from '../kms/refusing-key-manager.js';
import type { Actor } from '../policy/policy-request.js';
import { clusterMonitorSource } from '../server/cluster-monitor-source.js';
import type { Store } from '../store/store.js';
import { capabilityCacheFor } from './capability-cache.js';
import { followMaintenance } from './follow-maintenance.js';
import { memberOptions } from './member-options.js';
import { openCluster } from './open-cluster.js';
import { openStore } from './open-store.js';
import type { GlobalOptions } from './output.js';

/** What a command works with. Close it when done. */
export interface CliContext {
  config: HsmkitConfig;
  member: MemberConfig;
  /** The governed key manager: every call is decided by the policy and audited. */
  km: CliKeyManager;
  store: Store;
  /** Policy, audit log and policy administration of this run. */
  governance: Governance;
  /** What the HTTP service needs beyond a CLI run (`hsmkit serve`). */
  service: ServiceHooks;
  close(): Promise<void>;
}

/** Per-request governance and member observation for the HTTP service. */
export interface ServiceHooks {
  /**
   * A key manager governed for `actor` (one per HTTP request), sharing this context's policy and
   * audit log; `wrap` decorates the ungoverned key manager (metrics). Never close it.
   */
  governFor(
    actor: Actor,
    correlationId: string,
    wrap?: (inner: KeyManager) => KeyManager,
  ): GovernedKeyManager;
  /** Each member's state now. */
  memberStates(): Record<string, string>;
  /** Calls `fn` on each member state change; returns the unsubscribe function. */
  onMemberState(fn: (member: string, state: string) => void): () => void;
  /** Operations waiting for a member (cluster queue), or calls queued or in flight (one member). */
  queueDepth(): number;
  /** The cluster's `alert` events (replication, unavailable, member-down); absent for one member. */
  onClusterAlert?(fn: (a: { kind: string; message: string }) => void): () => void;
  /** Key objects on each reachable member (capacity alerting). */
  memberKeyCounts(): Promise<Record<string, number>>;
  /** Each member's own key manager and breaker, for the per-member metrics (pool, slots, RNG). */
  memberProbes(): MemberProbe[];
  /** Governance alerts: printed to stderr until the service attaches its alerting. */
  alerts: AlertRelay;
}

/**
 * The CLI's key manager: governed, plus a read-only view of the member's host processes for
 * `hsm info`. The adapter itself is never handed out, so no command can bypass the policy.
 */
export type CliKeyManager = GovernedKeyManager & {
  readonly member: { readonly hostPids: number[]; readonly lastConnectMs: number };
};

/** Loads the config named by --config, else $HSMKIT_HOME/hsmkit.yaml. */
export function loadCliConfig(opts: GlobalOptions): HsmkitConfig {
  const file = opts.config ?? process.env.HSMKIT_CONFIG ?? hsmkitPaths().configFile;
  try {
    return loadConfig(file);
  } catch (err) {
    if (HsmError.is(err, 'HSM_ERR_CONFIG') && opts.config === undefined && /not found/.test(err.message)) {
      throw new HsmError(
        'HSM_ERR_CONFIG',
        `${err.message}; run "hsmkit init --dev" first, or pass --config`,
        {
          details: err.details ?? {},
        },
      );
    }
    throw err;
  }
}

/** How a context is opened beyond the global options. */
export interface OpenContextOptions {
  /**
   * `hsmkit serve`: a single member whose token refuses the PIN does not stop the start; the
   * member is `auth_failed` and every call fails with its code (no second login, ever).
   */
  tolerateAuthFailure?: boolean;
}

/** Opens the configured member and store. */
export async function openContext(opts: GlobalOptions, how: OpenContextOptions = {}): Promise<CliContext> {
  const config = loadCliConfig(opts);
  const member = config.members[0];
  if (!member) throw new HsmError('HSM_ERR_CONFIG', 'hsm_configuration.connection: no member configured');
  const store = await openStore(config);
  // One member: a Pkcs11KeyManager with the metadata store. Several: the cluster (failover,
  // replication); its keys are logical (URIs without token) and their metadata is the cluster's.
  let inner: Pkcs11KeyManager | ClusterKeyManager | RefusingKeyManager;
  let hostPids: () => number[];
  let lastConnectMs: () => number;
  let observe: Omit<ServiceHooks, 'governFor' | 'alerts'>;
  let stopMaintenance: (() => void) | undefined;
  try {
    if (config.members.length > 1) {
      const cluster = await openCluster(config, store.keys);
      inner = cluster;
      // Members in maintenance (`hsmkit maintenance plan`) are out of rotation.
      stopMaintenance = await followMaintenance(cluster, store.db);
      const hosts = () => cluster.members.map((m) => (m.km as unknown as Pkcs11KeyManager).member);
      hostPids = () => hosts().flatMap((h) => h.hostPids);
      lastConnectMs = () => Math.max(...hosts().map((h) => h.lastConnectMs));
      observe = {
        ...clusterMonitorSource(cluster),
        memberProbes: () =>
          cluster.members.map((m) => ({ member: m.name, km: m.km, breakerState: () => m.breaker.state })),
      };
    } else {
      const single = await Pkcs11KeyManager.open(
        // The vendor profile: the configured provider (config wins over detection).
        memberOptions(config, member, { provider: member.provider }),
        { store: store.keys, policy: config.securityPolicy, capabilityCache: capabilityCacheFor(config) },
      );
      inner = single;
      hostPids = () => single.member.hostPids;
      lastConnectMs = () => single.member.lastConnectMs;
      observe = {
        memberStates: () => ({ [member.name]: single.member.state }),
        onMemberState: (fn) => {
          const on = (e: { to: string }) => fn(member.name, e.to);
          single.member.on('state', on);
          return () => single.member.off('state', on);
        },
        queueDepth: () => single.member.load,
        memberKeyCounts: async () => ({ [member.name]: (await single.listKeys()).length }),
        memberProbes: () => [{ member: member.name, km: single }],
      };
    }
  } catch (err) {
    if (
      how.tolerateAuthFailure &&
      config.members.length === 1 &&
      HsmError.is(err, 'HSM_ERR_AUTH', 'HSM_ERR_PIN_LOCKED')
    ) {
      process.stderr.write(`hsmkit: member ${member.name} is auth_failed: ${err.message}\n`);
      inner = new RefusingKeyManager(err, member.name);
      hostPids = () => [];
      lastConnectMs = () => 0;
      observe = {
        memberStates: () => ({ [member.name]: 'auth_failed' }),
        onMemberState: () => () => undefined,
        queueDepth: () => 0,
        memberKeyCounts: async () => ({}),
        memberProbes: () => [{ member: member.name, km: inner }],
      };
    } else {
      await store.close();
      throw err;
    }
  }
  const alerts = new AlertRelay(stderrAlerts);
  let governance: Governance;
  try {
    governance = await openGovernance({
      inner,
      db: store.db,
      security: config.securityPolicy,
      member: member.name,
      alerts,
    });
  } catch (err) {
    await inner.close();
    await store.close();
    throw err;
  }
  const km = Object.defineProperty(governance.km, 'member', {
    value: Object.freeze({
      get hostPids() {
        return hostPids();
      },
      get lastConnectMs() {
        return lastConnectMs();
      },
    }),
  }) as CliKeyManager;
  return {
    config,
    member,
    km,
    store,
    governance,
    service: {
      ...observe,
      alerts,
      governFor: (actor, correlationId, wrap) =>
        new GovernedKeyManager(
          wrap ? wrap(inner) : inner,
          new Governor({ ...governance.governor.options, actor, correlationId }),
        ),
    },
    close: async () => {
      stopMaintenance?.();
      await km.close();
      await store.close();
    },
  };
}

/** Runs `fn` with an open context and always closes it. */
export async function withContext<T>(
  opts: GlobalOptions,
  fn: (ctx: CliContext) => Promise<T>,
  how: OpenContextOptions = {},
): Promise<T> {
  const ctx = await openContext(opts, how);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
