/**
 * `meshgen plan` on generated meshes: adding a cluster, removing one, changing a network, sealing a token. Each test
 * synthesizes a mesh, keeps a copy of its dist/ (the "committed" tree, passed with --against-dir), changes the inputs
 * and checks the exact semantic lines.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli } from '../helpers/cli';
import { type MeshSpec, makeMeshWorkdir, synthIn, tokenOf } from '../helpers/mesh-gen';
import { hashTree } from '../helpers/workdir';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const TWO: MeshSpec = {
  meshId: 'plan-mesh',
  clusters: [
    { context: 'ctx-a', cluster: 'alpha', network: 'net-1' },
    { context: 'ctx-b', cluster: 'bravo', network: 'net-2' },
  ],
};
const THREE: MeshSpec = { ...TWO, clusters: [...TWO.clusters, { context: 'ctx-c', cluster: 'charlie', network: 'net-2' }] };

/** A synthesized mesh and a copy of its dist/ (`old`). */
async function synthesized(spec: MeshSpec, tokens = true): Promise<{ dir: string; old: string }> {
  const dir = await makeMeshWorkdir(spec, { tokens });
  const old = `${dir}-old`;
  dirs.push(dir, old);
  const r = await synthIn(dir);
  assert.equal(r.code, 0, r.stderr);
  fs.cpSync(path.join(dir, 'dist'), old, { recursive: true });
  return { dir, old };
}

function plan(dir: string, old: string, ...extra: string[]) {
  return runCli(['plan', '--workdir', dir, '--against-dir', old, ...extra]);
}

describe('meshgen plan (generated meshes)', () => {
  test('adding a cluster: before synth (placeholders and what needs synth), after synth, then no change', async () => {
    const { dir, old } = await synthesized(TWO);
    await makeMeshWorkdir(THREE, { tokens: true, dir });
    const work = hashTree(dir);

    const before = await plan(dir, old);
    assert.equal(before.code, 1, before.stderr);
    assert.equal(
      before.stdout,
      [
        'alpha: + remote secret for charlie (sealed by the next synth)',
        'alpha: ! needs synth: seal istio-remote-secret-charlie: not sealed yet',
        'bravo: + remote secret for charlie (sealed by the next synth)',
        'bravo: ! needs synth: seal istio-remote-secret-charlie: not sealed yet',
        'charlie: + cluster added: primary on net-2, installer helm; Istio will be installed',
        `charlie: + cacerts (intermediate CA expires ${expiry(dir, 'charlie')}; sealed by the next synth)`,
        'charlie: + remote secret for alpha (sealed by the next synth)',
        'charlie: + remote secret for bravo (sealed by the next synth)',
        'charlie: + east-west gateway (Service LoadBalancer)',
        "charlie: + Flux entry point dist/flux/charlie/ (point the cluster's Flux Kustomization at it)",
        'charlie: ! needs synth: seal cacerts (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem): not sealed yet',
        'charlie: ! needs synth: seal istio-remote-secret-alpha: not sealed yet',
        'charlie: ! needs synth: seal istio-remote-secret-bravo: not sealed yet',
        `Plan: 8 changes in 3 clusters, 1 added, 0 disruptive against the directory ${old}; 5 items need \`npm run synth\` first.`,
        '',
      ].join('\n'),
    );
    assert.deepEqual(hashTree(dir), work, 'plan writes nothing (not even sealed/)');

    assert.equal((await synthIn(dir)).code, 0);
    const afterSynth = await plan(dir, old);
    assert.equal(afterSynth.code, 1, afterSynth.stderr);
    assert.equal(
      afterSynth.stdout,
      [
        'alpha: + remote secret for charlie',
        'bravo: + remote secret for charlie',
        'charlie: + cluster added: primary on net-2, installer helm; Istio will be installed',
        `charlie: + cacerts (intermediate CA expires ${expiry(dir, 'charlie')})`,
        'charlie: + remote secret for alpha',
        'charlie: + remote secret for bravo',
        'charlie: + east-west gateway (Service LoadBalancer)',
        "charlie: + Flux entry point dist/flux/charlie/ (point the cluster's Flux Kustomization at it)",
        `Plan: 8 changes in 3 clusters, 1 added, 0 disruptive against the directory ${old}.`,
        '',
      ].join('\n'),
    );

    const same = await plan(dir, path.join(dir, 'dist'));
    assert.equal(same.code, 0, same.stdout);
    assert.equal(same.stdout, `No changes: the synthesized dist/ is the same as the directory ${path.join(dir, 'dist')}.\n`);
  });

  test('removing a cluster: Istio is pruned from it (disruptive), its peers lose its remote secret', async () => {
    const { dir, old } = await synthesized(THREE);
    await makeMeshWorkdir(TWO, { dir });
    const r = await plan(dir, old);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stdout,
      [
        'alpha: - remote secret for charlie',
        'bravo: - remote secret for charlie',
        'charlie: - cluster removed: Istio will be pruned from it  [disruptive: Istio will be pruned]',
        `Plan: 3 changes in 3 clusters, 1 removed, 1 disruptive against the directory ${old}.`,
        '',
      ].join('\n'),
    );

    const json = JSON.parse((await plan(dir, old, '--output', 'json')).stdout);
    assert.equal(json.schema, 'meshgen.plan/v1');
    assert.equal(json.changed, true);
    assert.deepEqual(json.summary.clustersRemoved, ['charlie']);
    assert.deepEqual(json.summary.clustersChanged, ['alpha', 'bravo', 'charlie']);
    assert.equal(json.summary.disruptive, 1);
    assert.deepEqual(json.changes[2], {
      op: '-',
      cluster: 'charlie',
      subject: 'cluster',
      text: '- cluster removed: Istio will be pruned from it',
      disruptive: 'Istio will be pruned',
    });
    assert.deepEqual(json.changes[0], {
      op: '-',
      cluster: 'alpha',
      subject: 'remote secret',
      target: 'charlie',
      text: '- remote secret for charlie',
    });
    assert.ok(json.files.removed.includes('dist/clusters/charlie/secrets/cacerts.yaml'));
    assert.deepEqual(json.files.changed, [
      'dist/README.md',
      'dist/clusters/alpha/secrets/remote-secrets.yaml',
      'dist/clusters/bravo/secrets/remote-secrets.yaml',
    ]);
  });

  test("changing a cluster's network: istiod values (istiod restart), the gateway and the namespace label", async () => {
    const { dir, old } = await synthesized(THREE);
    await makeMeshWorkdir(
      { ...THREE, clusters: THREE.clusters.map((c) => (c.cluster === 'bravo' ? { ...c, network: 'net-3' } : c)) },
      { dir, tokens: true },
    );
    const r = await plan(dir, old);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stdout,
      [
        'bravo: ~ istiod values.global.network: net-2 → net-3  [disruptive: istiod restart]',
        'bravo: ~ east-west gateway network: net-2 → net-3',
        'bravo: ~ namespace istio-system label topology.istio.io/network: net-2 → net-3',
        `Plan: 3 changes in 1 cluster, 1 disruptive against the directory ${old}.`,
        '',
      ].join('\n'),
    );
    const md = (await plan(dir, old, '--output', 'markdown')).stdout;
    assert.match(md, /^<!-- meshgen-plan -->\n### meshgen plan\n/);
    assert.ok(md.includes('| `bravo` | `~ istiod values.global.network: net-2 → net-3` | ⚠️ istiod restart |'), md);
    assert.ok(md.includes('- changed `dist/clusters/bravo/helm/istiod-values.yaml`'), md);
  });

  test('sealing a token: every other primary gets the remote secret of that cluster', async () => {
    const { dir, old } = await synthesized(THREE, false);
    const file = path.join(dir, 'bravo.token');
    fs.writeFileSync(file, `${tokenOf('bravo')}\n`);
    const sealed = await runCli(['seal-token', '--context', 'ctx-b', '--token-file', file, '--workdir', dir]);
    assert.equal(sealed.code, 0, sealed.stderr);
    const r = await plan(dir, old);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stdout,
      [
        'alpha: + remote secret for bravo',
        'charlie: + remote secret for bravo',
        `Plan: 2 changes in 2 clusters, 0 disruptive against the directory ${old}.`,
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(r.stdout + r.stderr, /eyJ/, 'the token is never printed');
  });
});

function expiry(dir: string, cluster: string): string {
  const pem = fs.readFileSync(path.join(dir, 'certs', cluster, 'ca-cert.pem'), 'utf8');
  return new Date(new crypto.X509Certificate(pem).validTo).toISOString().slice(0, 10);
}
