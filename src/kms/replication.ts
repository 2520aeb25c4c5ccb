/** The SO-level steps one member offers for establishing the replication key. */
export interface ReplicationCeremonyMember {
  readonly name: string;
  /** Generates the AES-256 replication key (trusted; extractable only while distributing). */
  createReplicationKey(label: string, extractable: boolean): Promise<void>;
  /** A fresh transport key pair inside this HSM; returns its public half. */
  transportKey(): Promise<unknown>;
  /** Wraps the replication key under another member's transport public key. */
  wrapReplicationKeyFor(label: string, transport: unknown): Promise<string>;
  /** Unwraps the replication key with this member's transport key. */
  unwrapReplicationKey(label: string, blob: string): Promise<void>;
  /** Makes the replication key non-extractable for good. */
  sealReplicationKey(label: string): Promise<void>;
}
