/**
 * `meshgen plan` through a canary upgrade (`meshgen upgrade`): each phase is run, synthesized and planned against the
 * dist/ of the phase before, and the exact lines are checked: the new istiod (add), the tag (tag), the gateway's revision
 * and chart (gateways), the old istiod removed (finish), per cluster, and the Argo CD chart sources mesh-wide.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli } from '../helpers/cli';
import { type MeshSpec, makeMeshWorkdir, synthIn } from '../helpers/mesh-gen';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const MESH: MeshSpec = {
  meshId: 'upgrade-mesh',
  repoURL: 'https://github.com/example/upgrade-mesh.git',
  clusters: [
    { context: 'ctx-a', cluster: 'alpha', network: 'net-1' },
    { context: 'ctx-b', cluster: 'bravo', network: 'net-2' },
  ],
};

/** A synthesized mesh whose topology.yaml has `istio` (given as YAML lines) and a copy of its dist/. */
async function synthesized(istio: string): Promise<{ dir: string; old: string }> {
  const dir = await makeMeshWorkdir(MESH, { tokens: true });
  const old = `${dir}-old`;
  dirs.push(dir, old);
  const file = path.join(dir, 'topology.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^(mesh_id: .*\n)/m, `$1istio:\n${istio}`));
  const r = await synthIn(dir);
  assert.equal(r.code, 0, r.stderr);
  fs.cpSync(path.join(dir, 'dist'), old, { recursive: true });
  return { dir, old };
}

/** Runs one upgrade phase and synth, plans against the previous dist/, then keeps the new dist/ as the previous one. */
async function phase(dir: string, old: string, ...args: string[]): Promise<string> {
  const u = await runCli(['upgrade', ...args, '--workdir', dir]);
  assert.equal(u.code, 0, u.stderr);
  const s = await synthIn(dir);
  assert.equal(s.code, 0, s.stderr);
  const p = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
  assert.equal(p.code, 1, p.stderr);
  fs.rmSync(old, { recursive: true });
  fs.cpSync(path.join(dir, 'dist'), old, { recursive: true });
  return p.stdout.replace(old, '<old>');
}

describe('meshgen plan through meshgen upgrade', () => {
  test('every phase from a named revision without tags: istiod added, tag created, gateways moved, istiod removed', async () => {
    const { dir, old } = await synthesized('  version: 1.30.3\n  revision: 1-30-3\n');

    assert.equal(
      await phase(dir, old, '--to', '1.31.0'),
      [
        'alpha: + istiod 1-31-0 added (Istio 1.31.0), beside 1-30-3',
        'alpha: ~ base chart (CRDs): 1.30.3 → 1.31.0',
        'bravo: + istiod 1-31-0 added (Istio 1.31.0), beside 1-30-3',
        'bravo: ~ base chart (CRDs): 1.30.3 → 1.31.0',
        'mesh-wide: ~ Argo CD chart source istio-base: chart base 1.30.3 → 1.31.0',
        'mesh-wide: + Argo CD chart source istiod-1-31-0 (chart istiod 1.31.0)',
        'Plan: 6 changes in 2 clusters, 0 disruptive against the directory <old>.',
        '',
      ].join('\n'),
    );

    assert.equal(
      await phase(dir, old, 'tag', 'default'),
      [
        'alpha: ~ base chart defaultRevision: 1-30-3 → 1-31-0 (Istio config is validated by istiod-1-31-0)',
        'alpha: + tag default: 1-31-0 (namespaces labelled istio.io/rev=default or istio-injection=enabled are injected by it)',
        'bravo: ~ base chart defaultRevision: 1-30-3 → 1-31-0 (Istio config is validated by istiod-1-31-0)',
        'bravo: + tag default: 1-31-0 (namespaces labelled istio.io/rev=default or istio-injection=enabled are injected by it)',
        'Plan: 4 changes in 2 clusters, 0 disruptive against the directory <old>.',
        '',
      ].join('\n'),
    );

    assert.equal(
      await phase(dir, old, 'gateways'),
      [
        'alpha: ~ east-west gateway revision: 1-30-3 → 1-31-0 (chart 1.30.3 → 1.31.0)',
        'bravo: ~ east-west gateway revision: 1-30-3 → 1-31-0 (chart 1.30.3 → 1.31.0)',
        'mesh-wide: ~ Argo CD chart source istio-eastwestgateway: chart gateway 1.30.3 → 1.31.0',
        'Plan: 3 changes in 2 clusters, 0 disruptive against the directory <old>.',
        '',
      ].join('\n'),
    );

    assert.equal(
      await phase(dir, old, 'finish'),
      [
        'alpha: - istiod 1-30-3 removed (Istio 1.30.3)  [disruptive: istiod-1-30-3 is pruned: proxies still on it lose their control plane]',
        'bravo: - istiod 1-30-3 removed (Istio 1.30.3)  [disruptive: istiod-1-30-3 is pruned: proxies still on it lose their control plane]',
        'mesh-wide: - Argo CD chart source istiod-1-30-3 (chart istiod 1.30.3)',
        'Plan: 3 changes in 2 clusters, 2 disruptive against the directory <old>.',
        '',
      ].join('\n'),
    );
  });

  test('a default tag moved: the tag line, the base chart default revision and the gateways that follow the tag', async () => {
    const { dir, old } = await synthesized('  version: 1.30.3\n  revision: 1-30-3\n  tags: {default: 1-30-3}\n');
    await phase(dir, old, '--to', '1.31.0');
    assert.equal(
      await phase(dir, old, 'tag', 'default'),
      [
        'alpha: ~ base chart defaultRevision: 1-30-3 → 1-31-0 (Istio config is validated by istiod-1-31-0)',
        'alpha: ~ tag default: 1-30-3 → 1-31-0 (restart the workloads of the namespaces labelled istio.io/rev=default or istio-injection=enabled to move them)',
        'alpha: ~ east-west gateway chart 1.30.3 → 1.31.0 (it follows tag default, now on 1-31-0)',
        'bravo: ~ base chart defaultRevision: 1-30-3 → 1-31-0 (Istio config is validated by istiod-1-31-0)',
        'bravo: ~ tag default: 1-30-3 → 1-31-0 (restart the workloads of the namespaces labelled istio.io/rev=default or istio-injection=enabled to move them)',
        'bravo: ~ east-west gateway chart 1.30.3 → 1.31.0 (it follows tag default, now on 1-31-0)',
        'mesh-wide: ~ Argo CD chart source istio-eastwestgateway: chart gateway 1.30.3 → 1.31.0',
        'Plan: 7 changes in 2 clusters, 0 disruptive against the directory <old>.',
        '',
      ].join('\n'),
    );
    // Moving the tag back (the rollback): the same lines the other way.
    const file = path.join(dir, 'topology.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('{default: 1-31-0}', '{default: 1-30-3}'));
    assert.equal((await synthIn(dir)).code, 0);
    const back = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.match(back.stdout, /^alpha: ~ tag default: 1-31-0 → 1-30-3 /m);
    assert.match(back.stdout, /^alpha: ~ east-west gateway chart 1\.31\.0 → 1\.30\.3 \(it follows tag default, now on 1-30-3\)$/m);
  });

  test('an in-place upgrade of one revision still reads as one version line', async () => {
    const { dir, old } = await synthesized('  version: 1.30.3\n  revision: 1-30-3\n');
    const file = path.join(dir, 'topology.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('version: 1.30.3', 'version: 1.30.4'));
    assert.equal((await synthIn(dir)).code, 0);
    const p = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(
      p.stdout.replace(old, '<old>'),
      [
        'alpha: ~ Istio version: 1.30.3 → 1.30.4  [disruptive: istiod and gateway restart (upgrade)]',
        'bravo: ~ Istio version: 1.30.3 → 1.30.4  [disruptive: istiod and gateway restart (upgrade)]',
        'mesh-wide: ~ Argo CD chart source istio-base: chart base 1.30.3 → 1.30.4',
        'mesh-wide: ~ Argo CD chart source istio-eastwestgateway: chart gateway 1.30.3 → 1.30.4',
        'mesh-wide: ~ Argo CD chart source istiod-1-30-3: chart istiod 1.30.3 → 1.30.4',
        'Plan: 5 changes in 2 clusters, 2 disruptive against the directory <old>.',
        '',
      ].join('\n'),
    );
  });
});
