/** Key ceremonies: strict scripts, M-of-N custodian approvals, resumable steps, signed transcripts. */
export * from './actions/index.js';
export * from './approval.js';
export * from './approval-source.js';
export * from './approval-verifier.js';
export * from './biometric.js';
export * from './ceremony-abort.js';
export * from './ceremony-alerts.js';
export * from './ceremony-audit.js';
export * from './ceremony-runner.js';
export * from './challenge.js';
export * from './script-loader.js';
export * from './script-schema.js';
export * from './secret-sharing.js';
export * from './share-envelope.js';
export * from './terminal-approval-source.js';
export * from './transcript.js';
export * from './transcript-verify.js';
