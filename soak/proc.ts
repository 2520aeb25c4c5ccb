/**
 * What the soak reads about its own processes from /proc (Linux): RSS, open descriptors, and the
 * member hosts of the service (its child processes, told apart by their SOFTHSM2_CONF). Only
 * processes the soak started are read or signalled.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Resident set size of `pid` in bytes, or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Number of open file descriptors of `pid`, or undefined when it is gone. */
export function openFds(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** Parent pid of `pid`, or undefined. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 4, after the command name in parentheses (which may itself hold spaces).
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** A member host of the service: its pid and the member (token directory) it serves. */
export interface HostProcess {
  pid: number;
  /** SOFTHSM2_CONF of the host, naming its token directory. */
  conf: string;
}

/** The live child processes of `parent` that carry a SOFTHSM2_CONF (the member hosts). */
export function memberHosts(parent: number): HostProcess[] {
  const out: HostProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (parentOf(pid) !== parent) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const conf = env.find((e) => e.startsWith('SOFTHSM2_CONF='));
      if (conf) out.push({ pid, conf: conf.slice('SOFTHSM2_CONF='.length) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
