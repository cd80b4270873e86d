/**
 * The `helm` installer through Argo CD: one multi-source Application per Istio chart, values files in the repository.
 * https://argo-cd.readthedocs.io/en/stable/user-guide/multiple_sources/
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Testing } from 'cdk8s';
import { parse } from 'yaml';
import { ControlPlane } from '../../src/charts/control-plane';
import { EastWestGateway } from '../../src/charts/east-west-gateway';
import { SyncWave } from '../../src/charts/sync-waves';
import { MESH_LABEL } from '../../src/gitops/mesh-application-set';
import { helmValuesFiles, ISTIO_APPLICATION_WAVES, IstioArgoApplications } from '../../src/installers/argocd-applications';
import { translateControlPlane, translateEastWestGateway } from '../../src/installers/translate';
import { HEADER } from '../../src/output/render';
import { parseTopology } from '../../src/topology/load';
import { assertValid } from '../helpers/schemas';

const MESH = parseTopology(`mesh_id: m1
gitops:
  repoURL: https://git.example.com/mesh.git
  targetRevision: release
  path: deploy/dist
contexts:
  a:
    network: n1
    server: https://a.example.com:6443
`);
const GITOPS = { ...MESH.gitops, repoURL: 'https://git.example.com/mesh.git' };

function apps(props: Partial<ConstructorParameters<typeof IstioArgoApplications>[2]> = {}): any[] {
  const chart = Testing.chart();
  new IstioArgoApplications(chart, 'Istio', { meshId: 'm1', cluster: 'a', server: 'https://a.example.com:6443', gitops: GITOPS, ...props });
  return Testing.synth(chart);
}

test('one Application per chart, named <mesh>-<cluster>-<release>, in Argo CD namespace and project', () => {
  const objs = apps({ version: 'v1.30.3' });
  assert.deepEqual(
    objs.map((o) => `${o.apiVersion} ${o.kind}/${o.metadata.name}`),
    [
      'argoproj.io/v1alpha1 Application/m1-a-istio-base',
      'argoproj.io/v1alpha1 Application/m1-a-istiod',
      'argoproj.io/v1alpha1 Application/m1-a-istio-eastwestgateway',
    ],
  );
  for (const o of objs) {
    assert.equal(o.metadata.namespace, 'argocd');
    assert.deepEqual(o.metadata.labels, { [MESH_LABEL]: 'm1' });
    assert.deepEqual(o.metadata.finalizers, ['resources-finalizer.argocd.argoproj.io'], 'deleting the Application uninstalls the chart');
    assert.equal(o.spec.project, 'default');
    assert.deepEqual(o.spec.destination, { server: 'https://a.example.com:6443', namespace: 'istio-system' });
    assert.deepEqual(o.spec.syncPolicy.automated, { prune: true, selfHeal: true });
    assert.equal(o.spec.source, undefined, 'multi-source: spec.sources only');
  }
});

test('multi-source: the chart from Istio Helm repository with its values file from this repository ($values)', () => {
  const [base, istiod, gateway] = apps({ version: 'v1.30.3' });
  assert.deepEqual(base.spec.sources, [
    {
      repoURL: 'https://istio-release.storage.googleapis.com/charts',
      chart: 'base',
      targetRevision: '1.30.3',
      helm: { releaseName: 'istio-base', valueFiles: ['$values/deploy/dist/clusters/a/helm/base-values.yaml'] },
    },
    { repoURL: 'https://git.example.com/mesh.git', targetRevision: 'release', ref: 'values' },
  ]);
  assert.equal(istiod.spec.sources[0].chart, 'istiod');
  assert.deepEqual(istiod.spec.sources[0].helm, { releaseName: 'istiod', valueFiles: ['$values/deploy/dist/clusters/a/helm/istiod-values.yaml'] });
  assert.equal(gateway.spec.sources[0].chart, 'gateway');
  assert.deepEqual(gateway.spec.sources[0].helm, {
    releaseName: 'istio-eastwestgateway',
    valueFiles: ['$values/deploy/dist/clusters/a/helm/gateway-values.yaml'],
  });
});

test('sync waves: base < istiod < gateway, all after the secrets', () => {
  const waves = apps().map((o) => Number(o.metadata.annotations['argocd.argoproj.io/sync-wave']));
  assert.deepEqual(waves, [ISTIO_APPLICATION_WAVES.base, ISTIO_APPLICATION_WAVES.istiod, ISTIO_APPLICATION_WAVES.gateway]);
  assert.ok(waves[0] > SyncWave.SECRETS && waves[0] < waves[1] && waves[1] < waves[2]);
});

test('webhook fields istiod mutates are ignored on base and istiod', () => {
  const [base, istiod, gateway] = apps();
  for (const o of [base, istiod]) {
    const vwc = o.spec.ignoreDifferences.find((d: any) => d.kind === 'ValidatingWebhookConfiguration');
    assert.deepEqual(vwc.jqPathExpressions, ['.webhooks[]?.failurePolicy', '.webhooks[]?.clientConfig.caBundle']);
    assert.ok(o.spec.ignoreDifferences.some((d: any) => d.kind === 'MutatingWebhookConfiguration'));
    assert.ok(o.spec.syncPolicy.syncOptions.includes('RespectIgnoreDifferences=true'));
  }
  assert.equal(gateway.spec.ignoreDifferences, undefined);
});

test('without a version the latest chart (*); a revision names the istiod release; charts can be chosen (sail: gateway only)', () => {
  assert.ok(apps().every((o) => o.spec.sources[0].targetRevision === '*'));
  const [, istiod] = apps({ revision: 'canary' });
  assert.equal(istiod.metadata.name, 'm1-a-istiod-canary');
  assert.equal(istiod.spec.sources[0].helm.releaseName, 'istiod-canary');
  const only = apps({ charts: ['gateway'] });
  assert.deepEqual(
    only.map((o) => o.metadata.name),
    ['m1-a-istio-eastwestgateway'],
  );
  // Install order is kept whatever order the charts are given in.
  assert.deepEqual(
    apps({ charts: ['gateway', 'base'] }).map((o) => o.spec.sources[0].chart),
    ['base', 'gateway'],
  );
});

test('a mesh ID that is not a DNS label is slugged in the names, as in the mesh ApplicationSet', () => {
  const [base] = apps({ meshId: 'Mesh_1.prod' });
  assert.equal(base.metadata.name, 'mesh-1-prod-a-istio-base');
  assert.deepEqual(base.metadata.labels, { [MESH_LABEL]: 'Mesh_1.prod' });
});

test('a dist path of "." gives $values/clusters/...', () => {
  const [base] = apps({ gitops: { ...GITOPS, path: '.' } });
  assert.deepEqual(base.spec.sources[0].helm.valueFiles, ['$values/clusters/a/helm/base-values.yaml']);
});

test('values files: helm/<chart>-values.yaml with the header, holding the translated values, not manifests', () => {
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
  const files = helmValuesFiles({ base: t.base, istiod: t.istiod, gateway: g.gateway });
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
  assert.deepEqual(parse(files.get('helm/gateway-values.yaml')!), g.gateway);
  assert.equal(IstioArgoApplications.valuesFile('istiod'), 'helm/istiod-values.yaml');
  // Only the charts given.
  assert.deepEqual([...helmValuesFiles({ gateway: g.gateway }).keys()], ['helm/gateway-values.yaml']);
});

test('the Applications validate against the Argo CD CRDs', () => {
  assertValid(apps({ version: '1.30.3', revision: 'canary' }));
  assertValid(apps({ charts: ['gateway'] }));
});
