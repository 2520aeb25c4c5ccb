export * from './audit-export.js';
export * from './audit-log.js';
export * from './audit-record.js';
export * from './audit-store.js';
export * from './canonical-json.js';
export * from './checkpoint.js';
export * from './retention.js';
export * from './verify-chain.js';
