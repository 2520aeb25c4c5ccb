/** Something an operator must hear about now: a policy violation, an audit failure. */
export interface Alert {
  kind: 'policy_violation' | 'audit_failure' | 'checkpoint_failure';
  message: string;
  rule?: string;
  operation?: string;
  actor?: string;
  correlationId?: string;
}

/** Where alerts go. The monitoring work will add sinks (webhook, metrics); the CLI prints them. */
export interface AlertSink {
  raise(alert: Alert): void;
}

/** Writes each alert as one line to stderr. */
export const stderrAlerts: AlertSink = {
  raise: (a) => {
    process.stderr.write(`hsmkit: alert: ${a.kind}: ${a.message}\n`);
  },
};

/** Drops alerts (library use where the caller watches the audit log instead). */
export const noAlerts: AlertSink = { raise: () => undefined };
