/**
 * Canary control-plane upgrades with the `sail` installer: Sail's revision names (RevisionBased), the
 * `IstioRevisionTag`, and both checked against the Sail CRDs that ship in schemas/crds/ (sail-operator 1.30.3).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Testing } from 'cdk8s';
import { SYNC_WAVE_ANNOTATION } from '../../src/charts/sync-waves';
import {
  SAIL_REVISION_TAG_MAX_LENGTH,
  SailIstio,
  type SailIstioProps,
  SailRevisionTag,
  type SailRevisionTagProps,
  sailRevisionName,
  sailVersion,
} from '../../src/installers/sail';
import { registry } from '../helpers/schemas';

const TAG_SCHEMA = 'istiorevisiontags.sailoperator.io/v1 (sail-istiorevisiontag-crd.yaml)';

function tag(targetRef: unknown, name = 'prod-stable'): any {
  return { apiVersion: 'sailoperator.io/v1', kind: 'IstioRevisionTag', metadata: { name }, spec: { targetRef } };
}

test('the shipped IstioRevisionTag CRD: a tag following the Istio and a pinned one pass', () => {
  for (const targetRef of [
    { kind: 'Istio', name: 'default' },
    { kind: 'IstioRevision', name: 'default-v1-29-2' },
  ]) {
    const r = registry.validate(tag(targetRef));
    assert.equal(r.schema, TAG_SCHEMA);
    assert.deepEqual(r.errors, [], JSON.stringify(targetRef));
  }
});

test('the shipped IstioRevisionTag CRD: a bad targetRef kind, a missing name or no targetRef fail', () => {
  assert.deepEqual(registry.validate(tag({ kind: 'Revision', name: 'default-v1-29-2' })).errors, [
    'spec.targetRef.kind: unsupported value "Revision"; supported values: "Istio", "IstioRevision"',
  ]);
  assert.deepEqual(registry.validate(tag({ kind: 'Istio' })).errors, ['spec.targetRef.name: required field is missing']);
  assert.deepEqual(registry.validate(tag({ kind: 'Istio', name: '' })).errors, ['spec.targetRef.name: must NOT have fewer than 1 characters']);
  assert.deepEqual(registry.validate({ ...tag(undefined), spec: {} }).errors, ['spec.targetRef: required field is missing']);
  assert.deepEqual(registry.validate(tag({ kind: 'Istio', name: 'default', namespace: 'x' })).errors, ['spec.targetRef.namespace: unknown field']);
});

// ---------------------------------------------------------------------------------------------------------------
// Revision names

test('sailRevisionName: <istio name>-<spec.version, dots as dashes>, as getActiveRevisionName (sail-operator 1.30.3)', () => {
  // The cases of TestGetActiveRevisionName (controllers/istio/istio_controller_test.go:832-843): no v is added.
  assert.equal(sailRevisionName('test-istio', '1.0.0'), 'test-istio-1-0-0');
  assert.equal(sailRevisionName('test-istio', '2.0.0'), 'test-istio-2-0-0');
  // The version as the Sail CRDs (and meshgen) write it: the v stays.
  assert.equal(sailRevisionName('default', 'v1.30.3'), 'default-v1-30-3');
  assert.equal(sailRevisionName('default', '1.30.3'), 'default-1-30-3');
  assert.equal(sailRevisionName('default', 'v1.29.2'), 'default-v1-29-2');
  // An alias is not resolved in the name (Spec.Version as written).
  assert.equal(sailRevisionName('default', 'v1.30-latest'), 'default-v1-30-latest');
  // The name is taken as is, dots included (only the version's dots become dashes).
  assert.equal(sailRevisionName('my.mesh', 'v1.30.3'), 'my.mesh-v1-30-3');
  // What the update-strategy doc of 1.30.3 shows (docs/update-strategy/update-strategy.adoc:241, 251).
  assert.equal(sailRevisionName('default', sailVersion('1.25.3')), 'default-v1-25-3');
});

test('sailVersion: a v is added once', () => {
  assert.equal(sailVersion('1.30.3'), 'v1.30.3');
  assert.equal(sailVersion('v1.30.3'), 'v1.30.3');
});

// ---------------------------------------------------------------------------------------------------------------
// Istio with RevisionBased

function istio(props: Partial<SailIstioProps> = {}): { obj: any; construct: SailIstio } {
  const chart = Testing.chart();
  const construct = new SailIstio(chart, 'Istio', { namespace: 'istio-system', values: { global: { meshID: 'mesh1' } }, ...props });
  const objs = Testing.synth(chart);
  assert.equal(objs.length, 1);
  return { obj: objs[0], construct };
}

function assertValidIstio(obj: any) {
  const r = registry.validate(obj);
  assert.equal(r.schema, 'istios.sailoperator.io/v1 (sail-istio-crd.yaml)');
  assert.deepEqual(r.errors, [], `Istio/${obj.metadata.name}`);
}

test('RevisionBased: Istio "default" with spec.updateStrategy, validated by the Sail CRD; its revision is default-v<version>', () => {
  const { obj, construct } = istio({ version: '1.29.2', updateStrategy: { type: 'RevisionBased', inactiveRevisionDeletionGracePeriodSeconds: 300 } });
  assert.deepEqual(obj.metadata, { name: 'default' });
  assert.deepEqual(obj.spec, {
    namespace: 'istio-system',
    updateStrategy: { type: 'RevisionBased', inactiveRevisionDeletionGracePeriodSeconds: 300 },
    values: { global: { meshID: 'mesh1' } },
    version: 'v1.29.2',
  });
  assertValidIstio(obj);
  assert.equal(construct.revisionName, 'default-v1-29-2');
  assert.equal(construct.revisionName, sailRevisionName(obj.metadata.name, obj.spec.version));
  // Every field, and only the given ones (no undefined keys).
  const all = istio({
    version: 'v1.30.3',
    updateStrategy: { type: 'RevisionBased', inactiveRevisionDeletionGracePeriodSeconds: 0, updateWorkloads: false },
  });
  assert.deepEqual(all.obj.spec.updateStrategy, { type: 'RevisionBased', inactiveRevisionDeletionGracePeriodSeconds: 0, updateWorkloads: false });
  assertValidIstio(all.obj);
  assert.equal(all.construct.revisionName, 'default-v1-30-3');
  assert.deepEqual(istio({ version: '1.30.3', updateStrategy: { type: 'RevisionBased' } }).obj.spec.updateStrategy, { type: 'RevisionBased' });
});

test('InPlace: the revision is the Istio name (default, or the revision passed)', () => {
  assert.equal(istio({ version: '1.30.3' }).construct.revisionName, 'default');
  assert.equal(istio({ version: '1.30.3', updateStrategy: { type: 'InPlace' } }).construct.revisionName, 'default');
  assert.equal(istio({ version: '1.30.3', revision: 'canary' }).construct.revisionName, 'canary');
});

test('the CRD schema rejects a negative grace period and an unknown strategy field (what the constructor also guards)', () => {
  const { obj } = istio({ version: '1.30.3', updateStrategy: { type: 'RevisionBased' } });
  obj.spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds = -1;
  obj.spec.updateStrategy.gracePeriod = 5;
  const errors = registry.validate(obj).errors;
  assert.ok(errors.includes('spec.updateStrategy.gracePeriod: unknown field'), errors.join('\n'));
  assert.ok(
    errors.some((e) => e.startsWith('spec.updateStrategy.inactiveRevisionDeletionGracePeriodSeconds')),
    errors.join('\n'),
  );
});

test('RevisionBased refuses: a named revision, no version, a bad grace period', () => {
  assert.throws(
    () => istio({ version: '1.30.3', revision: 'canary', updateStrategy: { type: 'RevisionBased' } }),
    /cannot be kept with the RevisionBased/,
  );
  assert.throws(() => istio({ updateStrategy: { type: 'RevisionBased' } }), /RevisionBased update strategy needs the version/);
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => istio({ version: '1.30.3', updateStrategy: { type: 'RevisionBased', inactiveRevisionDeletionGracePeriodSeconds: bad } }),
      /whole number of seconds, 0 or more/,
    );
  }
});

// ---------------------------------------------------------------------------------------------------------------
// IstioRevisionTag

function revisionTag(props: SailRevisionTagProps): any {
  const chart = Testing.chart();
  new SailRevisionTag(chart, 'Tag', props);
  const objs = Testing.synth(chart);
  assert.equal(objs.length, 1);
  return objs[0];
}

test('SailRevisionTag following the Istio: cluster-scoped, targetRef {kind: Istio, name: default}, validated by the shipped CRD', () => {
  const obj = revisionTag({ tag: 'default', target: { kind: 'Istio', name: 'default' }, annotations: { [SYNC_WAVE_ANNOTATION]: '1' } });
  assert.deepEqual(obj, {
    apiVersion: 'sailoperator.io/v1',
    kind: 'IstioRevisionTag',
    metadata: { name: 'default', annotations: { [SYNC_WAVE_ANNOTATION]: '1' } },
    spec: { targetRef: { kind: 'Istio', name: 'default' } },
  });
  const r = registry.validate(obj);
  assert.equal(r.schema, TAG_SCHEMA);
  assert.deepEqual(r.errors, []);
});

test('SailRevisionTag pinned to a revision of the RevisionBased Istio, by the name Sail gives it', () => {
  const { construct } = istio({ version: '1.29.2', updateStrategy: { type: 'RevisionBased' } });
  const obj = revisionTag({ tag: 'prod-stable', target: { kind: 'IstioRevision', name: construct.revisionName } });
  assert.deepEqual(obj.metadata, { name: 'prod-stable' });
  assert.deepEqual(obj.spec, { targetRef: { kind: 'IstioRevision', name: 'default-v1-29-2' } });
  assert.deepEqual(registry.validate(obj).errors, []);
});

test('SailRevisionTag refuses: a tag that is not a label value or too long for its Service, a bad target, the tag named like its revision', () => {
  for (const tag of ['', 'Prod', 'prod_stable', '-prod', 'prod-', 'a.b', 'x'.repeat(SAIL_REVISION_TAG_MAX_LENGTH + 1)]) {
    assert.throws(() => revisionTag({ tag, target: { kind: 'Istio', name: 'default' } }), /must be lower-case letters, digits and inner dashes/, tag);
  }
  assert.equal(SAIL_REVISION_TAG_MAX_LENGTH, 43);
  assert.equal(revisionTag({ tag: 'x'.repeat(43), target: { kind: 'Istio', name: 'default' } }).metadata.name.length, 43);
  assert.throws(() => revisionTag({ tag: 'stable', target: { kind: 'Revision' as 'Istio', name: 'default' } }), /must be Istio or IstioRevision/);
  assert.throws(() => revisionTag({ tag: 'stable', target: { kind: 'Istio', name: '' } }), /must be 1 to 253 characters/);
  assert.throws(
    () => revisionTag({ tag: 'default-v1-29-2', target: { kind: 'IstioRevision', name: 'default-v1-29-2' } }),
    /has the name of the IstioRevision it targets/,
  );
});
