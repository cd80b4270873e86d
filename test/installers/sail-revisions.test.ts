/**
 * Canary control-plane upgrades with the `sail` installer: Sail's revision names (RevisionBased), the
 * `IstioRevisionTag`, and both checked against the Sail CRDs that ship in schemas/crds/ (sail-operator 1.30.3).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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
