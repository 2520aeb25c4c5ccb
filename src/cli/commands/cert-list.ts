import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import type { CertificateRecord } from '../../store/pki-records.js';
import { emit, type GlobalOptions } from '../output.js';
import { certList, listText } from '../remote/pki.js';
import { withPki } from './ca.js';

/** Most certificates listed by default, and at most (as the API). */
const LIST_DEFAULT = 100;
const LIST_MAX = 1000;

/** `hsmkit cert list [--ca NAME] [--status good|revoked] [--limit N]`: issued certificates, newest first. */
export function registerCertList(cert: Command, globals: () => GlobalOptions): void {
  cert
    .command('list')
    .description('list issued certificates, newest first (optionally of one CA or status)')
    .option('--ca <name>', 'only this CA’s')
    .option('--status <status>', 'good or revoked')
    .option('--limit <n>', `at most this many (default ${LIST_DEFAULT}, up to ${LIST_MAX})`)
    .action(async (o: { ca?: string; status?: string; limit?: string }) => {
      if (o.status !== undefined && o.status !== 'good' && o.status !== 'revoked')
        throw new HsmError('HSM_ERR_INVALID_INPUT', '--status is good or revoked');
      const limit = o.limit === undefined ? LIST_DEFAULT : Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX)
        throw new HsmError('HSM_ERR_INVALID_INPUT', `--limit takes 1 to ${LIST_MAX}`);
      if (globals().server) return certList(globals(), o);
      const items = await withPki(globals(), async (deps) => {
        if (o.ca !== undefined && !(await deps.repo.getCa(o.ca)))
          throw new HsmError('HSM_ERR_NOT_FOUND', `no CA named "${o.ca}"`);
        const cas = o.ca !== undefined ? [o.ca] : (await deps.repo.listCas()).map((c) => c.name);
        const all: CertificateRecord[] = [];
        for (const ca of cas) all.push(...(await deps.repo.listCertificates(ca)));
        return all
          .filter((c) => o.status === undefined || c.status === o.status)
          .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
          .slice(0, limit)
          .map((r) => ({
            serial: r.serial,
            subject: r.subject,
            not_before: r.notBefore,
            not_after: r.notAfter,
            status: r.status,
            ca: r.ca,
            profile: r.profile,
          }));
      });
      emit(globals(), { items }, () => listText(items));
    });
}
