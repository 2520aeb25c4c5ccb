/**
 * Child process of postgres.test.ts: opens the PostgreSQL store named by HSMKIT_TEST_STORE_URL
 * (migrating it if this is the first opener) and appends HSMKIT_TEST_APPENDS audit records,
 * concurrently from this process, then prints "done <n>".
 */
import { AuditLog } from '../../../src/audit/audit-log.js';
import { paramsDigest } from '../../../src/audit/audit-record.js';
import { AuditLogRepository } from '../../../src/store/audit-log-repository.js';
import { Store } from '../../../src/store/store.js';

const url = process.env.HSMKIT_TEST_STORE_URL ?? '';
const n = Number(process.env.HSMKIT_TEST_APPENDS ?? '0');
const store = await Store.openPostgres(url);
try {
  const log = new AuditLog(new AuditLogRepository(store.db));
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      log.append({
        timestamp: new Date().toISOString(),
        actor: `child-${process.pid}`,
        role: 'admin',
        authMethod: 'local',
        operation: 'key.sign',
        paramsDigest: paramsDigest({ i }),
        result: 'ok',
        latencyMs: 1,
        correlationId: `c-${i}`,
      }),
    ),
  );
  process.stdout.write(`done ${n}\n`);
} finally {
  await store.close();
}
