/** Kinds of alert the service raises; the cluster's and the governor's kinds plus the evaluator's rules. */
export type AlertKind =
  | 'member-down'
  | 'member-up'
  | 'unavailable'
  | 'replication'
  | 'capacity'
  | 'latency-sla'
  | 'key-expiry'
  | 'policy_violation'
  | 'audit_failure'
  | 'checkpoint_failure'
  | 'break_glass'
  | 'failed_login'
  | 'backup_drill_failed';

/** How urgent an alert is. */
export type AlertSeverity = 'critical' | 'warning' | 'info';

/** One alert, as logged, POSTed to webhooks and shown on the dashboard. */
export interface ServiceAlert {
  /** Random UUID. */
  id: string;
  kind: AlertKind;
  severity: AlertSeverity;
  message: string;
  /** The member concerned, when one is. */
  member?: string;
  /** ISO-8601 UTC. */
  at: string;
  /** Facts of the rule (usage, limit, latency, key label …); never secrets. */
  details?: Record<string, string | number | boolean>;
}

/** The JSON body POSTed to every webhook. */
export interface WebhookPayload {
  source: 'hsmkit';
  alert: ServiceAlert;
}
