import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderKustomization } from '../../src/output/render';
import { tornDownFile } from '../../src/output/torn-down';

test('the torn-down tree: manifests and chart installs dropped, every kustomization and entry point kept', () => {
  const k = (r: string[]) => renderKustomization(r);
  const res = (s: string | undefined) => parse(s as string).resources;
  assert.deepEqual(res(tornDownFile('clusters/a/kustomization.yaml', k(['secrets', 'post-install']))), ['secrets', 'post-install']);
  assert.deepEqual(res(tornDownFile('clusters/a/secrets/kustomization.yaml', k(['namespace.yaml', 'cacerts.yaml']))), []);
  assert.equal(tornDownFile('clusters/a/secrets/cacerts.yaml', 'x'), undefined);
  assert.equal(tornDownFile('clusters/a/helm/istiod-values.yaml', 'x'), undefined);
  assert.equal(tornDownFile('clusters/a/istioctl/control-plane.yaml', 'x'), undefined);
  // The ApplicationSet stays (synth writes it without chart sources for a torn-down mesh, so Argo CD prunes them).
  assert.equal(tornDownFile('argocd/applicationset.yaml', 'appset'), 'appset');
  assert.deepEqual(res(tornDownFile('argocd/kustomization.yaml', k(['applicationset.yaml']))), ['applicationset.yaml']);
  assert.equal(tornDownFile('flux/a/kustomizations.yaml', 'ks'), 'ks');
  // dist/README.md stays: synth renders it for the torn-down mesh (no object listed, the mesh marked torn down).
  assert.equal(tornDownFile('README.md', 'readme'), 'readme');
  for (const d of ['control-plane', 'gateway']) {
    assert.equal(tornDownFile(`flux/a/${d}/releases.yaml`, 'x'), undefined, 'the HelmReleases go: Flux prunes (uninstalls) them');
    assert.deepEqual(res(tornDownFile(`flux/a/${d}/kustomization.yaml`, k(['releases.yaml']))), []);
  }
});
