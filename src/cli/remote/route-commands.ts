import type { Command } from 'commander';
import { HsmError } from '../../errors/index.js';
import type { GlobalOptions } from '../output.js';

/**
 * Every operation of the service's API (`METHOD path`, paths as /openapi.json writes them) and the
 * CLI command that performs it with `--server`. The parity test reads /openapi.json of a running
 * service and fails on any route missing here, so a route added later needs its command too.
 * Entries for routes a service does not (yet) offer are harmless: the command then reports the
 * service's HSM_ERR_NOT_FOUND.
 */
export const ROUTE_COMMANDS: Readonly<Record<string, string>> = {
  'POST /v1/keys': 'key generate',
  'GET /v1/keys': 'key list',
  'GET /v1/keys/{label}': 'key show',
  'GET /v1/keys/{label}/public': 'key public',
  'DELETE /v1/keys/{label}': 'key delete',
  'POST /v1/sign': 'sign',
  'POST /v1/sign/batch': 'sign-batch',
  'POST /v1/jobs': 'job submit',
  'GET /v1/jobs/{id}': 'job show',
  'GET /healthz': 'server health',
  'GET /readyz': 'server health',
  'GET /openapi.json': 'server openapi',
  'POST /v1/pki/csr': 'csr create',
  'POST /v1/pki/certificates': 'cert issue',
  'GET /v1/pki/certificates': 'cert list',
  'GET /v1/pki/certificates/{serial}': 'cert show',
  'POST /v1/pki/certificates/{serial}/renew': 'cert renew',
  'POST /v1/pki/certificates/{serial}/revoke': 'cert revoke',
  'POST /v1/pki/crls': 'crl generate',
  'GET /v1/policies': 'policy show',
  'GET /v1/policies/{version}': 'policy show',
  'POST /v1/policies/validate': 'policy validate',
  'POST /v1/policies': 'policy apply',
  'POST /v1/policies/{version}/approve': 'policy approve',
  'POST /v1/policies/rollback': 'policy rollback',
  'GET /v1/audit/export': 'audit export',
  'POST /v1/audit/verify': 'audit verify',
  'GET /v1/ceremonies': 'ceremony list',
  'GET /v1/ceremonies/{id}': 'ceremony show',
  'POST /v1/ceremonies/{id}/approvals': 'ceremony approve',
  'POST /v1/backups': 'backup create',
  'GET /v1/backups': 'backup list',
  'POST /v1/backups/verify': 'backup verify',
  'POST /v1/break-glass/requests': 'break-glass request',
  'POST /v1/break-glass/requests/{id}/approvals': 'break-glass approve',
  'GET /v1/break-glass/requests': 'break-glass list',
};

/**
 * Routes that are protocols for other clients rather than operations, with what to use instead.
 * They are public (no client certificate) and answer DER, not JSON.
 */
export const PROTOCOL_ROUTES: Readonly<Record<string, string>> = {
  'POST /ocsp': 'OCSP (RFC 6960) for relying parties: openssl ocsp -url <server>/ocsp',
  'GET /ocsp/{request}': 'OCSP (RFC 6960 appendix A, GET form) for relying parties',
  'GET /crl/{file}': 'the CRL distribution point (DER) for relying parties: curl <server>/crl/<ca>.crl',
};

/** Commands that run against a service with `--server` (some only there: job, break-glass, server). */
export const REMOTE_COMMANDS: ReadonlySet<string> = new Set([
  ...Object.values(ROUTE_COMMANDS),
  // Built on the routes above: polls GET /v1/jobs/{id}.
  'job wait',
]);

/** `key generate` for the command object of `hsmkit key generate`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Refuses `--server` for a command that has no API route (init, serve, migrate, local scans…). */
export function refuseLocalOnly(opts: GlobalOptions, cmd: Command): void {
  if (!opts.server) return;
  const path = commandPath(cmd);
  if (REMOTE_COMMANDS.has(path)) return;
  throw new HsmError(
    'HSM_ERR_INVALID_INPUT',
    `"hsmkit ${path}" runs only against the local library and has no API route: drop --server (or unset HSMKIT_SERVER)`,
  );
}

/**
 * With `--server`, the mandatory options of a command's local form (an output file, a storage URL)
 * do not apply: the remote implementation checks what it needs itself. Commander checks mandatory
 * options before any hook runs, so this runs when the program dispatches to a subcommand.
 */
export function relaxMandatoryForRemote(opts: GlobalOptions, program: Command): void {
  if (!opts.server) return;
  const visit = (cmd: Command) => {
    if (REMOTE_COMMANDS.has(commandPath(cmd))) for (const o of cmd.options) o.mandatory = false;
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
}
