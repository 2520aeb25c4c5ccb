/**
 * Test fixture: a private PostgreSQL server (Debian's `postgresql` binaries) in its own temporary
 * directory, listening on 127.0.0.1 at a free port and on a unix socket in that directory, with a
 * random password (scram-sha-256). Nothing touches the system cluster. The server runs as the
 * unprivileged `postgres` user when the tests run as root (PostgreSQL refuses to run as root);
 * spawn's uid/gid make the pid we hold the postmaster's own, so stop() signals only that process.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Store } from '../../src/store/store.js';

/** Where Debian installs the PostgreSQL server binaries (package `postgresql`, version 15). */
export const PG_BIN = process.env.HSMKIT_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** A running private PostgreSQL. */
export interface PostgresServer {
  /** `postgres://hsmkit:<password>@127.0.0.1:<port>/hsmkit`; the password is random per server. */
  url: string;
  password: string;
  port: number;
  dir: string;
  /** The postmaster's pid (the process this fixture started). */
  readonly pid: number;
  /** Stops (fast shutdown) and starts the server again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  /** Stops the server (fast shutdown) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

function runAs(): RunAs {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Initialises a data directory, starts PostgreSQL and creates the `hsmkit` role and database. */
export async function startPostgres(): Promise<PostgresServer> {
  const as = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'hsmkit-pg-'));
  if (as.uid !== undefined) chownSync(dir, as.uid, as.gid!);
  const data = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (as.uid !== undefined) chownSync(pwfile, as.uid, as.gid!);
  const opts = { ...as, stdio: 'pipe' as const, env: { ...process.env, LC_ALL: 'C' } };
  execFileSync(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-U', 'hsmkit', '--pwfile', pwfile, '-A', 'scram-sha-256', '-E', 'UTF8', '--no-sync'],
    opts,
  );
  rmSync(pwfile);
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stopped = false;

  const start = async () => {
    const proc = spawn(
      join(PG_BIN, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-h',
        '127.0.0.1',
        '-k',
        dir,
        '-c',
        'fsync=off',
        '-c',
        'max_connections=100',
        '-c',
        'log_min_messages=warning',
      ],
      { ...as, stdio: ['ignore', 'ignore', 'pipe'], env: opts.env },
    );
    let log = '';
    proc.stderr?.on('data', (d) => {
      log = (log + d.toString()).slice(-4000);
    });
    child = proc;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`postgres exited (${proc.exitCode}): ${log}`);
      try {
        execFileSync(join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-q'], {
          stdio: 'ignore',
        });
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`postgres did not become ready: ${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  const halt = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    // SIGINT = "fast" shutdown: disconnects clients, checkpoints, exits.
    proc.kill('SIGINT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  execFileSync(
    join(PG_BIN, 'psql'),
    ['-h', dir, '-p', String(port), '-U', 'hsmkit', '-d', 'postgres', '-q', '-c', 'create database hsmkit'],
    { ...opts, env: { ...opts.env, PGPASSWORD: password } },
  );

  return {
    url: `postgres://hsmkit:${password}@127.0.0.1:${port}/hsmkit`,
    password,
    port,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    async restart(downMs = 500) {
      await halt();
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The store a repository unit test runs on: a fresh SQLite file in `dir` by default, or, when
 * HSMKIT_TEST_POSTGRES_URL is set (test/integration/store/postgres.test.ts sets it to a private
 * server), a fresh database on that PostgreSQL server. Lets one suite run on both dialects.
 */
export async function openFreshTestStore(dir: string): Promise<Store> {
  const admin = process.env.HSMKIT_TEST_POSTGRES_URL;
  if (admin === undefined) return Store.openSqlite(join(dir, `${randomBytes(6).toString('hex')}.db`));
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client(admin);
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return Store.openPostgres(url.toString());
}
