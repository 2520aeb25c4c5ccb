import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** The absolute paths of hsmkit's own files under its home folder. */
export interface HsmkitPaths {
  /** The home folder: `$HSMKIT_HOME`, default `~/.hsmkit`. */
  home: string;
  /** The configuration file, `<home>/hsmkit.yaml`. */
  configFile: string;
  /** The SQLite metadata store, `<home>/hsmkit.db` (the default `store.path`). */
  database: string;
  /** SoftHSM token folder, `<home>/tokens`. */
  tokensDir: string;
  /** Folder of PIN files, `<home>/secrets` (mode 700). */
  secretsDir: string;
  /** Security-officer PIN file, `<home>/secrets/so-pin` (mode 600). */
  soPinFile: string;
  /** User PIN file, `<home>/secrets/user-pin` (mode 600). */
  userPinFile: string;
  /** SoftHSM configuration written by bootstrap, `<home>/softhsm2.conf`. */
  softhsmConf: string;
  /** Cached capability-probe results, `<home>/cache/capabilities` (mode 700; files 600). */
  capabilityCacheDir: string;
}

/** Computes hsmkit's file locations from `HSMKIT_HOME` (default `~/.hsmkit`); every path is absolute. */
export function hsmkitPaths(env: Record<string, string | undefined> = process.env): HsmkitPaths {
  const configured = env.HSMKIT_HOME;
  let home: string;
  if (configured === undefined || configured === '') home = join(homedir(), '.hsmkit');
  else if (configured === '~') home = homedir();
  else if (configured.startsWith('~/')) home = join(homedir(), configured.slice(2));
  else home = isAbsolute(configured) ? resolve(configured) : resolve(process.cwd(), configured);
  const secretsDir = join(home, 'secrets');
  return {
    home,
    configFile: join(home, 'hsmkit.yaml'),
    database: join(home, 'hsmkit.db'),
    tokensDir: join(home, 'tokens'),
    secretsDir,
    soPinFile: join(secretsDir, 'so-pin'),
    userPinFile: join(secretsDir, 'user-pin'),
    softhsmConf: join(home, 'softhsm2.conf'),
    capabilityCacheDir: join(home, 'cache', 'capabilities'),
  };
}
