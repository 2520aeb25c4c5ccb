/** An alert a ceremony raises: an emergency (break-glass) ceremony started, addressed to one officer. */
export interface CeremonyAlert {
  kind: 'emergency_ceremony';
  ceremonyId: string;
  reason: string;
  /** The security officer the alert is for. */
  recipient: string;
}

/** Where ceremony alerts go; the CLI prints them, the monitoring work may add a pager sink. */
export interface CeremonyAlertSink {
  raise(alert: CeremonyAlert): void;
}

/** Writes each alert as one line to stderr. */
export const stderrCeremonyAlerts: CeremonyAlertSink = {
  raise: (a) => {
    process.stderr.write(
      `hsmkit: alert: ${a.kind}: ceremony ${a.ceremonyId} for ${a.recipient}: ${a.reason.replace(/\s+/g, ' ')}\n`,
    );
  },
};
