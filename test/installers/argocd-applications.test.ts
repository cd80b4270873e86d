/**
 * The helm and sail installers through Argo CD: each cluster is ONE Application (the cluster directory plus Istio's
 * charts as further sources, set per cluster by the ApplicationSet's `templatePatch`), so its sync waves order the
 * secrets before the charts; values files live in the repository.
 * https://argo-cd.readthedocs.io/en/stable/user-guide/multiple_sources/
 * https://argo-cd.readthedocs.io/en/stable/operator-manual/applicationset/Template/#template-patch
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { ControlPlane } from '../../src/charts/control-plane';
import { EastWestGateway } from '../../src/charts/east-west-gateway';
import { SYNC_WAVE_ANNOTATION, SyncWave } from '../../src/charts/sync-waves';
import { type ApplicationSetCharts, MESH_LABEL, MeshApplicationSet } from '../../src/gitops/mesh-application-set';
import { helmValuesFiles, valuesFile } from '../../src/installers/argocd-applications';
import { translateControlPlane, translateEastWestGateway } from '../../src/installers/translate';
import { HEADER } from '../../src/output/render';
import { parseTopology } from '../../src/topology/load';
import { renderApplicationSet } from '../convergence/model';
import { assertValid } from '../helpers/schemas';

const MESH = parseTopology(`mesh_id: M1.prod
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
const GITOPS = { ...MESH.gitops, repoURL: 'https://git.example.com/mesh.git' };
const HELM: ApplicationSetCharts = { controlPlane: true, eastWestGateway: new Set(['a']), revisions: [{ version: 'v1.30.3' }] };

function appSet(charts: ApplicationSetCharts | 'none' = HELM, gitops = GITOPS): any {
  const chart = Testing.chart();
  new MeshApplicationSet(chart, 'Set', { meshId: MESH.meshId, clusters: MESH.clusters, gitops, charts: charts === 'none' ? undefined : charts });
  const [o] = Testing.synth(chart);
  return o;
}

test('one Application per cluster, named <mesh>-<cluster> (mesh ID slugged), with the cluster directory and the charts as sources', () => {
  const apps = renderApplicationSet(appSet());
  assert.deepEqual(
    apps.map((a) => a.metadata.name),
    ['m1-prod-a', 'm1-prod-b'],
  );
  const [a, b] = apps.map((x) => x.spec as any);
  assert.equal(a.source, undefined, 'multi-source: spec.sources only');
  assert.deepEqual(a.destination, { server: 'https://a.example.com:6443', namespace: 'istio-system' });
  assert.deepEqual(
    a.sources.map((s: any) => s.path ?? s.chart ?? `ref:${s.ref}`),
    ['deploy/dist/clusters/a', 'base', 'istiod', 'gateway', 'ref:values'],
  );
  assert.deepEqual(
    b.sources.map((s: any) => s.path ?? s.chart ?? `ref:${s.ref}`),
    ['deploy/dist/clusters/b', 'base', 'istiod', 'ref:values'],
    'no east-west gateway chart where the cluster has none',
  );
  for (const x of apps) assert.deepEqual(x.metadata.labels, { [MESH_LABEL]: 'M1.prod' });
});

test('chart sources: Istio Helm repository, pinned version (no "v"), release names, values files from this repository ($values)', () => {
  const [a] = renderApplicationSet(appSet({ ...HELM, revisions: [{ name: 'canary', version: 'v1.30.3' }] }));
  const sources = (a.spec as any).sources;
  assert.deepEqual(sources[0], { repoURL: 'https://git.example.com/mesh.git', targetRevision: 'release', path: 'deploy/dist/clusters/a' });
  assert.deepEqual(sources[1], {
    repoURL: 'https://istio-release.storage.googleapis.com/charts',
    chart: 'base',
    targetRevision: '1.30.3',
    helm: { releaseName: 'istio-base', valueFiles: ['$values/deploy/dist/clusters/a/helm/base-values.yaml'] },
  });
  assert.equal(sources[2].helm.releaseName, 'istiod-canary');
  assert.deepEqual(sources[2].helm.valueFiles, ['$values/deploy/dist/clusters/a/helm/istiod-canary-values.yaml']);
  assert.equal(sources[3].helm.releaseName, 'istio-eastwestgateway');
  assert.deepEqual(sources[4], { repoURL: 'https://git.example.com/mesh.git', targetRevision: 'release', ref: 'values' });
  // Without a version: the latest chart.
  const [latest] = renderApplicationSet(appSet({ ...HELM, revisions: [{}] }));
  assert.equal((latest.spec as any).sources[1].targetRevision, '*');
});

test('sail: only the gateway chart beside the cluster directory (the Sail Operator installs the control plane)', () => {
  const [a, b] = renderApplicationSet(appSet({ controlPlane: false, eastWestGateway: new Set(['a']), revisions: [{}] }));
  assert.deepEqual(
    (a.spec as any).sources.map((s: any) => s.path ?? s.chart ?? `ref:${s.ref}`),
    ['deploy/dist/clusters/a', 'gateway', 'ref:values'],
  );
  assert.deepEqual(
    (b.spec as any).sources.map((s: any) => s.path ?? s.chart ?? `ref:${s.ref}`),
    ['deploy/dist/clusters/b', 'ref:values'],
  );
});

test('operator installer: the cluster directory is the only source, no templatePatch', () => {
  const o = appSet('none');
  assert.equal(o.spec.templatePatch, undefined);
  assert.equal(o.spec.template.spec.source.path, 'deploy/dist/clusters/{{.cluster}}');
  assert.ok(!o.spec.template.spec.syncPolicy.syncOptions.includes('SkipDryRunOnMissingResource=true'));
});

test('sync policy: automated prune and self-heal, retry with backoff without limit, dry run skipped for CRDs of the same sync', () => {
  const o = appSet();
  assert.deepEqual(o.spec.template.spec.syncPolicy.automated, { prune: true, selfHeal: true, allowEmpty: true });
  assert.deepEqual(o.spec.template.spec.syncPolicy.retry, { limit: -1, backoff: { duration: '10s', factor: 2, maxDuration: '5m' } });
  assert.ok(o.spec.template.spec.syncPolicy.syncOptions.includes('SkipDryRunOnMissingResource=true'));
  assert.ok(o.spec.template.spec.syncPolicy.syncOptions.includes('RespectIgnoreDifferences=true'));
  assert.deepEqual(
    o.spec.template.spec.ignoreDifferences.map((d: any) => d.kind),
    ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'],
  );
});

test('the clusters generator merges each cluster eastWestGateway parameter by name', () => {
  const o = appSet(HELM, { ...GITOPS, generator: 'clusters' });
  const merge = o.spec.generators[0].merge;
  assert.deepEqual(merge.mergeKeys, ['name']);
  assert.deepEqual(merge.generators[0], { clusters: { selector: { matchLabels: { [MESH_LABEL]: 'M1.prod' } } } });
  assert.deepEqual(merge.generators[1].list.elements, [
    { name: 'a', eastWestGateway: 'true' },
    { name: 'b', eastWestGateway: 'false' },
  ]);
  assert.match(o.spec.templatePatch, /path: deploy\/dist\/clusters\/\{\{\.name\}\}/);
});

test('a dist path of "." gives $values/clusters/...', () => {
  const [a] = renderApplicationSet(appSet(HELM, { ...GITOPS, path: '.' }));
  assert.deepEqual((a.spec as any).sources[1].helm.valueFiles, ['$values/./clusters/a/helm/base-values.yaml']);
});

test('values files: helm/<chart>-values.yaml with the header, the translated values, and the gateway wave', () => {
  // GIVEN the translated values of a remote's control plane and its east-west gateway
  const chart = Testing.chart();
  new ControlPlane(chart, 'cp', {
    base: { profile: 'default' },
    meshID: 'm1',
    clusterName: 'a',
    network: 'n1',
    remote: { remotePilotAddress: '192.0.2.1' },
  });
  new EastWestGateway(chart, 'ew', { network: 'n1' });
  const [cp, ew] = Testing.synth(chart);
  const t = translateControlPlane(cp.spec);
  const g = translateEastWestGateway(ew.spec);
  // WHEN
  const files = helmValuesFiles({ base: t.base, istiods: [{ values: t.istiod }], gateway: g.gateway });
  // THEN
  assert.deepEqual([...files.keys()], ['helm/base-values.yaml', 'helm/istiod-values.yaml', 'helm/gateway-values.yaml']);
  for (const [file, content] of files) {
    assert.ok(content.startsWith(HEADER), `${file} starts with the generated-by header`);
    const doc = parse(content);
    assert.equal(doc.apiVersion, undefined, `${file} is a values file, not a Kubernetes manifest`);
    assert.equal(doc.kind, undefined);
  }
  assert.deepEqual(parse(files.get('helm/base-values.yaml')!), t.base);
  assert.deepEqual(parse(files.get('helm/istiod-values.yaml')!), t.istiod);
  // The gateway chart puts `annotations` on its Deployment and Service: the east-west gateway is the last wave.
  assert.deepEqual(parse(files.get('helm/gateway-values.yaml')!), {
    ...g.gateway,
    annotations: { [SYNC_WAVE_ANNOTATION]: String(SyncWave.GATEWAY) },
  });
  assert.equal(valuesFile('istiod'), 'helm/istiod-values.yaml');
  assert.deepEqual([...helmValuesFiles({ gateway: g.gateway }).keys()], ['helm/gateway-values.yaml']);
});

test('the ApplicationSet and the Applications it makes validate against the Argo CD CRDs', () => {
  for (const charts of [HELM, { controlPlane: false, eastWestGateway: new Set<string>(), revisions: [{}] }, 'none' as const]) {
    const o = appSet(charts);
    assertValid([o]);
    assertValid(renderApplicationSet(o));
  }
});
