import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from './errors';
import { faultPoint } from './fault';

/** Private files (keys, tokens) are 0600, their directories 0700. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Writes a file atomically (temporary file in the same directory, then rename), creating directories.
 * A crash leaves the old content or the new, never half of it. The file gets exactly `mode` and the directories it
 * creates exactly `dirMode`, whatever the umask: a key is 0600 from the moment its temporary file exists.
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644, dirMode = 0o755): void {
  const tmp = `${file}${TMP_SUFFIX}${process.pid}`;
  try {
    makeDirs(path.dirname(file), dirMode);
    fs.rmSync(tmp, { force: true }); // a leftover of a killed run with the same PID: never write into its mode
    writeFileMode(tmp, data, mode, true);
    faultPoint('atomic-write.before-rename');
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw namedIoError(e, file, true);
  }
  faultPoint('atomic-write.after-rename');
}

/**
 * Creates (or truncates) `file` with exactly `mode` whatever the umask: the mode is given to open(2) and set again
 * with fchmod(2) before anything is written. With `sync`, the data reaches the disk before the file is closed.
 */
export function writeFileMode(file: string, data: string | Buffer, mode: number, sync = false): void {
  const fd = fs.openSync(file, 'w', mode);
  try {
    fs.fchmodSync(fd, mode);
    fs.writeFileSync(fd, data);
    if (sync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates `dir` and its missing parents, each with exactly `mode` whatever the umask; existing ones are left alone. */
export function makeDirs(dir: string, mode: number): void {
  const first = fs.mkdirSync(dir, { recursive: true, mode });
  if (first === undefined) return;
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    fs.chmodSync(d, mode);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
}

/**
 * Writes a file (not atomically: for files inside a staging directory that is swapped in as a whole); an I/O error
 * names `display` (the file the user knows, e.g. its place in dist/) even where Node's names none (a failed `write`).
 */
export function writeFileNamed(file: string, data: string | Buffer, display = file): void {
  try {
    fs.writeFileSync(file, data);
  } catch (e) {
    throw namedIoError(e, display, true);
  }
}

/** I/O errors that happened while writing (an `open` that failed may have been for reading or for writing). */
const WRITE_ERRORS = new WeakSet<object>();

/** Whether an I/O error came from writing a file (see {@link namedIoError}). */
export function isWriteError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && WRITE_ERRORS.has(e);
}

/** The I/O error `e`, naming `file` (the file meant, rather than a temporary, or none), marked as a write error. */
export function namedIoError(e: unknown, file: string, writing = true): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.syscall) {
    err.path = file;
    if (writing) WRITE_ERRORS.add(err);
  }
  return e;
}

/** The suffix of the temporary files writeFileAtomic renames into place. */
export const TMP_SUFFIX = '.meshgen-tmp-';

/**
 * Removes the temporary files a killed writeFileAtomic left in `dir` and its subdirectories (`depth` levels; one is
 * enough for certs/<cluster>/ and sealed/), except the absolute paths in `keep` (this run's). They may hold a private
 * key: they must not linger. Call it holding the work directory's lock: another run's files are not stale.
 */
export function removeStaleTempFiles(dir: string, keep: ReadonlySet<string> = new Set(), depth = 1): void {
  const sweep = (d: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isFile() && e.name.includes(TMP_SUFFIX) && !keep.has(p)) fs.rmSync(p, { force: true });
      else if (e.isDirectory() && !e.isSymbolicLink() && depth > 0) sweep(p, depth - 1);
    }
  };
  sweep(dir, depth);
}

/** Writes a private file (mode 0600, directory 0700). */
export function writePrivateFile(file: string, data: string | Buffer): void {
  writeFileAtomic(file, data, PRIVATE_FILE_MODE, PRIVATE_DIR_MODE);
}

/**
 * Size limits of the files meshgen reads (README, "Limits"). A file over its limit is refused before it is parsed:
 * none of these files is legitimately anywhere near as big, and a huge one is a mistake (or an attack).
 */
export const READ_LIMITS = {
  /** topology.yaml, base.yaml. */
  yaml: 1024 * 1024,
  /** A PEM file: a sealing certificate, a CA certificate or key, a kubeconfig's certificate-authority file. */
  pem: 64 * 1024,
  /** A reader token (--token-file, --token-dir, stdin, certs/<cluster>/reader-token). */
  token: 16 * 1024,
  /** A kubeconfig file. */
  kubeconfig: 16 * 1024 * 1024,
  /** Anything else meshgen reads from the work directory (its own stores, .gitignore). */
  other: 16 * 1024 * 1024,
} as const;

/** How {@link readBounded} names a file in its errors, and what it suggests. */
export interface BoundedReadOptions {
  /** At most this many bytes are read; a bigger file is refused. */
  readonly limit: number;
  /** The file's name in messages (e.g. relative to the work directory). @default - the path as given */
  readonly display?: string;
  /** What the file is, for messages (e.g. "the sealing certificate"). @default "the file" */
  readonly what?: string;
  /** How to fix a file that is not a regular file or is too big. @default - a generic hint */
  readonly fix?: string;
}

/**
 * Reads a regular file of at most `limit` bytes as UTF-8. The file is opened without blocking (a FIFO does not hang
 * the run), checked with fstat (a directory, device such as /dev/zero, FIFO or socket is refused) and read to at
 * most `limit + 1` bytes, so a huge file costs no more than that. Errors are InputErrors naming the file; ENOENT is
 * thrown as it is (an ErrnoException) for callers that treat a missing file specially.
 */
export function readBounded(file: string, opts: BoundedReadOptions): string {
  const display = opts.display ?? file;
  const what = opts.what ?? 'the file';
  const fix = opts.fix ?? `point meshgen at the regular file it expects (at most ${formatSize(opts.limit)})`;
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw err;
    throw new InputError({ file: display, message: `${what} cannot be read (${ioReason(err.code)})`, fix });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new InputError({ file: display, message: `${what} is ${kindOf(st)}, not a regular file`, fix });
    }
    if (st.size > opts.limit) {
      throw new InputError({ file: display, message: `${what} is ${formatSize(st.size)}, over the limit of ${formatSize(opts.limit)}`, fix });
    }
    const buf = Buffer.alloc(Math.min(opts.limit, st.size) + 1);
    let n = 0;
    for (;;) {
      let got: number;
      try {
        got = fs.readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        throw new InputError({ file: display, message: `${what} cannot be read (${ioReason((e as NodeJS.ErrnoException).code)})`, fix });
      }
      if (got === 0) break;
      n += got;
      if (n === buf.length) {
        if (n > opts.limit) {
          throw new InputError({ file: display, message: `${what} is over the limit of ${formatSize(opts.limit)}`, fix });
        }
        break;
      }
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Reads at most `limit` bytes of a stream (stdin), refusing more: a token piped in from the wrong command must not
 * fill the memory.
 */
export async function readStreamBounded(
  stream: NodeJS.ReadableStream,
  opts: { limit: number; display: string; what: string; fix: string },
): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    n += b.length;
    if (n > opts.limit) {
      throw new InputError({ file: opts.display, message: `${opts.what} is over the limit of ${formatSize(opts.limit)}`, fix: opts.fix });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a file as UTF-8 (bounded, regular files only: see {@link readBounded}), or returns undefined when it does not exist. */
export function readIfExists(file: string, limit: number = READ_LIMITS.other): string | undefined {
  try {
    return readBounded(file, { limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** `1 MiB`, `64 KiB`, `12 bytes`. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** A few words for an I/O error code, as the messages of meshgen say them. */
export function ioReason(code: string | undefined): string {
  switch (code) {
    case 'ENOSPC':
      return 'disk full, ENOSPC';
    case 'EDQUOT':
      return 'disk quota exceeded, EDQUOT';
    case 'EROFS':
      return 'read-only file system, EROFS';
    case 'EACCES':
    case 'EPERM':
      return `permission denied, ${code}`;
    case 'ENOENT':
      return 'no such file or directory, ENOENT';
    case 'ENOTDIR':
      return 'a parent is not a directory, ENOTDIR';
    case 'EISDIR':
      return 'is a directory, EISDIR';
    case 'ELOOP':
      return 'too many symbolic links, ELOOP';
    case 'ENAMETOOLONG':
      return 'name too long, ENAMETOOLONG';
    case 'EMFILE':
    case 'ENFILE':
      return `too many open files, ${code}`;
    case 'EIO':
      return 'I/O error, EIO';
    default:
      return code ?? 'unknown error';
  }
}

/**
 * Appends to `.gitignore` the lines of `lines` it lacks (comment lines only go along with a missing rule), keeping
 * everything it already holds. Returns the rules added.
 */
export function ensureGitignore(workdir: string, lines: readonly string[]): string[] {
  const file = path.join(workdir, '.gitignore');
  const current = readIfExists(file) ?? '';
  const have = new Set(current.split(/\r?\n/));
  const missing = lines.filter((l) => !l.startsWith('#') && !have.has(l));
  if (missing.length === 0) return [];
  const add = lines.filter((l) => !have.has(l) && (missing.includes(l) || l.startsWith('#')));
  const sep = current === '' || current.endsWith('\n') ? '' : '\n';
  faultPoint('gitignore.before-append');
  writeFileAtomic(file, `${current}${sep}${add.join('\n')}\n`);
  faultPoint('gitignore.after-append');
  return missing;
}
