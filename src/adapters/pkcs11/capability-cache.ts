/**
 * The capability-cache port: where a member's capability probe result is kept between processes.
 * The probe (vendors/capability-probe.ts) is a property of the module build, the token's model and
 * firmware, and the mechanism list; the member host hashes those into a fingerprint before probing
 * (host/probe-fingerprint.ts) and reuses a cached result only when the fingerprint matches.
 * Entries hold no secret: a probe result is mechanism checks, property verdicts and notes.
 */
import type { ProbeResult } from './vendors/capability-probe.js';

/** One cached probe: the fingerprint it was taken under, when, and what it found. */
export interface CachedProbe {
  /** SHA-256 (hex) of what the probe depends on, computed by the member host. */
  fingerprint: string;
  /** When the probe ran (ISO 8601). */
  probedAt: string;
  result: ProbeResult;
}

/**
 * Keeps probe results between processes, keyed by fingerprint (so two tokens never share one).
 * Implementations never throw: an entry that cannot be read is absent, a write that fails is lost.
 */
export interface CapabilityCache {
  /** The entry stored under `fingerprint`, or undefined (absent, unreadable, corrupt or too old). */
  get(fingerprint: string): Promise<CachedProbe | undefined>;
  /** Stores `entry` under `entry.fingerprint`. */
  set(entry: CachedProbe): Promise<void>;
}

/** The default: no cache, every member host probes (as before the cache existed). */
export const NO_CAPABILITY_CACHE: CapabilityCache = {
  get: async () => undefined,
  set: async () => undefined,
};
