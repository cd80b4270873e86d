import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, Chart } from 'cdk8s';
import { Stage } from '../../src/charts/cluster-chart';
import { FluxKustomizations } from '../../src/gitops/flux-kustomizations';
import { MeshApplicationSet } from '../../src/gitops/mesh-application-set';
import { parseTopology } from '../../src/topology/load';
import { assertValid, registry } from '../helpers/schemas';

const MESH = parseTopology(`mesh_id: m1
gitops:
  repoURL: https://git.example.com/mesh.git
  targetRevision: release
  path: deploy/dist
contexts:
  a:
    network: n1
    server: https://a.example.com:6443
  b:
    network: n2
    server: https://b.example.com:6443
`);

function json(build: (chart: Chart) => void): any[] {
  const chart = new Chart(new App(), 'x', { disableResourceNameHashes: true });
  build(chart);
  return chart.toJson();
}

test('ApplicationSet (list generator): one Application per cluster of dist/clusters/<cluster>, synced and pruned', () => {
  const [appset] = json(
    (c) =>
      new MeshApplicationSet(c, 'A', {
        meshId: 'm1',
        clusters: MESH.clusters,
        gitops: { ...MESH.gitops, repoURL: 'https://git.example.com/mesh.git' },
      }),
  );
  assert.equal(appset.apiVersion, 'argoproj.io/v1alpha1');
  assert.equal(appset.metadata.namespace, 'argocd');
  assert.equal(appset.spec.goTemplate, true);
  assert.deepEqual(appset.spec.generators, [
    {
      list: {
        elements: [
          { cluster: 'a', server: 'https://a.example.com:6443' },
          { cluster: 'b', server: 'https://b.example.com:6443' },
        ],
      },
    },
  ]);
  const spec = appset.spec.template.spec;
  assert.deepEqual(spec.source, {
    repoURL: 'https://git.example.com/mesh.git',
    targetRevision: 'release',
    path: 'deploy/dist/clusters/{{.cluster}}',
  });
  assert.equal(spec.source.directory, undefined, 'a Kustomize directory: no directory: block (Argo CD would fail on kustomization.yaml)');
  assert.deepEqual(spec.destination, { server: '{{.server}}', namespace: 'istio-system' });
  assert.deepEqual(spec.syncPolicy.automated, { prune: true, selfHeal: true, allowEmpty: true });
  assert.deepEqual(spec.syncPolicy.syncOptions, ['CreateNamespace=true', 'ServerSideApply=true', 'RespectIgnoreDifferences=true']);
  const vwc = spec.ignoreDifferences.find((d: any) => d.kind === 'ValidatingWebhookConfiguration');
  assert.deepEqual(vwc.jqPathExpressions, ['.webhooks[]?.failurePolicy', '.webhooks[]?.clientConfig.caBundle']);
  assert.ok(spec.ignoreDifferences.some((d: any) => d.kind === 'MutatingWebhookConfiguration'));
  assertValid([appset]);
});

test('ApplicationSet (clusters generator): Argo CD clusters labelled with the mesh', () => {
  const [appset] = json(
    (c) =>
      new MeshApplicationSet(c, 'A', {
        meshId: 'm1',
        clusters: MESH.clusters,
        gitops: { ...MESH.gitops, repoURL: 'https://git.example.com/mesh.git', generator: 'clusters' },
      }),
  );
  assert.deepEqual(appset.spec.generators, [{ clusters: { selector: { matchLabels: { 'meshgen.io/mesh': 'm1' } } } }]);
  assert.equal(appset.spec.template.spec.source.path, 'deploy/dist/clusters/{{.name}}');
  assert.equal(appset.spec.template.metadata.name, 'm1-{{.name}}');
  assertValid([appset]);
});

test('Flux: the stages of a cluster in order, secrets Ready (cacerts exists) before the control plane', () => {
  const stages = [
    { name: 'istio-secrets', path: `deploy/dist/clusters/a/${Stage.SECRETS}`, healthChecks: [{ apiVersion: 'v1', kind: 'Secret', name: 'cacerts' }] },
    { name: 'istio-control-plane', path: 'deploy/dist/clusters/a/control-plane', dependsOn: 'istio-secrets' },
    { name: 'istio-post-install', path: 'deploy/dist/clusters/a/post-install', dependsOn: 'istio-control-plane' },
  ];
  const ks = json((c) => new FluxKustomizations(c, 'F', { stages, gitops: MESH.gitops }));
  assert.deepEqual(
    ks.map((k) => [k.metadata.name, k.spec.path, k.spec.dependsOn?.[0]?.name]),
    [
      ['istio-secrets', './deploy/dist/clusters/a/secrets', undefined],
      ['istio-control-plane', './deploy/dist/clusters/a/control-plane', 'istio-secrets'],
      ['istio-post-install', './deploy/dist/clusters/a/post-install', 'istio-control-plane'],
    ],
  );
  for (const k of ks) {
    assert.equal(k.apiVersion, 'kustomize.toolkit.fluxcd.io/v1');
    assert.equal(k.spec.prune, true);
    assert.deepEqual(k.spec.sourceRef, { kind: 'GitRepository', name: 'flux-system' });
  }
  assert.deepEqual(ks[0].spec.healthChecks, [{ apiVersion: 'v1', kind: 'Secret', name: 'cacerts', namespace: 'istio-system' }]);
  assert.equal(ks[0].spec.wait, undefined);
  assert.equal(ks[1].spec.wait, true);
  assertValid(ks);
});

test('the schema checks above really ran', () => {
  assert.ok(
    registry.validate({ apiVersion: 'argoproj.io/v1alpha1', kind: 'ApplicationSet', metadata: { name: 'x' }, spec: { bogus: 1 } }).errors.length > 0,
  );
});
