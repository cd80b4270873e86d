import * as fs from 'node:fs';
import * as path from 'node:path';
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
  makeDirs(path.dirname(file), dirMode);
  const tmp = `${file}${TMP_SUFFIX}${process.pid}`;
  fs.rmSync(tmp, { force: true }); // a leftover of a killed run with the same PID: never write into its mode
  writeFileMode(tmp, data, mode, true);
  faultPoint('atomic-write.before-rename');
  fs.renameSync(tmp, file);
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

/** Reads a file as UTF-8, or returns undefined when it does not exist. */
export function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
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
