/** The backup KEK ceremony steps one token offers (the port adapters implement; src/backup drives it). */
export interface BackupKekMember {
  readonly name: string;
  /** Generates the AES-256 KEK (trusted, sensitive; extractable only until sealed). */
  createKek(label: string): Promise<void>;
  /** Wraps the KEK under an AES key made from `secret` inside the HSM; zeroes `secret`. */
  wrapKekUnderSecret(label: string, secret: Buffer, mechanism?: number): Promise<string>;
  /** Imports `secret` as a session AES key inside the HSM and unwraps the KEK with it; zeroes `secret`. */
  unwrapKekUnderSecret(label: string, blob: string, secret: Buffer, mechanism?: number): Promise<void>;
  /** Makes the KEK non-extractable for good. */
  sealKek(label: string): Promise<void>;
  close(): Promise<void>;
}
