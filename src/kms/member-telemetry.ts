/**
 * Live facts about one member's use of its token, for the service's metrics: an optional
 * capability of a member's key manager (the PKCS#11 adapter has it; others may not).
 */
export interface MemberTelemetry {
  telemetry(): Promise<MemberTelemetryReport>;
}

/** One reading of a member. */
export interface MemberTelemetryReport {
  /** Operation sessions summed over the member's host processes: in use, idle, and the bound. */
  sessions: { inUse: number; idle: number; max: number };
  /** Objects on the token (key slots in use). */
  objects: number;
  /** The token's or vendor profile's object limit; absent when neither reports one. */
  objectLimit?: number;
}

/** True when `km` reports telemetry. */
export const isMemberTelemetry = (km: unknown): km is MemberTelemetry =>
  typeof (km as { telemetry?: unknown } | undefined)?.telemetry === 'function';

/** Circuit-breaker states as the cluster reports them. */
export type MemberBreakerState = 'closed' | 'half-open' | 'open';

/** One member as the service's metrics see it: its own (ungoverned) key manager and breaker. */
export interface MemberProbe {
  member: string;
  /** The member's key manager; telemetry and RNG samples come from it when it has them. */
  km: unknown;
  /** The cluster's breaker for the member; absent for a single member (no breaker). */
  breakerState?: () => MemberBreakerState;
}
