/**
 * hsmkit command-line interface. Every command takes --json for machine-readable output;
 * errors print their stable HSM_ERR_* code and exit non-zero (2 for bad input, 1 otherwise).
 */
import { Command, CommanderError, Option } from 'commander';
import { HsmError } from '../errors/index.js';
import { registerAudit } from './commands/audit.js';
import { registerBackup } from './commands/backup.js';
import { registerBench } from './commands/bench.js';
import { registerBreakGlass } from './commands/break-glass.js';
import { registerCa } from './commands/ca.js';
import { registerCeremony } from './commands/ceremony.js';
import { registerCert } from './commands/cert.js';
import { registerCluster } from './commands/cluster.js';
import { registerCodesign } from './commands/codesign.js';
import { registerCompliance } from './commands/compliance.js';
import { registerCrl } from './commands/crl.js';
import { registerCsr } from './commands/csr.js';
import { registerDocsign } from './commands/docsign.js';
import { registerHsm } from './commands/hsm.js';
import { registerInit } from './commands/init.js';
import { registerJob } from './commands/job.js';
import { registerKey } from './commands/key.js';
import { registerMaintenance } from './commands/maintenance.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPolicy } from './commands/policy.js';
import { registerServe } from './commands/serve.js';
import { registerServer } from './commands/server.js';
import { registerSign } from './commands/sign.js';
import { registerSignBatch } from './commands/sign-batch.js';
import { type GlobalOptions, reportError } from './output.js';
import { refuseLocalOnly, relaxMandatoryForRemote } from './remote/route-commands.js';

/** Builds the program; exported so tests can drive it in-process. */
export function buildProgram(): Command {
  const program = new Command('hsmkit')
    .description('Keep certificate-manager private keys in HSMs')
    .version('0.1.0')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'configuration file (default: $HSMKIT_HOME/hsmkit.yaml)')
    .addOption(
      new Option('--server <url>', 'run against the hsmkit service at this https:// URL').env(
        'HSMKIT_SERVER',
      ),
    )
    .option('--client-cert <file>', 'client certificate (PEM) for --server')
    .option('--client-key <file>', 'its private key (PEM, file mode 0600)')
    .option('--server-ca <file>', 'CA certificate that issued the service certificate')
    .option('--totp-file <file>', 'TOTP code or otpauth:// URI for human identities (or env HSMKIT_TOTP)')
    .option('--role <role>', 'role to act in on the service (X-Hsmkit-Role)')
    .showHelpAfterError()
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();
  // Commands without an API route refuse --server rather than silently running locally.
  program.hook('preAction', (_program, action) => refuseLocalOnly(globals(), action));
  program.hook('preSubcommand', () => relaxMandatoryForRemote(globals(), program));
  registerInit(program, globals);
  registerHsm(program, globals);
  registerKey(program, globals);
  registerSign(program, globals);
  registerCluster(program, globals);
  registerCa(program, globals);
  registerCeremony(program, globals);
  registerCsr(program, globals);
  registerCert(program, globals);
  registerCrl(program, globals);
  registerCodesign(program, globals);
  registerDocsign(program, globals);
  registerServe(program, globals);
  registerPolicy(program, globals);
  registerAudit(program, globals);
  registerCompliance(program, globals);
  registerMigrate(program, globals);
  registerBackup(program, globals);
  registerMaintenance(program, globals);
  registerBench(program, globals);
  registerSignBatch(program, globals);
  registerJob(program, globals);
  registerServer(program, globals);
  registerBreakGlass(program, globals);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander, and with --json
      // they are also given as a coded error so scripts need not parse usage text.
      if (err.exitCode === 0) return 0;
      if (argv.includes('--json')) reportError(new HsmError('HSM_ERR_INVALID_INPUT', err.message), true);
      return 2;
    }
    return reportError(err, argv.includes('--json'));
  }
}
