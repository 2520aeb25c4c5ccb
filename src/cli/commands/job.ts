import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import { readInput } from '../files.js';
import { emit, type GlobalOptions, required, table } from '../output.js';
import { type JobView, showJob, submitJob, waitForJob } from '../remote/jobs.js';
import { keyRequestBody } from '../remote/keys.js';
import { remoteClient, requireServer } from '../remote/remote-context.js';

function describeJob(j: JobView): string {
  return table([
    ['id', j.id],
    ['kind', j.kind],
    ['status', j.status],
    ['created', j.created_at],
    ['updated', j.updated_at],
    ['result', j.result],
    ['error', j.error ? `${j.error.code}: ${j.error.message}` : undefined],
  ]);
}

/** `--timeout` in seconds, as milliseconds. */
function timeoutMs(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0 || n > 86_400)
    throw new HsmError('HSM_ERR_INVALID_INPUT', '--timeout takes seconds (1 to 86400)');
  return n * 1000;
}

/** The request of `job submit`: a JSON file, or for key.create the `key generate` flags. */
function jobRequest(o: { request?: string; type?: string; label?: string; kind: string }): unknown {
  if (o.kind === 'key.create') return keyRequestBody(o);
  const file = required(o.request, '--request');
  try {
    return JSON.parse(readInput(file).toString('utf8'));
  } catch (err) {
    if (HsmError.is(err)) throw err;
    throw new HsmError('HSM_ERR_INVALID_INPUT', `${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** `hsmkit job submit|show|wait`: the service's durable jobs (needs --server). */
export function registerJob(program: Command, globals: () => GlobalOptions): void {
  const job = program
    .command('job')
    .description('durable jobs of the service (--server): submit, show, wait');

  job
    .command('submit')
    .description('submit a long operation as a job (e.g. key.create of an RSA-8192 key); prints its id')
    .option('--kind <kind>', 'job kind: key.create, pki.issue-bulk, pki.crl, backup.create', 'key.create')
    .option('--request <file>', 'the job request JSON (for key.create: a Key Generation Request)')
    .option('--type <type>', 'key.create without --request: the key type')
    .option('--label <label>', 'key.create without --request: the label')
    .option('--wait', 'wait for the job to finish and print its result')
    .option('--timeout <seconds>', 'with --wait: seconds to wait', '600')
    .action(
      async (o: {
        kind: string;
        request?: string;
        type?: string;
        label?: string;
        wait?: boolean;
        timeout: string;
      }) => {
        const g = globals();
        requireServer(g, 'job submit');
        const client = remoteClient(g);
        const wait = timeoutMs(o.timeout);
        let j = await submitJob(client, o.kind, jobRequest(o));
        if (o.wait) j = await waitForJob(client, j.id, wait);
        emit(g, j, () =>
          o.wait
            ? describeJob(j)
            : `Submitted job ${j.id} (${j.kind}); "hsmkit job wait ${j.id}" waits for it.`,
        );
      },
    );

  job
    .command('show')
    .argument('<id>', 'job id')
    .description('a job’s status and, when finished, its result or error')
    .action(async (id: string) => {
      const g = globals();
      requireServer(g, 'job show');
      const j = await showJob(remoteClient(g), id);
      emit(g, j, () => describeJob(j));
    });

  job
    .command('wait')
    .argument('<id>', 'job id')
    .description('wait until a job finishes; exits with the job’s error code when it failed')
    .option('--timeout <seconds>', 'seconds to wait', '600')
    .action(async (id: string, o: { timeout: string }) => {
      const g = globals();
      requireServer(g, 'job wait');
      const j = await waitForJob(remoteClient(g), id, timeoutMs(o.timeout));
      emit(g, j, () => describeJob(j));
    });
}
