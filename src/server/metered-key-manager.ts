import type { KeyInfo } from '../kms/key-info.js';
import type { KeyManager } from '../kms/key-manager.js';
import type { ServiceMetrics } from './service-metrics.js';

/** Key-manager methods measured, with the operation name used in the metrics (the policy's names). */
const OPERATIONS: Record<string, string> = {
  createKey: 'key.create',
  getKey: 'key.get',
  getPublicKey: 'key.public',
  sign: 'key.sign',
  listKeys: 'key.list',
  deleteKey: 'key.delete',
  verify: 'key.verify',
  generateRandom: 'hsm.random',
  healthCheck: 'hsm.health',
};

/** What the metrics know about a key, learnt from the lookups the governor makes anyway. */
type KeyLabels = { member: string; key_type: string };

/**
 * Wraps the ungoverned key manager (below the governor, so the HSM time is measured and not the
 * policy's) and times each call into `hsmkit_operation_duration_seconds`. Member and key type come
 * from the KeyInfo the governor's own lookup returned just before, so measuring costs no HSM call.
 * A Proxy, so the capability guards (`isKeyLister`, …) see exactly the inner key manager's methods.
 */
export function meteredKeyManager(
  inner: KeyManager,
  metrics: ServiceMetrics,
  seen: Map<string, KeyLabels>,
): KeyManager {
  const remember = (info: KeyInfo) => {
    const labels = { member: info.member, key_type: String(info.type) };
    seen.set(info.label, labels);
    seen.set(info.uri, labels);
    if (seen.size > 20_000) seen.clear();
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      const operation = typeof prop === 'string' ? OPERATIONS[prop] : undefined;
      if (typeof value !== 'function' || operation === undefined) return value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        const ref = refOf(args[0]);
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (prop === 'getKey' || prop === 'createKey') remember(result as KeyInfo);
          if (prop === 'listKeys') for (const k of result as KeyInfo[]) remember(k);
          const labels = (ref === undefined ? undefined : seen.get(ref)) ?? { member: '', key_type: '' };
          metrics.operationSeconds.observe({ operation, ...labels }, (performance.now() - started) / 1000);
          metrics.operations.inc({ operation, result: 'ok' });
          return result;
        } catch (err) {
          metrics.operations.inc({ operation, result: 'error' });
          throw err;
        }
      };
    },
  });
}

/** The key a call names: a KeyRef string, or the `key`/`label` of a request object. */
function refOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null) {
    const r = arg as { key?: unknown; label?: unknown };
    if (typeof r.key === 'string') return r.key;
    if (typeof r.label === 'string') return r.label;
  }
  return undefined;
}
