/**
 * Whole-directory snapshots for "nothing changed" assertions: every path (files, directories, symlinks), its mode and,
 * for files, the SHA-256 of its bytes. Compare two with `assert.deepEqual`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Relative path → `<type> <mode octal> [sha256 | link target]`. */
export function snapshotDir(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = rel === '' ? dir : path.join(dir, rel);
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      const p = path.join(dir, child);
      const st = fs.lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      if (st.isSymbolicLink()) out.set(child, `link ${mode} ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(child, `dir ${mode}`);
        walk(child);
      } else out.set(child, `file ${mode} ${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`);
    }
  };
  walk('');
  return out;
}

/** The entries that differ between two snapshots (added, removed or changed), for readable assertion messages. */
export function snapshotDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, v] of after) {
    if (!before.has(p)) out.push(`added   ${p} (${v})`);
    else if (before.get(p) !== v) out.push(`changed ${p} (${before.get(p)} → ${v})`);
  }
  for (const p of before.keys()) if (!after.has(p)) out.push(`removed ${p}`);
  return out.sort();
}

/** The mode of a path (permission bits), e.g. 0o600. */
export function modeOf(p: string): number {
  return fs.statSync(p).mode & 0o777;
}
