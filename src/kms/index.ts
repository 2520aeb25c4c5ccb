export * from './key-info.js';
export * from './key-manager.js';
export * from './key-policy.js';
export * from './key-spec.js';
export * from './labels.js';
export * from './requests.js';
export * from './sign-algorithm.js';
export * from './without-undefined.js';
