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
  const tmp = `${file}.meshgen-tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
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
