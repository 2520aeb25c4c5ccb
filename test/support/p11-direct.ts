/**
 * Test helper: a second, independent path to a PKCS#11 token that uses pkcs11js directly (not
 * hsmkit's adapter), so tests can check what hsmkit left on the token with code hsmkit did not write.
 *
 * The module reads its configuration (SOFTHSM2_CONF) from this process's environment: set it
 * before calling openDirect. The PIN is passed to C_Login and kept nowhere else.
 */
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';

const require = createRequire(import.meta.url);
const pkcs11js = require('pkcs11js') as typeof Pkcs11js;

/** CKA_* numbers used here (PKCS#11 v2.40). */
export const CKA_DIRECT = {
  CLASS: 0x0,
  TOKEN: 0x1,
  PRIVATE: 0x2,
  LABEL: 0x3,
  VALUE: 0x11,
  KEY_TYPE: 0x100,
  ID: 0x102,
  SENSITIVE: 0x103,
  WRAP: 0x106,
  UNWRAP: 0x107,
  PRIVATE_EXPONENT: 0x123,
  VALUE_LEN: 0x161,
  EXTRACTABLE: 0x162,
} as const;

/** CKO_* / CKK_* / CKM_* / CKR_* numbers used here. */
export const CKO_PRIVATE_KEY = 0x3;
export const CKO_SECRET_KEY = 0x4;
export const CKK_AES = 0x1f;
export const CKM_AES_KEY_GEN = 0x1080;
export const CKM_AES_KEY_WRAP_PAD = 0x210a;
export const CKR_ATTRIBUTE_SENSITIVE = 0x11;
export const CKR_KEY_UNEXTRACTABLE = 0x6a;
const CKU_USER = 1;

/** A logged-in read-write session on one token, opened with pkcs11js. */
export interface DirectSession {
  readonly p11: Pkcs11js.PKCS11;
  readonly session: Pkcs11js.Handle;
  /** Handles of the private keys with this CKA_ID (hex). */
  findPrivateKeys(idHex: string): Pkcs11js.Handle[];
  /** Generates a session (CKA_TOKEN=false) AES-256 key that may wrap. */
  generateSessionWrappingKey(): Pkcs11js.Handle;
  /** C_WrapKey with CKM_AES_KEY_WRAP_PAD; returns the wrapped bytes (the test expects it to throw). */
  wrap(wrappingKey: Pkcs11js.Handle, key: Pkcs11js.Handle): Buffer;
  /** C_GetAttributeValue of one attribute. */
  getAttribute(object: Pkcs11js.Handle, type: number): Buffer;
  /** Logs out, closes the session and finalises the module. */
  close(): void;
}

/** The CK_RV of a failed pkcs11js call, or undefined when it was not a PKCS#11 error. */
export function ckrOfDirect(err: unknown): number | undefined {
  return err instanceof pkcs11js.Pkcs11Error ? err.code : undefined;
}

/** Whether `err` is pkcs11js's Pkcs11Error. */
export function isPkcs11Error(err: unknown): err is Pkcs11js.Pkcs11Error {
  return err instanceof pkcs11js.Pkcs11Error;
}

/** Loads `module`, finds the slot whose token has `tokenLabel`, opens an RW session and logs in. */
export function openDirect(opts: { module: string; tokenLabel: string; pin: string }): DirectSession {
  const p11 = new pkcs11js.PKCS11();
  p11.load(opts.module);
  p11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  let session: Pkcs11js.Handle | undefined;
  try {
    const slot = p11
      .C_GetSlotList(true)
      .find((s) => p11.C_GetTokenInfo(s).label.trimEnd() === opts.tokenLabel);
    if (slot === undefined) throw new Error('p11-direct: no slot holds the requested token');
    session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      p11.C_Login(session, CKU_USER, opts.pin);
    } catch (err) {
      // Rethrown without anything that could carry the PIN.
      throw new Error(`p11-direct: C_Login failed (CKR 0x${(ckrOfDirect(err) ?? -1).toString(16)})`);
    }
  } catch (err) {
    p11.C_Finalize();
    p11.close();
    throw err;
  }
  const s = session;

  const find = (template: Pkcs11js.Template): Pkcs11js.Handle[] => {
    p11.C_FindObjectsInit(s, template);
    try {
      const out: Pkcs11js.Handle[] = [];
      for (;;) {
        const batch = p11.C_FindObjects(s, 64);
        if (batch.length === 0) return out;
        out.push(...batch);
      }
    } finally {
      p11.C_FindObjectsFinal(s);
    }
  };

  return {
    p11,
    session: s,
    findPrivateKeys: (idHex) =>
      find([
        { type: CKA_DIRECT.CLASS, value: CKO_PRIVATE_KEY },
        { type: CKA_DIRECT.ID, value: Buffer.from(idHex, 'hex') },
      ]),
    generateSessionWrappingKey: () =>
      p11.C_GenerateKey(s, { mechanism: CKM_AES_KEY_GEN }, [
        { type: CKA_DIRECT.CLASS, value: CKO_SECRET_KEY },
        { type: CKA_DIRECT.KEY_TYPE, value: CKK_AES },
        { type: CKA_DIRECT.VALUE_LEN, value: 32 },
        { type: CKA_DIRECT.TOKEN, value: false },
        { type: CKA_DIRECT.WRAP, value: true },
        { type: CKA_DIRECT.UNWRAP, value: true },
        { type: CKA_DIRECT.LABEL, value: 'p11-direct-session-wrap' },
      ]),
    wrap: (wrappingKey, key) =>
      Buffer.from(
        p11.C_WrapKey(s, { mechanism: CKM_AES_KEY_WRAP_PAD }, wrappingKey, key, Buffer.alloc(16384)),
      ),
    getAttribute: (object, type) => {
      const [a] = p11.C_GetAttributeValue(s, object, [{ type }]);
      return a!.value as Buffer;
    },
    close: () => {
      try {
        p11.C_Logout(s);
      } catch {
        // Closing anyway.
      }
      try {
        p11.C_CloseSession(s);
      } finally {
        p11.C_Finalize();
        p11.close();
      }
    },
  };
}
