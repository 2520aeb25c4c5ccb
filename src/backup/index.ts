export * from './backup.js';
export * from './format.js';
export * from './kek.js';
export * from './kek-member.js';
export * from './recovery.js';
export * from './token-backup.js';
