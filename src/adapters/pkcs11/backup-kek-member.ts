import type { BackupKekMember } from '../../kms/backup-kek-member.js';
import { type MemberOptions, Pkcs11Member } from './member.js';

/**
 * The SO side of a PKCS#11 token for the backup KEK: a member host logged in as the security
 * officer (only an SO may set CKA_TRUSTED). Opened for the step and closed right after.
 */
export class Pkcs11BackupKekMember implements BackupKekMember {
  private constructor(private readonly member: Pkcs11Member) {}

  /** `options.pin` must be the SO PIN. */
  static async open(options: MemberOptions): Promise<Pkcs11BackupKekMember> {
    const m = new Pkcs11Member({
      ...options,
      userType: 'so',
      hostProcesses: 1,
      name: `${options.name}-backup-so`,
    });
    await m.start();
    return new Pkcs11BackupKekMember(m);
  }

  get name(): string {
    return this.member.name;
  }

  async createKek(label: string): Promise<void> {
    await this.member.call('createReplicationKey', { label, extractable: true });
  }

  async wrapKekUnderSecret(label: string, secret: Buffer, mechanism?: number): Promise<string> {
    try {
      const h = mechanism === undefined ? { label } : { label, mechanism };
      return ((await this.member.call('wrapSecretKeyUnderValue', h, secret)).header as { blob: string }).blob;
    } finally {
      secret.fill(0);
    }
  }

  async unwrapKekUnderSecret(label: string, blob: string, secret: Buffer, mechanism?: number): Promise<void> {
    try {
      const h = mechanism === undefined ? { label, blob } : { label, blob, mechanism };
      await this.member.call('unwrapSecretKeyUnderValue', h, secret);
    } finally {
      secret.fill(0);
    }
  }

  async sealKek(label: string): Promise<void> {
    await this.member.call('sealReplicationKey', { label });
  }

  async close(): Promise<void> {
    await this.member.close();
  }
}
