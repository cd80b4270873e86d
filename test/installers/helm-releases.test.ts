/**
 * The `helm` installer through Flux: HelmRepository + HelmReleases istio-base, istiod, istio-eastwestgateway, as
 * https://istio.io/latest/docs/setup/install/multicluster/ (Helm tabs) installs them, checked against the Flux CRDs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiObject, Testing } from 'cdk8s';
import type { Construct } from 'constructs';
import { ControlPlane, type ControlPlaneProps } from '../../src/charts/control-plane';
import { EastWestGateway } from '../../src/charts/east-west-gateway';
import {
  ISTIO_HELM_REPOSITORY_URL,
  IstioControlPlaneReleases,
  IstioGatewayRelease,
  IstioHelmReleases,
  istioChartVersion,
  istioReleaseName,
} from '../../src/installers/helm-releases';
import { translateControlPlane, translateEastWestGateway } from '../../src/installers/translate';
import { assertValid } from '../helpers/schemas';

function iop(build: (c: Construct) => void): Record<string, any> {
  const chart = Testing.chart();
  build(chart);
  return Testing.synth(chart)[0].spec;
}
const controlPlane = (props: Partial<ControlPlaneProps> = {}) =>
  translateControlPlane(
    iop((c) => new ControlPlane(c, 'cp', { base: { profile: 'default' }, meshID: 'mesh1', clusterName: 'cluster1', network: 'network1', ...props })),
  );
const gateway = (revision?: string) => translateEastWestGateway(iop((c) => new EastWestGateway(c, 'ew', { network: 'network1', revision })));

function objectsOf(scope: Construct): any[] {
  return scope.node
    .findAll()
    .filter((c): c is ApiObject => ApiObject.isApiObject(c))
    .map((o) => o.toJson());
}

test('control-plane stage: HelmRepository istio and HelmReleases istio-base and istiod (dependsOn istio-base)', () => {
  // GIVEN a primary serving remotes
  const t = controlPlane({ externalIstiod: true });
  const chart = Testing.chart();
  // WHEN
  const releases = new IstioHelmReleases(chart, 'Istio', { base: t.base, istiod: t.istiod, gateway: gateway().gateway, version: 'v1.30.3' });
  // THEN
  const [repo, base, istiod] = objectsOf(releases.controlPlane!);
  assert.deepEqual(repo, {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'HelmRepository',
    metadata: { name: 'istio', namespace: 'istio-system' },
    spec: { interval: '1h', url: 'https://istio-release.storage.googleapis.com/charts' },
  });
  assert.equal(base.apiVersion, 'helm.toolkit.fluxcd.io/v2');
  assert.deepEqual(base.metadata, { name: 'istio-base', namespace: 'istio-system' });
  assert.equal(base.spec.releaseName, 'istio-base');
  assert.deepEqual(base.spec.chart, {
    spec: { chart: 'base', sourceRef: { kind: 'HelmRepository', name: 'istio' }, version: '1.30.3' },
  });
  assert.equal(base.spec.install.crds, 'Create');
  assert.equal(base.spec.upgrade.crds, 'CreateReplace');
  assert.equal(base.spec.dependsOn, undefined);
  assert.deepEqual(base.spec.values, t.base);

  assert.deepEqual(istiod.metadata, { name: 'istiod', namespace: 'istio-system' });
  assert.equal(istiod.spec.releaseName, 'istiod');
  assert.equal(istiod.spec.chart.spec.chart, 'istiod');
  assert.equal(istiod.spec.chart.spec.version, '1.30.3');
  assert.deepEqual(istiod.spec.dependsOn, [{ name: 'istio-base' }]);
  assert.equal(istiod.spec.install.crds, undefined);
  assert.deepEqual(istiod.spec.values, t.istiod, 'the values are the translated IstioOperator values');
  assert.equal(istiod.spec.values.pilot.env.EXTERNAL_ISTIOD, 'true');
  assertValid([repo, base, istiod]);
});

test('post-install stage: HelmRelease istio-eastwestgateway of the gateway chart, dependsOn istiod', () => {
  const t = controlPlane();
  const chart = Testing.chart();
  const releases = new IstioHelmReleases(chart, 'Istio', { base: t.base, istiod: t.istiod, gateway: gateway().gateway, version: '1.30.3' });
  assert.ok(releases.gateway);
  const objs = objectsOf(releases.gateway);
  assert.equal(objs.length, 1, 'only the gateway release: the HelmRepository is in the control-plane stage');
  const [gw] = objs;
  assert.equal(gw.kind, 'HelmRelease');
  assert.deepEqual(gw.metadata, { name: 'istio-eastwestgateway', namespace: 'istio-system' });
  assert.equal(gw.spec.releaseName, 'istio-eastwestgateway');
  assert.equal(gw.spec.chart.spec.chart, 'gateway');
  assert.deepEqual(gw.spec.dependsOn, [{ name: 'istiod' }]);
  assert.deepEqual(gw.spec.values, {
    labels: { app: 'istio-eastwestgateway', istio: 'eastwestgateway' },
    name: 'istio-eastwestgateway',
    networkGateway: 'network1',
  });
  // Nothing is shared between the two stages.
  const cpNames = objectsOf(releases.controlPlane!).map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(cpNames, ['HelmRepository/istio', 'HelmRelease/istio-base', 'HelmRelease/istiod']);
  assertValid(objs);
});

test('without gateway values there is no gateway release; without a version no chart version (latest)', () => {
  const t = controlPlane();
  const releases = new IstioHelmReleases(Testing.chart(), 'Istio', { base: t.base, istiod: t.istiod });
  assert.equal(releases.gateway, undefined);
  const [, base, istiod] = objectsOf(releases.controlPlane!);
  assert.equal(base.spec.chart.spec.version, undefined);
  assert.equal(istiod.spec.chart.spec.version, undefined);
  assert.equal(base.spec.values, undefined, 'empty base values are left out');
});

test('revision: the istiod release is istiod-<revision> and the gateway depends on it', () => {
  const t = controlPlane({ revision: '1-30' });
  const chart = Testing.chart();
  const releases = new IstioHelmReleases(chart, 'Istio', { base: t.base, istiod: t.istiod, gateway: gateway('1-30').gateway });
  const [, base, istiod] = objectsOf(releases.controlPlane!);
  assert.equal(istiod.metadata.name, 'istiod-1-30');
  assert.equal(istiod.spec.releaseName, 'istiod-1-30');
  assert.equal(istiod.spec.values.revision, '1-30');
  assert.equal(base.spec.values.defaultRevision, '1-30');
  assert.equal(releases.controlPlane!.istiodReleaseName, 'istiod-1-30');
  const [gw] = objectsOf(releases.gateway!);
  assert.deepEqual(gw.spec.dependsOn, [{ name: 'istiod-1-30' }]);
  assert.equal(gw.spec.values.revision, '1-30');
  assertValid(Testing.synth(chart));
});

test('the stage constructs can be used on their own', () => {
  const t = controlPlane({ revision: 'canary' });
  const chart = Testing.chart();
  new IstioControlPlaneReleases(chart, 'CP', { base: t.base, istiod: t.istiod, revision: 'canary' });
  new IstioGatewayRelease(chart, 'GW', { gateway: gateway('canary').gateway });
  const objs = Testing.synth(chart);
  assert.deepEqual(
    objs.map((o) => `${o.kind}/${o.metadata.name}`),
    ['HelmRepository/istio', 'HelmRelease/istio-base', 'HelmRelease/istiod-canary', 'HelmRelease/istio-eastwestgateway'],
  );
  assert.deepEqual(objs[3].spec.dependsOn, [{ name: 'istiod-canary' }]);
  assert.equal(IstioControlPlaneReleases.FILE, 'control-plane.yaml');
  assert.equal(IstioGatewayRelease.FILE, 'eastwest-gateway.yaml');
});

test('fails when the revision differs from the values', () => {
  const t = controlPlane({ revision: '1-30' });
  assert.throws(
    () => new IstioHelmReleases(Testing.chart(), 'Istio', { base: t.base, istiod: t.istiod, revision: '1-31' }),
    /revision "1-31" differs from the values' revision "1-30"/,
  );
  assert.throws(
    () => new IstioHelmReleases(Testing.chart(), 'Istio', { base: t.base, istiod: t.istiod, gateway: gateway('other').gateway }),
    /IstioGatewayRelease: revision "1-30" differs from the values' revision "other"/,
  );
});

test('values are written with sorted keys, whatever order they were built in', () => {
  const chart = Testing.chart();
  new IstioControlPlaneReleases(chart, 'CP', { base: {}, istiod: { pilot: { z: 1, a: 2 }, global: { meshID: 'm' } } });
  const istiod = Testing.synth(chart)[2];
  assert.equal(JSON.stringify(istiod.spec.values), '{"global":{"meshID":"m"},"pilot":{"a":2,"z":1}}');
});

test('helpers: release names as in Istio docs, chart versions without v, the repository URL', () => {
  assert.equal(istioReleaseName('base'), 'istio-base');
  assert.equal(istioReleaseName('istiod'), 'istiod');
  assert.equal(istioReleaseName('istiod', 'canary'), 'istiod-canary');
  assert.equal(istioReleaseName('gateway', 'canary'), 'istio-eastwestgateway');
  assert.equal(istioChartVersion('v1.30.3'), '1.30.3');
  assert.equal(istioChartVersion('1.30.3'), '1.30.3');
  assert.equal(istioChartVersion(undefined), undefined);
  assert.equal(ISTIO_HELM_REPOSITORY_URL, 'https://istio-release.storage.googleapis.com/charts');
});

test('every object validates against the Flux CRDs (primary, remote, revisioned)', () => {
  for (const props of [
    {},
    { externalIstiod: true },
    { remote: { remotePilotAddress: '192.0.2.1' } },
    { revision: 'r1' },
  ] as Partial<ControlPlaneProps>[]) {
    const t = controlPlane(props);
    const chart = Testing.chart();
    new IstioHelmReleases(chart, 'Istio', { base: t.base, istiod: t.istiod, gateway: gateway(props.revision).gateway, version: '1.30.3' });
    const objs = Testing.synth(chart);
    assert.equal(objs.length, 4);
    assertValid(objs);
  }
});
