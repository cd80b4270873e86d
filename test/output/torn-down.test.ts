/**
 * The torn-down tree (meshgen teardown; teardown.yaml present), decided by synth from the model: every directory an
 * Argo CD Application or Flux Kustomization points at stays, with nothing to apply, so both prune what they installed.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';

test('the torn-down tree: no manifest, values or istioctl file; every kustomization and entry point kept; no chart source or release', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const installed = [...hashTree(path.join(dir, 'dist')).keys()];
  const r = await runCli(['teardown', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  const files = [...hashTree(path.join(dir, 'dist')).keys()].sort();
  const read = (f: string) => fs.readFileSync(path.join(dir, 'dist', f), 'utf8');
  for (const f of files.filter((x) => x.startsWith('clusters/'))) {
    assert.equal(path.posix.basename(f), 'kustomization.yaml', `${f}: only kustomizations stay in cluster directories`);
    const resources: string[] = parse(read(f)).resources;
    assert.ok(
      resources.every((x) => !x.endsWith('.yaml')),
      `${f} lists no manifest`,
    );
  }
  // Every kustomization of the installed tree is still there (paths that Argo CD and Flux point at).
  for (const f of installed.filter((x) => x.endsWith('kustomization.yaml'))) assert.ok(files.includes(f), `${f} kept`);
  assert.deepEqual(parse(read('clusters/cluster-east-1/kustomization.yaml')).resources, ['secrets', 'reader-token', 'post-install']);
  for (const c of ['cluster-east-1', 'cluster-west-1']) {
    for (const d of ['control-plane', 'gateway']) {
      assert.deepEqual(parse(read(`flux/${c}/${d}/kustomization.yaml`)).resources, [], 'Flux prunes (uninstalls) the releases');
      assert.ok(!files.includes(`flux/${c}/${d}/releases.yaml`));
    }
    assert.ok(files.includes(`flux/${c}/kustomizations.yaml`), 'the Flux entry point stays to prune');
  }
  const [appset] = parseAllDocuments(read('argocd/applicationset.yaml')).map((d) => d.toJS());
  assert.equal(appset.spec.templatePatch, undefined, 'no chart source: Argo CD prunes what the charts installed');
  assert.equal(appset.spec.template.spec.syncPolicy.automated.allowEmpty, true);
  assert.match(read('README.md'), /torn down/i);
  // CI agrees, and deleting teardown.yaml restores the installed tree.
  assert.equal((await runCli(['synth', '--check', '--frozen', '--workdir', dir])).code, 0);
  fs.rmSync(path.join(dir, 'teardown.yaml'));
  assert.equal((await runCli(['synth', '--workdir', dir])).code, 0);
  assert.deepEqual([...hashTree(path.join(dir, 'dist')).keys()].sort(), [...installed].sort());
  fs.rmSync(dir, { recursive: true });
});
