/** How much of each figure a run measures; `--quick` is the smoke run of `npm test`. */
export interface BenchConfig {
  quick: boolean;
  /** Library throughput: rounds per key, and seconds per side per round (quick: C with 2 processes only). */
  throughputRounds: number;
  throughputSeconds: number;
  warmupMs: number;
  /** Callers in flight for library throughput (each awaits its signature, then issues the next). */
  inFlight: number;
  hostProcesses: number;
  /** Single-caller latency: signatures after a warm-up. */
  latencySignatures: number;
  /** signBatch: items per call and calls in flight. */
  batchItems: number;
  batchCallers: number;
  /** HTTP: seconds per key and client connections for the batch route (×8 for one signature per request). */
  httpSeconds: number;
  httpConnections: number;
  /** Key generation samples. */
  rsa4096Samples: number;
  rsa8192Samples: number;
  otherKeygenSamples: number;
  /** Cold starts of a member host up to the first signature. */
  connectSamples: number;
  /** Member kills of the failover figure. */
  failoverKills: number;
  /** Cluster scaling: seconds per member count. */
  scalingSeconds: number;
  /** Signatures through the service for the memory figure. */
  memorySignatures: number;
}

/** The full run (`npm run bench`) or the smoke run (`--quick`). */
export function benchConfig(quick: boolean): BenchConfig {
  return quick
    ? {
        quick,
        throughputRounds: 1,
        throughputSeconds: 1,
        warmupMs: 200,
        inFlight: 64,
        hostProcesses: 2,
        latencySignatures: 200,
        batchItems: 100,
        batchCallers: 4,
        httpSeconds: 2,
        httpConnections: 2,
        rsa4096Samples: 1,
        rsa8192Samples: 1,
        otherKeygenSamples: 2,
        connectSamples: 3,
        failoverKills: 4,
        scalingSeconds: 1,
        memorySignatures: 5_000,
      }
    : {
        quick,
        throughputRounds: 2,
        throughputSeconds: 3,
        warmupMs: 500,
        inFlight: 64,
        hostProcesses: 2,
        latencySignatures: 2000,
        batchItems: 100,
        batchCallers: 4,
        httpSeconds: 10,
        httpConnections: 4,
        rsa4096Samples: 20,
        rsa8192Samples: 3,
        otherKeygenSamples: 5,
        connectSamples: 10,
        failoverKills: 20,
        scalingSeconds: 5,
        memorySignatures: 1_000_000,
      };
}
