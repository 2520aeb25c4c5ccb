/**
 * hsmkit command-line interface. Every command takes --json for machine-readable output;
 * errors print their stable HSM_ERR_* code and exit non-zero (2 for bad input, 1 otherwise).
 */
import { Command, CommanderError } from 'commander';
import { HsmError } from '../errors/index.js';
import { registerAudit } from './commands/audit.js';
import { registerBackup } from './commands/backup.js';
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
import { registerKey } from './commands/key.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPolicy } from './commands/policy.js';
import { registerServe } from './commands/serve.js';
import { registerSign } from './commands/sign.js';
import { type GlobalOptions, reportError } from './output.js';

/** Builds the program; exported so tests can drive it in-process. */
export function buildProgram(): Command {
  const program = new Command('hsmkit')
    .description('Keep certificate-manager private keys in HSMs')
    .version('0.1.0')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'configuration file (default: $HSMKIT_HOME/hsmkit.yaml)')
    .showHelpAfterError()
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();
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
