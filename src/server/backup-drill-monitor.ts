import { Gauge, type Registry } from 'prom-client';
import type { AlertDispatcher } from '../alerting/alert-dispatcher.js';
import type { DrillResult } from '../backup/backup.js';

/** Condition key of the drill alert: raised once per failure streak, re-armed by a passing drill. */
const DRILL_ALERT_KEY = 'backup_drill_failed';

/**
 * Turns scheduled drill results into Prometheus gauges and a `backup_drill_failed` alert:
 *
 * - `hsmkit_backup_drill_last_run_timestamp_seconds`, `hsmkit_backup_drill_last_success_timestamp_seconds`
 * - `hsmkit_backup_drill_duration_seconds` (the last drill's measured recovery time)
 * - `hsmkit_backup_drill_rto_seconds`, `hsmkit_backup_drill_within_rto` (1/0), `hsmkit_backup_drill_ok` (1/0)
 * - `hsmkit_backup_drill_keys_verified`
 *
 * A failed drill or a missed RTO raises the alert (critical) with the measured time and the error
 * code; while drills keep failing it repeats once `repeatAfterMs` has passed (0: every failed drill),
 * and a passing drill resolves it.
 */
export class BackupDrillMonitor {
  readonly #lastRun: Gauge;
  readonly #lastSuccess: Gauge;
  readonly #duration: Gauge;
  readonly #rto: Gauge;
  readonly #withinRto: Gauge;
  readonly #ok: Gauge;
  readonly #verified: Gauge;

  constructor(
    registry: Registry,
    private readonly alerts: Pick<AlertDispatcher, 'raise' | 'resolve'>,
    private readonly opts: { member: string; repeatAfterMs?: number; now?: () => number } = { member: '' },
  ) {
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
    this.#lastRun = gauge(
      'hsmkit_backup_drill_last_run_timestamp_seconds',
      'When the last recovery drill ran',
    );
    this.#lastSuccess = gauge(
      'hsmkit_backup_drill_last_success_timestamp_seconds',
      'When a recovery drill last passed (restored, verified, within the RTO)',
    );
    this.#duration = gauge(
      'hsmkit_backup_drill_duration_seconds',
      'Measured recovery time of the last drill',
    );
    this.#rto = gauge('hsmkit_backup_drill_rto_seconds', 'Recovery time objective of the drills');
    this.#withinRto = gauge('hsmkit_backup_drill_within_rto', '1 when the last drill met the RTO, else 0');
    this.#ok = gauge('hsmkit_backup_drill_ok', '1 when the last drill passed, else 0');
    this.#verified = gauge('hsmkit_backup_drill_keys_verified', 'Keys the last drill restored and verified');
  }

  /** Records one drill result. */
  report(r: DrillResult): void {
    const now = (this.opts.now ?? Date.now)() / 1000;
    this.#lastRun.set(now);
    this.#duration.set(r.measuredMs / 1000);
    this.#rto.set(r.rtoMs / 1000);
    this.#withinRto.set(r.withinRto ? 1 : 0);
    this.#ok.set(r.ok ? 1 : 0);
    this.#verified.set(r.verified);
    if (r.ok) {
      this.#lastSuccess.set(now);
      this.alerts.resolve(DRILL_ALERT_KEY);
      return;
    }
    const why = r.error
      ? `failed: ${r.error.code}: ${r.error.message.slice(0, 200)}`
      : `took ${r.measuredMs} ms, over the RTO of ${r.rtoMs} ms`;
    this.alerts.raise({
      kind: 'backup_drill_failed',
      key: DRILL_ALERT_KEY,
      ...(this.opts.repeatAfterMs === undefined ? {} : { repeatAfterMs: this.opts.repeatAfterMs }),
      ...(this.opts.member === '' ? {} : { member: this.opts.member }),
      message: `recovery drill ${why}`,
      details: {
        measuredMs: r.measuredMs,
        rtoMs: r.rtoMs,
        withinRto: r.withinRto,
        restored: r.restored,
        verified: r.verified,
        ...(r.error ? { code: r.error.code } : {}),
      },
    });
  }
}
