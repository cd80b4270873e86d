/**
 * The lock of a work directory, so that two meshgen runs never write it at the same time (two synths could otherwise
 * swap `dist/` under each other and leave it without a cluster directory), and no reader (`synth --check`, `validate`)
 * reads a tree a writer is swapping.
 *
 * - A writer (every command that writes in the work directory) holds `.meshgen.lock`, created atomically (a complete
 *   file of holder information is hard-linked into place, which fails when the name exists: O_EXCL semantics, also
 *   on NFS). Once it holds it, it waits (up to {@link READER_WAIT_MS}) for the readers that started before it.
 * - A reader creates its own `.meshgen.lock.r-<pid>-<random>` and then checks for a writer: readers never exclude
 *   each other. (Both sides announce themselves before they look for the other, so one always sees the other.)
 * - A lock whose holder is gone is stale and is taken over: on the same host, its process no longer runs (or the
 *   PID now belongs to another process, told by its start time); from another host (a shared file system), it was
 *   not refreshed for {@link FOREIGN_STALE_MS} (holders touch their lock file every {@link HEARTBEAT_MS}).
 * - When the lock is held, the command fails with exit code 2, naming the holder (PID, command, host, since when)
 *   and how to clear the lock.
 *
 * Limits: the lock is advisory (only meshgen honours it); a lock left by a process killed on another host is taken
 * over only once it is stale (or deleted by hand); two hosts with the same name sharing the work directory are not
 * told apart.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from './errors';
import { faultPoint } from './fault';

/** The writer's lock file, in the work directory. */
export const LOCK_FILE = '.meshgen.lock';
/** How long a writer waits for the readers that started before it. */
export const READER_WAIT_MS = 60_000;
/** Holders refresh the modification time of their lock file this often. */
export const HEARTBEAT_MS = 30_000;
/** A lock of another host that was not refreshed for this long is stale. */
export const FOREIGN_STALE_MS = 10 * 60_000;

/** `exclusive` for commands that write in the work directory, `shared` for readers. */
export type LockMode = 'exclusive' | 'shared';

/** What a lock file says about its holder. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** The command, e.g. `meshgen synth`. */
  readonly command: string;
  /** When the lock was taken (ISO 8601). */
  readonly since: string;
  /** Start time of the holder process (Linux: field 22 of /proc/<pid>/stat), to tell a reused PID apart. */
  readonly start?: string;
  /** Unique per acquisition. */
  readonly token: string;
  readonly mode: LockMode;
}

/** A held lock. */
export interface WorkdirLock {
  readonly holder: LockHolder;
  /** Releases the lock (idempotent). */
  release(): void;
}

const READER_PREFIX = `${LOCK_FILE}.r-`;
const held = new Set<string>();

/**
 * Takes the lock of `workdir` (see the module comment).
 *
 * @param command what holds it, for the message another run prints (e.g. `meshgen synth`)
 * @throws InputError (exit 2) when another live run holds it, naming that run and how to clear the lock
 */
export function acquireLock(workdir: string, command: string, mode: LockMode): WorkdirLock {
  const dir = path.resolve(workdir);
  const holder: LockHolder = {
    pid: process.pid,
    host: os.hostname(),
    command,
    since: new Date().toISOString(),
    start: processStart(process.pid),
    token: crypto.randomBytes(12).toString('hex'),
    mode,
  };
  const text = `${JSON.stringify(holder, null, 2)}\n`;
  const file = mode === 'exclusive' ? path.join(dir, LOCK_FILE) : path.join(dir, `${READER_PREFIX}${process.pid}-${holder.token}`);
  if (mode === 'exclusive') {
    takeWriterLock(dir, file, text);
  } else {
    try {
      fs.writeFileSync(file, text, { flag: 'wx', mode: 0o644 });
    } catch (e) {
      // A work directory this user cannot write in: no writer of this user runs there either; read without a lock
      // (a writer's lock, if any, still stops the reader).
      if (!['EACCES', 'EPERM', 'EROFS'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      const writer = readHolder(path.join(dir, LOCK_FILE));
      if (writer && !held.has(writer.token) && !isStale(writer, path.join(dir, LOCK_FILE))) throw heldError(dir, writer, LOCK_FILE);
      return { holder, release: () => {} };
    }
  }
  held.add(holder.token);
  let released = false;
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      fs.utimesSync(file, now, now);
    } catch {
      // gone: release() or taken over; nothing to refresh
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const release = () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    held.delete(holder.token);
    if (mode === 'exclusive') faultPoint('lock.before-release');
    // Only our own lock: after a takeover (we were stale) the file may be another run's.
    if (readHolder(file)?.token === holder.token) fs.rmSync(file, { force: true });
  };
  try {
    if (mode === 'exclusive') {
      waitForReaders(dir, file, holder.token);
      faultPoint('lock.acquired');
    } else {
      const writer = readHolder(path.join(dir, LOCK_FILE));
      // A writer of this process reading (e.g. teardown's synth) is no conflict.
      if (writer && !held.has(writer.token) && !isStale(writer, path.join(dir, LOCK_FILE))) throw heldError(dir, writer, LOCK_FILE);
    }
  } catch (e) {
    released = true;
    clearInterval(heartbeat);
    held.delete(holder.token);
    if (readHolder(file)?.token === holder.token) fs.rmSync(file, { force: true });
    throw e;
  }
  return { holder, release };
}

/**
 * Runs `fn` holding the lock of `workdir`, and releases it when `fn` returns, throws, or its promise settles.
 */
export function withWorkdirLock<T>(workdir: string, command: string, mode: LockMode, fn: () => T): T {
  const lock = acquireLock(workdir, command, mode);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    lock.release();
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => lock.release()) as T;
  lock.release();
  return result;
}

/** The holder of the writer's lock of `workdir`, if any (stale or not). */
export function lockHolder(workdir: string): LockHolder | undefined {
  return readHolder(path.join(path.resolve(workdir), LOCK_FILE));
}

function takeWriterLock(dir: string, file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  fs.writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 10) throw e;
      }
      const current = readHolder(file);
      if (current === undefined) {
        // Vanished (released meanwhile), or not a lock file of meshgen: take it over only when it is old.
        if (fs.existsSync(file) && !olderThan(file, FOREIGN_STALE_MS)) throw heldError(dir, undefined, LOCK_FILE);
      } else if (!isStale(current, file)) {
        throw heldError(dir, current, LOCK_FILE);
      }
      breakStaleLock(file, current?.token);
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes a stale lock, and only that one: it is renamed to a name of our own first, then checked to still be the
 * stale lock; when another run took the lock over meanwhile, its lock is put back.
 */
function breakStaleLock(file: string, staleToken: string | undefined): void {
  const grave = `${file}.stale-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  try {
    fs.renameSync(file, grave);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const moved = readHolder(grave);
  if (moved !== undefined && moved.token !== staleToken) {
    try {
      fs.linkSync(grave, file);
    } catch {
      // a third run holds the lock now; the one we moved notices it lost the lock when it releases
    }
  }
  fs.rmSync(grave, { force: true });
}

/** Waits for the readers that announced themselves before this writer; stale reader files are removed. */
function waitForReaders(dir: string, writerFile: string, token: string): void {
  const deadline = Date.now() + READER_WAIT_MS;
  for (;;) {
    let live: LockHolder | undefined;
    for (const name of fs.readdirSync(dir).filter((n) => n.startsWith(READER_PREFIX))) {
      const f = path.join(dir, name);
      const r = readHolder(f);
      if (r === undefined) {
        if (olderThan(f, FOREIGN_STALE_MS)) fs.rmSync(f, { force: true });
        continue;
      }
      if (held.has(r.token)) continue; // this process reads: a writer in the same process is a bug, not a wait
      if (isStale(r, f)) fs.rmSync(f, { force: true });
      else live ??= r;
    }
    if (live === undefined) return;
    if (readHolder(writerFile)?.token !== token) throw heldError(dir, readHolder(writerFile), LOCK_FILE);
    if (Date.now() > deadline) throw heldError(dir, live, `${READER_PREFIX}${live.pid}-${live.token}`);
    sleep(50);
  }
}

function heldError(dir: string, h: LockHolder | undefined, file: string): InputError {
  const abs = path.join(dir, file);
  const who =
    h === undefined
      ? 'by a run whose lock file cannot be read'
      : `by \`${h.command}\` (pid ${h.pid} on host ${h.host}, since ${h.since}${h.mode === 'shared' ? ', reading' : ''})`;
  return new InputError({
    file: file,
    message: `the work directory ${dir} is locked ${who}: another meshgen run is using it`,
    fix:
      `wait for that run to finish and run the command again; if it no longer runs (a lock of this host whose process ` +
      `is gone is cleared by itself; one of another host after ${FOREIGN_STALE_MS / 60_000} minutes), delete ${abs}`,
  });
}

/** Whether the holder is gone: its process is not running (same host), or its lock was not refreshed (other host). */
function isStale(h: LockHolder, file: string): boolean {
  if (h.host !== os.hostname()) return olderThan(file, FOREIGN_STALE_MS);
  if (h.pid === process.pid && h.start === processStart(process.pid)) return !held.has(h.token) && olderThan(file, FOREIGN_STALE_MS);
  if (!processAlive(h.pid)) return true;
  const start = processStart(h.pid);
  return h.start !== undefined && start !== undefined && start !== h.start;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The start time of a process (clock ticks since boot), where /proc tells it. */
function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return typeof h.pid === 'number' && typeof h.token === 'string' && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - fs.statSync(file).mtimeMs > ms;
  } catch {
    return true;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
