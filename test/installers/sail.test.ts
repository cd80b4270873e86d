/**
 * The `sail` installer: a Sail Operator `Istio` (sailoperator.io/v1) with the istiod values, as
 * https://github.com/istio-ecosystem/sail-operator/blob/main/docs/deployment-models/multicluster.md writes it,
 * checked against the Istio CRD of sail-operator 1.30.3.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Testing } from 'cdk8s';
import { ControlPlane, type ControlPlaneProps } from '../../src/charts/control-plane';
import { SYNC_WAVE_ANNOTATION } from '../../src/charts/sync-waves';
import { SailIstio, type SailIstioProps } from '../../src/installers/sail';
import { translateControlPlane } from '../../src/installers/translate';
import { registry } from '../helpers/schemas';

function istiodValues(props: Partial<ControlPlaneProps> = {}) {
  const chart = Testing.chart();
  new ControlPlane(chart, 'cp', { base: { profile: 'default' }, meshID: 'mesh1', clusterName: 'cluster1', network: 'network1', ...props });
  return translateControlPlane(Testing.synth(chart)[0].spec);
}

function sail(props: Partial<SailIstioProps> & Pick<SailIstioProps, 'values'>): any {
  const chart = Testing.chart();
  new SailIstio(chart, 'Istio', { namespace: 'istio-system', ...props });
  const objs = Testing.synth(chart);
  assert.equal(objs.length, 1);
  return objs[0];
}

function assertValid(obj: any) {
  const r = registry.validate(obj);
  assert.equal(r.schema, 'istios.sailoperator.io/v1 (sail-istio-crd.yaml)');
  assert.deepEqual(r.errors, [], `Istio/${obj.metadata.name}`);
}

test('multi-network primary: Istio "default" (cluster-scoped) with the istiod values, version v-prefixed', () => {
  const t = istiodValues();
  const istio = sail({ values: t.istiod, version: '1.30.3' });
  assert.equal(istio.apiVersion, 'sailoperator.io/v1');
  assert.equal(istio.kind, 'Istio');
  assert.deepEqual(istio.metadata, { name: 'default' });
  assert.deepEqual(istio.spec, {
    namespace: 'istio-system',
    values: { global: { meshID: 'mesh1', multiCluster: { clusterName: 'cluster1' }, network: 'network1' } },
    version: 'v1.30.3',
  });
  assert.equal(sail({ values: t.istiod, version: 'v1.30.3' }).spec.version, 'v1.30.3', 'a v is not doubled');
  assert.equal(sail({ values: t.istiod }).spec.version, undefined, "without a version, the operator's default");
});

test('primary serving remotes: global.externalIstiod and pilot.env.EXTERNAL_ISTIOD, as the Sail multicluster guide sets them', () => {
  const istio = sail({ values: istiodValues({ externalIstiod: true }).istiod });
  assert.equal(istio.spec.values.global.externalIstiod, true);
  assert.deepEqual(istio.spec.values.pilot, { env: { EXTERNAL_ISTIOD: 'true' } });
});

test('remote: spec.profile remote, injectionPath and remotePilotAddress in the values', () => {
  const t = istiodValues({ clusterName: 'cluster2', network: 'network2', remote: { remotePilotAddress: '192.0.2.1' } });
  const istio = sail({ values: t.istiod });
  assert.equal(istio.spec.profile, 'remote');
  assert.equal(istio.spec.values.profile, undefined, 'the profile moves to spec.profile');
  assert.deepEqual(istio.spec.values.istiodRemote, { injectionPath: '/inject/cluster/cluster2/net/network2' });
  assert.equal(istio.spec.values.global.remotePilotAddress, '192.0.2.1');
});

test('revision: the Istio resource is named after it (Sail derives values.revision from the name)', () => {
  const t = istiodValues({ revision: '1-30' });
  const istio = sail({ values: t.istiod, revision: '1-30' });
  assert.equal(istio.metadata.name, '1-30');
  assert.equal(istio.spec.values.revision, undefined);
  assert.equal(sail({ values: t.istiod }).metadata.name, '1-30', 'the revision in the values is enough');
});

for (const [name, props] of Object.entries<Partial<ControlPlaneProps>>({
  'multi-network primary': {},
  'primary serving remotes': { externalIstiod: true },
  remote: { remote: { remotePilotAddress: 'istiod.example.com' } },
  revision: { revision: 'canary' },
  'base.yaml settings': { base: { profile: 'default', hub: 'docker.io/istio', tag: '1.30.3', meshConfig: { accessLogFile: '/dev/stdout' } } },
})) {
  test(`${name}: Sail gets the same values as the Helm istiod release (profile and revision in spec and name)`, () => {
    const t = istiodValues(props);
    const istio = sail({ values: t.istiod, version: '1.30.3', annotations: { [SYNC_WAVE_ANNOTATION]: '0' } });
    const back = structuredClone(istio.spec.values);
    if (istio.spec.profile) back.profile = istio.spec.profile;
    if (istio.metadata.name !== 'default') back.revision = istio.metadata.name;
    assert.deepEqual(back, t.istiod);
    assert.deepEqual(istio.metadata.annotations, { [SYNC_WAVE_ANNOTATION]: '0' });
  });
  test(`${name}: the Istio validates against the Sail CRD, values included`, () => {
    assertValid(sail({ values: istiodValues(props).istiod, version: '1.30.3' }));
  });
}

test('updateStrategy is passed through and validates', () => {
  const istio = sail({
    values: istiodValues().istiod,
    version: '1.30.3',
    updateStrategy: { type: 'RevisionBased', inactiveRevisionDeletionGracePeriodSeconds: 60, updateWorkloads: true },
  });
  assert.deepEqual(istio.spec.updateStrategy, { type: 'RevisionBased', inactiveRevisionDeletionGracePeriodSeconds: 60, updateWorkloads: true });
  assertValid(istio);
});

test('fails when a revision cannot be kept: RevisionBased, a different name, or different values', () => {
  const values = istiodValues({ revision: 'canary' }).istiod;
  assert.throws(() => sail({ values, updateStrategy: { type: 'RevisionBased' } }), /cannot be kept with the RevisionBased update strategy/);
  assert.throws(() => sail({ values, name: 'default' }), /name the Istio resource "canary"/);
  assert.throws(() => sail({ values, revision: 'other' }), /revision "other" differs from values.revision "canary"/);
  assert.throws(() => sail({ values: { profile: 'remote' }, profile: 'default' }), /profile "default" differs from values.profile "remote"/);
});

test('fails when values.global.istioNamespace is not the namespace (a CEL rule of the CRD)', () => {
  assert.throws(() => sail({ values: { global: { istioNamespace: 'other' } } }), /must be the namespace "istio-system"/);
  assert.equal(sail({ values: { global: { istioNamespace: 'istio-system' } } }).spec.values.global.istioNamespace, 'istio-system');
});

test('without a version the API server would default it, but the schema (and meshgen validate) want it set', () => {
  // spec.version is required with a default (the operator's version): pass istio.version for reproducible installs.
  assert.deepEqual(registry.validate(sail({ values: {} })).errors, ['spec.version: required field is missing']);
});

test('the CRD schema catches values Sail does not know (the translation leaves none)', () => {
  const r = registry.validate(sail({ values: { gateways: { 'istio-ingressgateway': {} } } }));
  assert.ok(
    r.errors.some((e) => e.startsWith('spec.values.gateways')),
    r.errors.join('\n'),
  );
});
