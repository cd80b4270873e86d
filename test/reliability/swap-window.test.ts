/**
 * The swap window (issue 11, category 8): the swap of dist/ is two renames (dist → .dist.meshgen-old, new → dist).
 * A synth killed between them leaves no dist/ until the next synth; meanwhile the readers (`synth --check`,
 * `validate`) must read the surviving tree (without changing anything), and the next writer must recover it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { swapPaths } from '../../src/output/tree';
import { runCli } from '../helpers/cli';
import { snapshotDiff, snapshotDir } from '../helpers/snapshot';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The example work directory as a synth killed between the two renames of its swap leaves it. */
function killedInTheSwapWindow(): { dir: string; oldTree: Map<string, string> } {
  const dir = makeExampleWorkdir();
  dirs.push(dir);
  const dist = path.join(dir, 'dist');
  const oldTree = hashTree(dist);
  const { staging, retired } = swapPaths(dist);
  fs.cpSync(dist, staging, { recursive: true });
  fs.writeFileSync(path.join(staging, 'clusters', 'cluster-east-1', 'kustomization.yaml'), '# half of a new tree\n');
  fs.renameSync(dist, retired);
  return { dir, oldTree };
}

test('synth --check and validate read the tree that survived a kill between the renames, and change nothing', async () => {
  const { dir } = killedInTheSwapWindow();
  const before = snapshotDir(dir);
  // WHEN CI checks the work directory
  const check = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
  // THEN the old tree, which is current, is found up to date (not every file "added")
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /up to date/);
  const v = await runCli(['validate', '--workdir', dir]);
  assert.equal(v.code, 0, v.stdout);
  assert.doesNotMatch(v.stdout, /does not exist/);
  // ...and the readers recovered nothing themselves
  assert.deepEqual(snapshotDiff(before, snapshotDir(dir)), []);
});

test('the next synth (a writer) puts the surviving tree back and leaves no swap directory', async () => {
  const { dir, oldTree } = killedInTheSwapWindow();
  const r = await runCli(['synth', '--frozen', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(hashTree(path.join(dir, 'dist')), oldTree);
  assert.deepEqual(
    fs.readdirSync(dir).filter((n) => n.startsWith('.dist.meshgen-')),
    [],
  );
  const check = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
  assert.equal(check.code, 0, check.stdout);
});
