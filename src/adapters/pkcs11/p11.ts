/**
 * The seam over pkcs11js: the only file in hsmkit that imports the native binding. It exposes the
 * subset of calls hsmkit makes, so the rest of the adapter can be read (and unit-tested with a
 * fake) without the binding — the approach of letsencrypt/pkcs11key's `ctx` interface.
 */
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';

/** A PKCS#11 object or session handle, as pkcs11js represents it. */
export type Handle = Buffer;
/** An attribute in a template. */
export type Attribute = Pkcs11js.Attribute;
/** A mechanism with its parameter. */
export type Mechanism = Pkcs11js.Mechanism;
/** Token information (C_GetTokenInfo). */
export type TokenInfo = Pkcs11js.TokenInfo;
/** Library information (C_GetInfo). */
export type ModuleInfo = Pkcs11js.ModuleInfo;
/** Mechanism information (C_GetMechanismInfo). */
export type MechanismInfo = Pkcs11js.MechanismInfo;

/** The subset of the PKCS#11 API hsmkit calls. */
export interface P11 {
  C_Initialize(options?: { flags?: number; libraryParameters?: string }): void;
  C_Finalize(): void;
  C_GetInfo(): ModuleInfo;
  C_GetSlotList(tokenPresent?: boolean): Handle[];
  C_GetTokenInfo(slot: Handle): TokenInfo;
  C_GetMechanismList(slot: Handle): number[];
  C_GetMechanismInfo(slot: Handle, mech: number): MechanismInfo;
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_Logout(session: Handle): void;
  C_InitToken(slot: Handle, soPin: string, label: string): string;
  C_InitPIN(session: Handle, pin: string): void;
  C_FindObjectsInit(session: Handle, template: Attribute[]): void;
  C_FindObjects(session: Handle, max: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Attribute[]): Pkcs11js.TemplateResult;
  C_GenerateKeyPair(session: Handle, mech: Mechanism, pub: Attribute[], priv: Attribute[]): Pkcs11js.KeyPair;
  C_DestroyObject(session: Handle, object: Handle): void;
  C_SignInit(session: Handle, mech: Mechanism, key: Handle): void;
  C_Sign(session: Handle, data: Buffer, out: Buffer): Buffer;
  C_SignAsync(session: Handle, data: Buffer, out: Buffer): Promise<Buffer>;
  C_GenerateRandom(session: Handle, out: Buffer): Buffer;
  C_WrapKey(session: Handle, mech: Mechanism, wrappingKey: Handle, key: Handle, out: Buffer): Buffer;
  C_UnwrapKey(
    session: Handle,
    mech: Mechanism,
    unwrappingKey: Handle,
    wrapped: Buffer,
    template: Attribute[],
  ): Handle;
  C_CreateObject(session: Handle, template: Attribute[]): Handle;
  C_SetAttributeValue(session: Handle, object: Handle, template: Attribute[]): void;
  C_GenerateKey(session: Handle, mech: Mechanism, template: Attribute[]): Handle;
  close(): void;
}

const require = createRequire(import.meta.url);
let binding: typeof Pkcs11js | undefined;

function pkcs11js(): typeof Pkcs11js {
  binding ??= require('pkcs11js') as typeof Pkcs11js;
  return binding;
}

/** Loads a PKCS#11 library (dlopen). Does not call C_Initialize. */
export function loadModule(path: string): P11 {
  const mod = new (pkcs11js().PKCS11)();
  mod.load(path);
  return mod as unknown as P11;
}

/** The CK_RV of a failed call, when the error came from the module (not from pkcs11js itself). */
export function ckrOf(err: unknown): number | undefined {
  if (err instanceof pkcs11js().Pkcs11Error) return (err as Pkcs11js.Pkcs11Error).code;
  return undefined;
}

/** The PKCS#11 function a failed call was in (e.g. C_SignInit), when known. */
export function methodOf(err: unknown): string | undefined {
  if (err instanceof pkcs11js().Pkcs11Error) return (err as Pkcs11js.Pkcs11Error).method;
  return undefined;
}

/** pkcs11js's parameter-type tag for RSA-OAEP parameters. */
export function rsaOaepParamsType(): number {
  return pkcs11js().CK_PARAMS_RSA_OAEP;
}

/** pkcs11js's parameter-type tag for RSA-PSS parameters. */
export function rsaPssParamsType(): number {
  return pkcs11js().CK_PARAMS_RSA_PSS;
}

/** A blank-padded CK_UTF8CHAR field as text; also strips NUL padding, which some libraries write. */
export function padded(field: string): string {
  return field.replace(/[\s\0]+$/, '');
}

/** Pads a token label to the 32 bytes PKCS#11 expects, with blanks (pkcs11js would pad with NULs). */
export function padLabel(label: string): string {
  const bytes = Buffer.byteLength(label, 'utf8');
  if (bytes > 32) throw new RangeError(`token label is ${bytes} bytes; PKCS#11 allows 32`);
  return label + ' '.repeat(32 - bytes);
}
