/**
 * The tree `meshgen plan` compares with: a `dist/` directory (`--against-dir`), or the `dist/` of the work directory as
 * committed at a git revision (`--against <ref>`, default HEAD), read with `git ls-tree` and one `git cat-file --batch`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIST_DIR } from '../commands/synth';
import { InputError } from '../errors';
import { currentTree, readTree, type Tree } from '../output/tree';

/** The old tree and where it came from. */
export interface AgainstTree {
  /** Path relative to `dist/` → content. */
  readonly files: Tree;
  /** How the source is shown to the user, e.g. `HEAD (dist/)` or `the directory old-dist`. */
  readonly label: string;
  /** Machine-readable source. */
  readonly source:
    | { readonly kind: 'git'; readonly ref: string; readonly commit?: string; readonly path: string }
    | { readonly kind: 'dir'; readonly path: string };
  /** Things the user should know (a fallback that was taken). */
  readonly notes: string[];
}

/** Reads a `dist/` directory (`--against-dir`); after an interrupted synth swap, the tree the next synth keeps. */
export function againstDir(dir: string, shownAs: string = dir): AgainstTree {
  // Relative to the current directory (a command-line argument), shown as given.
  const abs = path.resolve(dir);
  const root = currentTree(abs);
  if (!fs.existsSync(root)) {
    throw new InputError({
      file: shownAs,
      message: '--against-dir does not exist',
      fix: 'pass the dist/ directory to compare with (e.g. a copy of the committed dist/)',
    });
  }
  if (!fs.statSync(root).isDirectory())
    throw new InputError({ file: shownAs, message: '--against-dir is not a directory', fix: 'pass a dist/ directory' });
  return { files: readTree(root), label: `the directory ${shownAs}`, source: { kind: 'dir', path: abs }, notes: [] };
}

/**
 * Reads the `dist/` of `workdir` as committed at `ref` (a work directory may be a subdirectory of the repository).
 * Without an explicit ref: HEAD; a work directory that is not in git falls back to its `dist/` on disk (with a note),
 * and a repository without commits to an empty tree.
 *
 * @throws InputError (exit 2) for an unknown ref, or an explicit ref outside a git repository
 */
export function againstGit(workdir: string, ref?: string): AgainstTree {
  const explicit = ref !== undefined;
  const rev = ref ?? 'HEAD';
  const inside = git(workdir, ['rev-parse', '--is-inside-work-tree']);
  if (!inside.ok || inside.text.trim() !== 'true') {
    const why = inside.missing ? 'git is not installed' : `${workdir} is not in a git work tree`;
    if (explicit) {
      throw new InputError({
        file: '--against',
        message: `cannot read ${rev}: ${why}`,
        fix: 'run plan inside the repository, or pass --against-dir DIR',
      });
    }
    const dist = path.join(workdir, DIST_DIR);
    const tree = fs.existsSync(currentTree(dist)) ? againstDir(dist, `${DIST_DIR}/`).files : new Map<string, string>();
    return {
      files: tree,
      label: `${DIST_DIR}/ on disk`,
      source: { kind: 'dir', path: dist },
      notes: [`${why}: compared with ${DIST_DIR}/ on disk instead of the committed one (what \`npm run synth\` would change)`],
    };
  }
  const prefix = git(workdir, ['rev-parse', '--show-prefix']).text.trim();
  const distPath = `${prefix}${DIST_DIR}`;
  const commit = git(workdir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  if (!commit.ok) {
    if (!explicit && !git(workdir, ['rev-parse', '--verify', '--quiet', 'HEAD']).ok) {
      return {
        files: new Map(),
        label: `HEAD (${distPath}/)`,
        source: { kind: 'git', ref: rev, path: distPath },
        notes: ['the repository has no commit yet: everything is new'],
      };
    }
    throw new InputError({
      file: '--against',
      message: `${JSON.stringify(rev)} is not a commit of the repository of ${workdir}`,
      fix: 'pass a branch, tag or commit (e.g. origin/main; fetch it first in a shallow clone)',
    });
  }
  const sha = commit.text.trim();
  const ls = git(workdir, ['ls-tree', '-r', '-z', '--full-tree', sha, '--', `${distPath}/`]);
  if (!ls.ok) throw new InputError({ file: '--against', message: `git ls-tree failed: ${ls.err.trim()}`, fix: 'check the repository' });
  const blobs: { sha: string; rel: string }[] = [];
  for (const entry of ls.text.split('\0')) {
    const m = /^(\d+) (\w+) ([0-9a-f]+)\t(.*)$/s.exec(entry);
    if (!m || m[2] !== 'blob' || m[1] === '120000') continue; // symlinks and submodules: not something synth writes
    blobs.push({ sha: m[3], rel: m[4].slice(distPath.length + 1) });
  }
  const files: Tree = new Map();
  if (blobs.length > 0) {
    const out = spawnSync('git', ['-C', workdir, 'cat-file', '--batch'], { input: `${blobs.map((b) => b.sha).join('\n')}\n`, maxBuffer: 2 ** 31 });
    if (out.status !== 0 || !Buffer.isBuffer(out.stdout)) {
      throw new InputError({ file: '--against', message: `git cat-file failed: ${String(out.stderr ?? out.error)}`, fix: 'check the repository' });
    }
    let at = 0;
    for (const b of blobs) {
      const nl = out.stdout.indexOf(0x0a, at);
      const header = out.stdout.subarray(at, nl).toString('utf8').split(' ');
      const size = Number(header[2]);
      files.set(b.rel, out.stdout.subarray(nl + 1, nl + 1 + size).toString('utf8'));
      at = nl + 1 + size + 1;
    }
  }
  return {
    files,
    label: `${rev} (${distPath}/)`,
    source: { kind: 'git', ref: rev, commit: sha, path: distPath },
    notes: [],
  };
}

function git(cwd: string, args: string[]): { ok: boolean; text: string; err: string; missing: boolean } {
  const r = spawnSync('git', ['-C', cwd, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return {
    ok: r.status === 0,
    text: r.stdout ?? '',
    err: r.stderr ?? '',
    missing: (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT',
  };
}
