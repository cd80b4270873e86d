import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { faultPoint } from '../fault';
import { makeDirs, namedIoError, writeFileMode } from '../fs-util';

/** Modes of what the tree writer creates, whatever the umask (the tree is public: it is committed). */
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

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
  for (const rel of listTree(root).keys()) tree.set(rel, fs.readFileSync(path.join(root, rel), 'utf8'));
  return tree;
}

/** True when the diff is empty. */
export function isClean(d: TreeDiff): boolean {
  return d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;
}

/**
 * Cleans up after an interrupted TreeWriter.commit: a half-written staging tree is discarded; if the crash came
 * between the two renames, the old tree is put back. Writers call it holding the work directory's lock; readers use
 * {@link currentTree} instead, which changes nothing.
 */
export function recoverTree(root: string): void {
  settleSwap(root);
  const { staging } = swapPaths(root);
  if (fs.existsSync(staging)) fs.rmSync(staging, { recursive: true, force: true });
}

/**
 * The directory that holds the current tree of `root`, read-only: `root` itself, or, after a crash between the two
 * renames of a swap (no `root`, the retired tree beside it), the retired tree, which {@link recoverTree} puts back.
 * A staging tree is never current. For readers (`synth --check`, `validate`): they see the tree the next writer keeps.
 */
export function currentTree(root: string): string {
  const { retired } = swapPaths(root);
  return !fs.existsSync(root) && fs.existsSync(retired) ? retired : root;
}

/** Finishes what an interrupted swap left of the old tree: put back when `root` is missing, else deleted. */
function settleSwap(root: string): void {
  const { retired } = swapPaths(root);
  if (fs.existsSync(retired)) {
    if (!fs.existsSync(root)) fs.renameSync(retired, root);
    else fs.rmSync(retired, { recursive: true, force: true });
  }
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

/**
 * Writes a generated tree file by file, comparing each with what is on disk as it comes, so that memory holds one
 * file at a time (a mesh of hundreds of clusters has hundreds of megabytes of manifests). Files that did not change
 * are hard-linked into the new tree, not rewritten; a run where nothing changed touches nothing. The tree on disk is
 * the {@link currentTree} (the old tree after a crash between the renames of a swap); nothing is changed before
 * `commit()`, which first finishes an interrupted swap, then swaps the new tree in with two renames (a crash between
 * them is undone by `recoverTree`); `discard()` drops it. New files are 0644 and directories 0755, whatever the umask.
 */
export class TreeWriter {
  private readonly existing: Map<string, number>;
  private readonly seen = new Set<string>();
  private readonly unchanged: string[] = [];
  private readonly added: string[] = [];
  private readonly changed: string[] = [];
  private staging?: string;
  /** Where the current tree is read from (see {@link currentTree}). */
  private source: string;

  /**
   * @param root the output directory
   * @param write false for `--check`: compare only
   */
  constructor(
    private readonly root: string,
    private readonly write: boolean,
  ) {
    this.source = currentTree(root);
    this.existing = listTree(this.source, root);
  }

  /** Adds one file of the new tree. */
  public add(rel: string, content: string): void {
    if (this.seen.has(rel)) throw new Error(`TreeWriter: ${rel} was added twice`);
    this.seen.add(rel);
    const size = this.existing.get(rel);
    let same = false;
    if (size !== undefined && size === Buffer.byteLength(content)) {
      same = fs.readFileSync(resolveInside(this.source, rel), 'utf8') === content;
    }
    if (same) {
      if (this.staging) linkOrCopy(resolveInside(this.source, rel), resolveInside(this.staging, rel));
      else this.unchanged.push(rel);
      return;
    }
    (size === undefined ? this.added : this.changed).push(rel);
    if (!this.write) return;
    this.ensureStaging();
    const dest = resolveInside(this.staging as string, rel);
    try {
      makeDirs(path.dirname(dest), DIR_MODE);
      writeFileMode(dest, content, FILE_MODE);
    } catch (e) {
      // Name the file the user knows (its place in dist/), not the staging copy.
      throw namedIoError(e, path.join(this.root, rel), true);
    }
  }

  /** What differs from the tree on disk (so far; complete once every file was added). */
  public diff(): TreeDiff {
    const removed = [...this.existing.keys()].filter((p) => !this.seen.has(p));
    return { added: [...this.added].sort(), changed: [...this.changed].sort(), removed: removed.sort() };
  }

  /** Swaps the new tree in (when anything differs) and returns the diff. Call it holding the work directory's lock. */
  public commit(): TreeDiff {
    const diff = this.diff();
    if (!this.write) return diff;
    // An interrupted swap first: the old tree (which this run compared with, and linked from) goes back in place; a
    // staging tree that is not this run's is a killed run's.
    if (this.staging) settleSwap(this.root);
    else recoverTree(this.root);
    this.source = this.root;
    if (isClean(diff) && fs.existsSync(this.root)) {
      this.discard();
      return diff;
    }
    this.ensureStaging();
    const { retired } = swapPaths(this.root);
    fsyncDir(this.staging as string);
    faultPoint('dist.staged');
    if (fs.existsSync(this.root)) {
      fs.renameSync(this.root, retired);
      faultPoint('dist.retired');
    }
    fs.renameSync(this.staging as string, this.root);
    fsyncDir(path.dirname(this.root));
    faultPoint('dist.swapped');
    fs.rmSync(retired, { recursive: true, force: true });
    this.staging = undefined;
    return diff;
  }

  /** Drops the new tree (an error came up before commit). */
  public discard(): void {
    if (this.staging) fs.rmSync(this.staging, { recursive: true, force: true });
    this.staging = undefined;
  }

  private ensureStaging(): void {
    if (this.staging) return;
    const { staging } = swapPaths(this.root);
    fs.rmSync(staging, { recursive: true, force: true });
    makeDirs(staging, DIR_MODE);
    this.staging = staging;
    for (const rel of this.unchanged) linkOrCopy(resolveInside(this.source, rel), resolveInside(staging, rel));
    this.unchanged.length = 0;
  }
}

/**
 * Relative path → size of every regular file under `root`; symlinks and special files are refused. `shownAs` is the
 * directory named in errors (the output directory, when `root` is the retired tree that stands in for it).
 */
function listTree(root: string, shownAs = root): Map<string, number> {
  const out = new Map<string, number>();
  if (!fs.existsSync(root)) return out;
  if (!fs.lstatSync(root).isDirectory()) {
    throw new InputError({ file: shownAs, message: 'is not a directory', fix: 'move it away; meshgen writes a directory here' });
  }
  const walk = (dir: string, rel: string) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      const abs = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(abs, r);
      else if (ent.isFile()) out.set(r, fs.statSync(abs).size);
      else {
        throw new InputError({
          file: path.join(path.basename(shownAs), r),
          message: 'is a symlink or special file inside the output directory',
          fix: 'remove it; meshgen only writes regular files there',
        });
      }
    }
  };
  walk(root, '');
  return out;
}

function linkOrCopy(from: string, to: string): void {
  makeDirs(path.dirname(to), DIR_MODE);
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}
