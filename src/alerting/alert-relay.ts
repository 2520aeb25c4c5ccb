import type { Alert, AlertSink } from '../governance/alerts.js';

/**
 * The governance AlertSink of the composition root: prints alerts to stderr (as the CLI always
 * did) until the service attaches its dispatcher, then forwards to it (which logs them itself).
 */
export class AlertRelay implements AlertSink {
  #target: AlertSink | undefined;

  constructor(private readonly fallback: AlertSink) {}

  raise(alert: Alert): void {
    (this.#target ?? this.fallback).raise(alert);
  }

  /** Routes alerts to `sink` from now on; returns the function that detaches it again. */
  attach(sink: AlertSink): () => void {
    this.#target = sink;
    return () => {
      if (this.#target === sink) this.#target = undefined;
    };
  }
}
