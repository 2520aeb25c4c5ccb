import type { SoftHsmToken } from './softhsm.js';
import { listObjects } from './tools.js';

/** Counts the objects labelled `label` on a token, read with pkcs11-tool (not through hsmkit). */
export function countObjects(token: SoftHsmToken, label: string): number {
  return listObjects(token).filter((o) => o.label === label).length;
}
