import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { initToken } from '../../adapters/pkcs11/token-init.js';
import { hsmkitPaths } from '../../config/home.js';
import { HsmError } from '../../errors/index.js';
import { emit, type GlobalOptions, table } from '../output.js';

/** Where Debian installs SoftHSM2. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
/** Label of the development token. */
export const DEV_TOKEN_LABEL = 'hsmkit-dev';

/** `hsmkit init --dev`: a SoftHSM2 token with random PINs and a config that points at it. */
export function registerInit(program: Command, globals: () => GlobalOptions): void {
  program
    .command('init')
    .description('set up HSMKIT_HOME; --dev creates a SoftHSM2 development token')
    .option('--dev', 'create a SoftHSM2 token with random SO and user PINs')
    .action((o: { dev?: boolean }) => {
      if (!o.dev) {
        throw new HsmError(
          'HSM_ERR_INVALID_INPUT',
          'only "hsmkit init --dev" exists yet; for a real HSM write hsmkit.yaml (see docs/configuration.md)',
        );
      }
      const result = initDev();
      emit(globals(), result, () =>
        result.created
          ? [
              `Created a SoftHSM2 development token "${result.tokenLabel}".`,
              table([
                ['home', result.home],
                ['config', result.config],
                ['user PIN file', result.userPinFile],
                ['SO PIN file', result.soPinFile],
                ['SOFTHSM2_CONF', result.softhsmConf],
              ]),
              'PINs are random and stored only in those files (mode 0600).',
            ].join('\n')
          : `Already initialised: ${result.config} (token "${result.tokenLabel}"). Nothing changed.`,
      );
    });
}

/** What init did. */
export interface InitResult {
  created: boolean;
  home: string;
  config: string;
  tokenLabel: string;
  softhsmConf: string;
  userPinFile: string;
  soPinFile: string;
  slotId?: string;
}

/** Creates the development home; does nothing when it exists already (re-running quickstart is safe). */
export function initDev(env: Record<string, string | undefined> = process.env): InitResult {
  const p = hsmkitPaths(env);
  const base = {
    home: p.home,
    config: p.configFile,
    tokenLabel: DEV_TOKEN_LABEL,
    softhsmConf: p.softhsmConf,
    userPinFile: p.userPinFile,
    soPinFile: p.soPinFile,
  };
  if (existsSync(p.configFile)) return { created: false, ...base };
  if (!existsSync(SOFTHSM_MODULE)) {
    throw new HsmError(
      'HSM_ERR_CONFIG',
      `SoftHSM2 is not installed (${SOFTHSM_MODULE}); run scripts/bootstrap.sh as root`,
    );
  }
  if (existsSync(p.userPinFile) || existsSync(p.soPinFile)) {
    throw new HsmError(
      'HSM_ERR_CONFIG',
      `a previous "hsmkit init --dev" in ${p.home} did not finish; remove that folder and run it again`,
    );
  }
  for (const dir of [p.home, p.secretsDir, p.tokensDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  writeFileSync(
    p.softhsmConf,
    `# Written by hsmkit init --dev\ndirectories.tokendir = ${p.tokensDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
    { mode: 0o600 },
  );
  // 24 random characters from the OS RNG; hex keeps them printable for any token.
  const soPin = randomBytes(12).toString('hex');
  const userPin = randomBytes(12).toString('hex');
  writeFileSync(p.soPinFile, `${soPin}\n`, { mode: 0o600, flag: 'wx' });
  writeFileSync(p.userPinFile, `${userPin}\n`, { mode: 0o600, flag: 'wx' });
  const { slotId } = initToken({
    module: SOFTHSM_MODULE,
    label: DEV_TOKEN_LABEL,
    soPin,
    userPin,
    env: { SOFTHSM2_CONF: p.softhsmConf },
  });
  const config = {
    hsm_configuration: {
      provider: 'softhsm2',
      connection: {
        type: 'local',
        module: SOFTHSM_MODULE,
        token_label: DEV_TOKEN_LABEL,
        pin_file: relative(p.home, p.userPinFile),
        env: { SOFTHSM2_CONF: p.softhsmConf },
      },
      performance: { connection_pool_size: 4, operation_timeout_ms: 5000, batch_size: 64 },
      security_policy: {
        key_attributes: { extractable: false, persistent: true, sensitive: true },
      },
    },
    store: { driver: 'sqlite', path: relative(p.home, p.database) },
  };
  // Written last and exclusively: its presence means initialisation finished.
  writeFileSync(
    p.configFile,
    `# hsmkit development configuration (hsmkit init --dev)\n${stringify(config)}`,
    {
      mode: 0o600,
      flag: 'wx',
    },
  );
  return { created: true, ...base, slotId };
}
