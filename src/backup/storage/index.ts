export * from './backup-storage.js';
export * from './file-backup-storage.js';
export * from './vendor-backup-service.js';
