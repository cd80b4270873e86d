import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { SchemaRegistry, shippedCrdDirectory } from '../../src/schemas/crd-validator';

/** The schemas that ship with meshgen (`schemas/crds/`): the tests always validate against these, never skip. */
export const CRDS_DIR: string = (() => {
  const dir = shippedCrdDirectory();
  assert.ok(dir !== undefined && fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory(), `the shipped schemas are missing: ${dir}`);
  return dir;
})();

/** The CRD and Kubernetes schemas of {@link CRDS_DIR}. */
export const registry: SchemaRegistry = SchemaRegistry.load(CRDS_DIR);

/** Asserts that every object has a schema and matches it. */
export function assertValid(objs: readonly any[]): void {
  for (const o of objs) {
    const r = registry.validate(o);
    assert.ok(r.schema, `${o.kind} has a schema`);
    assert.deepEqual(r.errors, [], `${o.kind}/${o.metadata?.name}`);
  }
}
