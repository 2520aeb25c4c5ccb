/**
 * Process helpers for module setups: run a tool (never printing its arguments, which may hold a
 * PIN), wait for a condition, find free loopback ports, and stop a process by pid.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/** Runs `program` synchronously; throws (naming only the program and exit status) when it fails. */
export function runTool(
  program: string,
  args: string[],
  env: Record<string, string> = {},
  opts: { input?: string; timeoutMs?: number } = {},
): string {
  const r = spawnSync(program, args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  if (r.error) throw new Error(`${program} could not be run (${(r.error as NodeJS.ErrnoException).code})`);
  if (r.status !== 0) {
    // stderr of these tools does not echo PINs; the arguments (which may) are left out.
    throw new Error(`${program} exited with ${r.status}: ${r.stderr.slice(0, 400)}`);
  }
  return r.stdout;
}

/** Polls `cond` every 20 ms until it is true or `ms` pass. */
export async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`${what}: not ready within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends SIGTERM to one pid, waits up to `graceMs`, then SIGKILL. Never touches other processes. */
export async function stopPid(pid: number | undefined, graceMs = 3000): Promise<void> {
  if (pid === undefined || pid <= 1 || !alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone between the check and the kill.
    }
  }
}

/** Binds `port` (0: any) on 127.0.0.1 and releases it; resolves with the port, or 0 if it was taken. */
function probePort(port: number): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(0));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(bound));
    });
  });
}

/** A TCP port p on 127.0.0.1 such that p and p + 1 were both free a moment ago. */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await probePort(0);
    if (p > 0 && p < 65535 && (await probePort(p + 1)) === p + 1) return p;
  }
  throw new Error('no pair of free loopback ports');
}
