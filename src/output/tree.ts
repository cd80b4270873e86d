import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';

/** A generated tree: relative POSIX path → file content. */
export type Tree = Map<string, string>;

/** Differences between the tree on disk and the generated one. */
export interface TreeDiff {
  readonly added: string[];
  readonly changed: string[];
  readonly removed: string[];
}

/**
 * Resolves `rel` inside `root`, refusing absolute paths, `..` segments and anything that would leave the root.
 * The tree on disk and names from input are untrusted.
 */
export function resolveInside(root: string, rel: string): string {
  if (rel === '' || path.isAbsolute(rel) || rel.split(/[\\/]/).some((s) => s === '..' || s === '')) {
    throw new InputError({ file: rel, message: `path ${JSON.stringify(rel)} escapes the output directory`, fix: 'remove it' });
  }
  const abs = path.resolve(root, rel);
  if (abs !== root && !abs.startsWith(root + path.sep)) {
    throw new InputError({ file: rel, message: `path ${JSON.stringify(rel)} escapes the output directory`, fix: 'remove it' });
  }
  return abs;
}

/**
 * Reads every regular file under `root` (relative paths). Symlinks and other special files are refused:
 * the output tree only ever holds regular files and directories.
 */
export function readTree(root: string): Tree {
  const tree: Tree = new Map();
  if (!fs.existsSync(root)) return tree;
  const rootStat = fs.lstatSync(root);
  if (!rootStat.isDirectory()) {
    throw new InputError({ file: root, message: 'is not a directory', fix: `move it away; meshgen writes a directory here` });
  }
  const walk = (dir: string, rel: string) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      const abs = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(abs, r);
      else if (ent.isFile()) tree.set(r, fs.readFileSync(abs, 'utf8'));
      else {
        throw new InputError({
          file: path.join(path.basename(root), r),
          message: 'is a symlink or special file inside the output directory',
          fix: 'remove it; meshgen only writes regular files there',
        });
      }
    }
  };
  walk(root, '');
  return tree;
}

/** Compares the tree on disk with the generated one. Lists are sorted. */
export function diffTrees(current: Tree, next: Tree): TreeDiff {
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [p, content] of next) {
    const old = current.get(p);
    if (old === undefined) added.push(p);
    else if (old !== content) changed.push(p);
  }
  for (const p of current.keys()) if (!next.has(p)) removed.push(p);
  return { added: added.sort(), changed: changed.sort(), removed: removed.sort() };
}

/** True when the diff is empty. */
export function isClean(d: TreeDiff): boolean {
  return d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;
}

/**
 * Replaces the directory `root` by `next` so that a crash at any moment leaves either the old tree or the new
 * one (after `recoverTree`): the new tree is written beside the old one (unchanged files are hard-linked, not
 * rewritten), then swapped in with two renames. A no-change run touches nothing.
 */
export function writeTree(root: string, current: Tree, next: Tree): TreeDiff {
  const diff = diffTrees(current, next);
  if (isClean(diff) && fs.existsSync(root)) return diff;
  const { staging, retired } = swapPaths(root);
  recoverTree(root);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const dirs = new Set<string>();
  for (const [rel, content] of [...next].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const dest = resolveInside(staging, rel);
    const dir = path.dirname(dest);
    if (!dirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      dirs.add(dir);
    }
    if (current.get(rel) === content) {
      try {
        fs.linkSync(resolveInside(root, rel), dest);
        continue;
      } catch {
        // fall through to a plain write (e.g. a file system without hard links)
      }
    }
    fs.writeFileSync(dest, content);
  }
  fsyncDir(staging);
  // The swap: the only moment without `root` is between these two renames; recoverTree handles a crash there.
  if (fs.existsSync(root)) fs.renameSync(root, retired);
  fs.renameSync(staging, root);
  fs.rmSync(retired, { recursive: true, force: true });
  return diff;
}

/**
 * Cleans up after an interrupted writeTree: a half-written staging tree is discarded; if the crash came
 * between the two renames, the old tree is put back.
 */
export function recoverTree(root: string): void {
  const { staging, retired } = swapPaths(root);
  if (fs.existsSync(retired)) {
    if (!fs.existsSync(root)) fs.renameSync(retired, root);
    else fs.rmSync(retired, { recursive: true, force: true });
  }
  if (fs.existsSync(staging)) fs.rmSync(staging, { recursive: true, force: true });
}

/** The sibling directories used while swapping `root` (same file system, so renames are atomic). */
export function swapPaths(root: string): { staging: string; retired: string } {
  const dir = path.dirname(root);
  const base = path.basename(root);
  return { staging: path.join(dir, `.${base}.meshgen-new`), retired: path.join(dir, `.${base}.meshgen-old`) };
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // best effort
  }
}
