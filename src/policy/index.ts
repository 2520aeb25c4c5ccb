export * from './bootstrap-policy.js';
export * from './key-type-facts.js';
export * from './policy-diff.js';
export * from './policy-document.js';
export * from './policy-engine.js';
export * from './policy-request.js';
export * from './policy-tests.js';
export { rotationDue } from './rules/key-rules.js';
export * from './vocabulary.js';
