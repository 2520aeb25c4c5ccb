import type { ReplicationCeremonyMember } from '../../kms/replication.js';
import type { PublicKeyHeader } from './ipc/protocol.js';
import { type MemberOptions, Pkcs11Member } from './member.js';

/**
 * The SO side of one member for `cluster init-replication`: a member host logged in as the
 * security officer (only an SO may create CKA_TRUSTED keys). Opened for the ceremony and closed
 * right after; the SO PIN travels only in the host's init message.
 */
export class Pkcs11ReplicationCeremonyMember implements ReplicationCeremonyMember {
  private constructor(private readonly member: Pkcs11Member) {}

  /**
   * Opens an SO session on the member's token. `options.pin` must be the SO PIN. With
   * `login: 'user'` the user session takes the SO's part, for a token without an SO role whose user
   * may create CKA_TRUSTED keys (NSS softokn: see `Pkcs11KeyManager.transferSupport`); then
   * `options.pin` is the user PIN.
   */
  static async open(
    options: MemberOptions,
    opts: { login?: 'so' | 'user' } = {},
  ): Promise<Pkcs11ReplicationCeremonyMember> {
    const login = opts.login ?? 'so';
    const m = new Pkcs11Member({
      ...options,
      userType: login,
      hostProcesses: 1,
      name: `${options.name}-${login === 'so' ? 'so' : 'ceremony'}`,
    });
    await m.start();
    return new Pkcs11ReplicationCeremonyMember(m);
  }

  get name(): string {
    return this.member.name;
  }

  async createReplicationKey(label: string, extractable: boolean): Promise<void> {
    await this.member.call('createReplicationKey', { label, extractable });
  }

  async transportKey(): Promise<unknown> {
    return (await this.member.call('transportKey', undefined)).header as PublicKeyHeader;
  }

  async wrapReplicationKeyFor(label: string, transport: unknown): Promise<string> {
    return (
      (await this.member.call('wrapReplicationKeyFor', { label, transport })).header as { blob: string }
    ).blob;
  }

  async unwrapReplicationKey(label: string, blob: string): Promise<void> {
    await this.member.call('unwrapReplicationKey', { label, blob });
  }

  async sealReplicationKey(label: string): Promise<void> {
    await this.member.call('sealReplicationKey', { label });
  }

  async close(): Promise<void> {
    await this.member.close();
  }
}
