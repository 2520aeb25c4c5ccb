/**
 * A PKCS#11 module started for a test: what a member needs to reach its token, and how to stop
 * what the setup started. Setups kill only the processes they started, by pid.
 */
import type { MemberOptions } from '../../../src/adapters/pkcs11/member.js';

/** The five local PKCS#11 implementations the conformance suite runs on. */
export type LocalVendor = 'softhsm2' | 'opencryptoki' | 'nss' | 'tpm2' | 'p11-kit-remote';

/** A running module with one initialised token. */
export interface LocalModule {
  /** The vendor profile id (config `provider:`). */
  vendor: LocalVendor;
  /** Human name with version, for reports. */
  title: string;
  /** PKCS#11 library the member loads. */
  module: string;
  /** Token label. */
  tokenLabel: string;
  /** User PIN (test fixture; never printed). */
  userPin: string;
  /** Environment the member host (and any direct session) needs. */
  env: Record<string, string>;
  /** C_Initialize pReserved, when the module needs it (NSS). */
  initArgs?: string;
  /** Member options for this token; `extra` overrides. */
  member(extra?: Partial<MemberOptions>): MemberOptions;
  /** Stops what this setup started and removes its files. Safe to call twice. */
  stop(): Promise<void>;
}
