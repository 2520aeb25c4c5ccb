/** SoftHSM2 2.6 in a private token directory (see ../softhsm.ts), as a LocalModule. */
import { Secret } from '../../../src/config/secret.js';
import { createSoftHsmToken, SOFTHSM_MODULE } from '../softhsm.js';
import type { LocalModule } from './local-module.js';

/** Initialises a fresh SoftHSM token in its own directory. Starts no process. */
export function startSoftHsm(label = 'conf-softhsm'): LocalModule {
  const tok = createSoftHsmToken(label);
  return {
    vendor: 'softhsm2',
    title: 'SoftHSM 2.6.1 (OpenSSL backend)',
    module: SOFTHSM_MODULE,
    tokenLabel: tok.label,
    userPin: tok.userPin,
    env: tok.env,
    member: (extra = {}) => ({
      name: 'softhsm2',
      provider: 'softhsm2',
      module: SOFTHSM_MODULE,
      tokenLabel: tok.label,
      pin: new Secret(tok.userPin, 'test'),
      env: tok.env,
      ...extra,
    }),
    stop: async () => tok.cleanup(),
  };
}
