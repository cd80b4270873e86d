import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors';
import { currentTree, readTree, recoverTree, resolveInside, swapPaths, type Tree, type TreeDiff, TreeWriter } from '../../src/output/tree';

/** Writes `next` as synth does: file by file through a TreeWriter, then the swap. */
function writeTree(root: string, next: Tree): TreeDiff {
  const w = new TreeWriter(root, true);
  for (const [rel, content] of next) w.add(rel, content);
  return w.commit();
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-tree-'));
const tree = (o: Record<string, string>) => new Map(Object.entries(o));

test('TreeWriter writes the new tree, deletes files that are gone, and reports the diff', () => {
  const root = path.join(tmp(), 'dist');
  writeTree(root, tree({ 'clusters/a/x.yaml': 'x', 'clusters/b/y.yaml': 'y' }));
  const d = writeTree(root, tree({ 'clusters/a/x.yaml': 'x2', 'clusters/c/z.yaml': 'z' }));
  assert.deepEqual(d, { added: ['clusters/c/z.yaml'], changed: ['clusters/a/x.yaml'], removed: ['clusters/b/y.yaml'] });
  assert.deepEqual(readTree(root), tree({ 'clusters/a/x.yaml': 'x2', 'clusters/c/z.yaml': 'z' }));
  assert.ok(!fs.existsSync(path.join(root, 'clusters/b')), 'the directory of a removed cluster is gone');
  const { staging, retired } = swapPaths(root);
  assert.ok(!fs.existsSync(staging) && !fs.existsSync(retired), 'no leftovers');
});

test('a run with no change touches nothing; unchanged files are not rewritten', () => {
  const root = path.join(tmp(), 'dist');
  writeTree(root, tree({ 'a.yaml': 'a', 'b.yaml': 'b' }));
  const inoA = fs.statSync(path.join(root, 'a.yaml')).ino;
  const dirIno = fs.statSync(root).ino;
  writeTree(root, tree({ 'a.yaml': 'a', 'b.yaml': 'b' }));
  assert.equal(fs.statSync(root).ino, dirIno, 'no swap when nothing changed');
  writeTree(root, tree({ 'a.yaml': 'a', 'b.yaml': 'b2' }));
  assert.equal(fs.statSync(path.join(root, 'a.yaml')).ino, inoA, 'the unchanged file is hard-linked, not rewritten');
});

test('recoverTree puts the old tree back after a crash between the two renames, and drops a half-written tree', () => {
  const root = path.join(tmp(), 'dist');
  writeTree(root, tree({ 'a.yaml': 'old' }));
  const { staging, retired } = swapPaths(root);
  // Crash after `rename(root, retired)`, before `rename(staging, root)`.
  fs.mkdirSync(staging);
  fs.writeFileSync(path.join(staging, 'a.yaml'), 'new');
  fs.renameSync(root, retired);
  recoverTree(root);
  assert.deepEqual(readTree(root), tree({ 'a.yaml': 'old' }));
  assert.ok(!fs.existsSync(staging) && !fs.existsSync(retired));
  // Crash after the swap, before the old tree was deleted.
  fs.mkdirSync(retired);
  recoverTree(root);
  assert.deepEqual(readTree(root), tree({ 'a.yaml': 'old' }));
  assert.ok(!fs.existsSync(retired));
});

test('fails when the output tree holds a symlink (the tree on disk is untrusted)', () => {
  const root = path.join(tmp(), 'dist');
  fs.mkdirSync(root);
  fs.symlinkSync('/etc/passwd', path.join(root, 'evil.yaml'));
  assert.throws(
    () => readTree(root),
    (e: unknown) => e instanceof InputError && /symlink/.test(e.message),
  );
});

test('fails when a path would leave the output root', () => {
  const root = tmp();
  for (const bad of ['../x', 'a/../../x', '/etc/passwd', '', 'a//b']) {
    assert.throws(() => resolveInside(root, bad), InputError, bad);
  }
  assert.equal(resolveInside(root, 'clusters/a/x.yaml'), path.join(root, 'clusters/a/x.yaml'));
});

test('TreeWriter sorts the lists of its diff', () => {
  const root = path.join(tmp(), 'dist');
  writeTree(root, tree({ b: '1', a: '1' }));
  assert.deepEqual(writeTree(root, tree({ d: '1', c: '1' })), { added: ['c', 'd'], changed: [], removed: ['a', 'b'] });
});

test('readers see the surviving tree in the swap window: currentTree, and TreeWriter compares with it (write nothing)', () => {
  const root = path.join(tmp(), 'dist');
  writeTree(root, tree({ 'a.yaml': 'old', 'b.yaml': 'b' }));
  assert.equal(currentTree(root), root);
  // GIVEN a crash between `rename(root, retired)` and `rename(staging, root)`
  const { staging, retired } = swapPaths(root);
  fs.mkdirSync(staging);
  fs.writeFileSync(path.join(staging, 'a.yaml'), 'new');
  fs.renameSync(root, retired);
  // THEN the current tree is the old one, which the next writer keeps
  assert.equal(currentTree(root), retired);
  // ...and a comparing (--check) writer sees the old tree, not every file as added, and changes nothing
  const check = new TreeWriter(root, false);
  check.add('a.yaml', 'old');
  check.add('b.yaml', 'b');
  assert.deepEqual(check.commit(), { added: [], changed: [], removed: [] });
  assert.ok(!fs.existsSync(root) && fs.existsSync(retired) && fs.existsSync(staging), 'a reader changes nothing');
  // ...and a writer puts the old tree back before its own swap
  const d = writeTree(root, tree({ 'a.yaml': 'old', 'b.yaml': 'b2' }));
  assert.deepEqual(d, { added: [], changed: ['b.yaml'], removed: [] });
  assert.deepEqual(readTree(root), tree({ 'a.yaml': 'old', 'b.yaml': 'b2' }));
  assert.ok(!fs.existsSync(staging) && !fs.existsSync(retired), 'no leftovers');
});

test('a writer with nothing to change still finishes an interrupted swap and removes a stale staging tree', () => {
  const root = path.join(tmp(), 'dist');
  writeTree(root, tree({ 'a.yaml': 'a' }));
  const { staging, retired } = swapPaths(root);
  fs.mkdirSync(staging);
  fs.writeFileSync(path.join(staging, 'half.yaml'), 'x');
  fs.renameSync(root, retired);
  assert.deepEqual(writeTree(root, tree({ 'a.yaml': 'a' })), { added: [], changed: [], removed: [] });
  assert.deepEqual(readTree(root), tree({ 'a.yaml': 'a' }));
  assert.ok(!fs.existsSync(staging) && !fs.existsSync(retired));
});
