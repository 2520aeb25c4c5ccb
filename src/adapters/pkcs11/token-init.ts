import { HsmError } from '../../errors/index.js';
import { CKF, CKU } from './constants.js';
import { fromP11 } from './host/p11-error.js';
import { type Handle, loadModule, type P11, padded, padLabel } from './p11.js';

/** What a new token needs. */
export interface TokenInitRequest {
  module: string;
  label: string;
  soPin: string;
  userPin: string;
  /** Environment the module reads at C_Initialize (SOFTHSM2_CONF). */
  env: Record<string, string>;
}

/**
 * Initialises a free slot's token and sets its user PIN through PKCS#11 (C_InitToken, C_InitPIN),
 * so the PINs never appear on a command line or in a process list as they would with
 * softhsm2-util. It sets the module's environment in this process, so call it only from a process
 * that loads no other module (`hsmkit init --dev`).
 */
export function initToken(req: TokenInitRequest): { slotId: string } {
  for (const [k, v] of Object.entries(req.env)) process.env[k] = v;
  const p11 = loadModule(req.module);
  p11.C_Initialize({ flags: CKF.OS_LOCKING_OK });
  try {
    const free = p11
      .C_GetSlotList(true)
      .find((slot) => (p11.C_GetTokenInfo(slot).flags & CKF.TOKEN_INITIALIZED) === 0);
    if (!free) throw new HsmError('HSM_ERR_TOKEN_NOT_PRESENT', 'no uninitialised token slot is free');
    try {
      p11.C_InitToken(free, req.soPin, padLabel(req.label));
    } catch (err) {
      throw fromP11(err, 'init', 'initialise token');
    }
    // SoftHSM moves an initialised token to a new slot id, visible only after re-initialising.
    p11.C_Finalize();
    p11.C_Initialize({ flags: CKF.OS_LOCKING_OK });
    const slot = findByLabel(p11, req.label);
    const session = p11.C_OpenSession(slot, CKF.SERIAL_SESSION | CKF.RW_SESSION);
    try {
      p11.C_Login(session, CKU.SO, req.soPin);
      p11.C_InitPIN(session, req.userPin);
      p11.C_Logout(session);
    } catch (err) {
      throw fromP11(err, 'init', 'set the user PIN');
    } finally {
      p11.C_CloseSession(session);
    }
    return { slotId: slot.readBigUInt64LE(0).toString() };
  } finally {
    p11.C_Finalize();
  }
}

function findByLabel(p11: P11, label: string): Handle {
  const slots = p11.C_GetSlotList(true).filter((s) => padded(p11.C_GetTokenInfo(s).label) === label);
  if (slots.length !== 1)
    throw new HsmError('HSM_ERR_TOKEN_NOT_PRESENT', `expected one token "${label}", found ${slots.length}`);
  return slots[0]!;
}
