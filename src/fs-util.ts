import * as fs from 'node:fs';
import * as path from 'node:path';

/** Private files (keys, tokens) are 0600, their directories 0700. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Writes a file atomically (temporary file in the same directory, then rename), creating directories.
 * A crash leaves the old content or the new, never half of it.
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644, dirMode = 0o755): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: dirMode });
  const tmp = `${file}${TMP_SUFFIX}${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

/** The suffix of the temporary files writeFileAtomic renames into place. */
export const TMP_SUFFIX = '.meshgen-tmp-';

/**
 * Removes the temporary files a killed writeFileAtomic left in `dir` and its subdirectories (one level deep is
 * enough for certs/<cluster>/ and sealed/). They may hold a private key: they must not linger.
 */
export function removeStaleTempFiles(dir: string): void {
  const sweep = (d: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isFile() && e.name.includes(TMP_SUFFIX)) fs.rmSync(p, { force: true });
      else if (e.isDirectory() && !e.isSymbolicLink() && depth > 0) sweep(p, depth - 1);
    }
  };
  sweep(dir, 1);
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
  writeFileAtomic(file, `${current}${sep}${add.join('\n')}\n`);
  return missing;
}
