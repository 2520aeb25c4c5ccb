export type { AlertKind, AlertSeverity, ServiceAlert, WebhookPayload } from './alert.js';
export { AlertDispatcher, type AlertInput } from './alert-dispatcher.js';
export { AlertEvaluator, type EvaluatorSources, type MemberCapacity } from './alert-evaluator.js';
export { AlertRelay } from './alert-relay.js';
export { type DeadLetter, DeadLetterRepository, redactUrl } from './dead-letters.js';
export { backoffMs, type Delivery, deliverWebhook, type RetryPolicy } from './webhook.js';
