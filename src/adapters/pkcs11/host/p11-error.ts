import { ckrName, codeForCkr, HsmError } from '../../../errors/index.js';
import { ckrOf, methodOf } from '../p11.js';

/**
 * Converts whatever a pkcs11js call threw into an HsmError. The code comes from the CKR number
 * (never the message text); the message names the CKR and the PKCS#11 function.
 */
export function fromP11(err: unknown, member: string, context?: string): HsmError {
  if (err instanceof HsmError) return err;
  const rv = ckrOf(err);
  const where = context ? `${context}: ` : '';
  if (rv !== undefined) {
    const fn = methodOf(err);
    return new HsmError(codeForCkr(rv), `${where}${fn ? `${fn} ` : ''}failed with ${ckrName(rv)}`, {
      ckr: rv,
      member,
    });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new HsmError('HSM_ERR_INTERNAL', `${where}${msg}`, { member, cause: err });
}
