import assert from 'node:assert/strict';
import { crdDirectory, SchemaRegistry } from '../../src/schemas/crd-validator';

const FOUND = crdDirectory();

/** The CRD and Kubernetes schemas of `MESHGEN_CRDS` (default ../shared/crds), or undefined when absent. */
export const registry: SchemaRegistry | undefined = FOUND.dir ? SchemaRegistry.load(FOUND.dir) : undefined;

/** `skip` option of the tests that need the schemas: false, or why they are skipped. */
export const schemaSkip: false | string = FOUND.dir ? false : `CRD schemas not found: ${FOUND.reason}`;

/** Asserts that every object has a schema and matches it (does nothing without the schemas; see schemaSkip). */
export function assertValid(objs: readonly any[]): void {
  if (!registry) return;
  for (const o of objs) {
    const r = registry.validate(o);
    assert.ok(r.schema, `${o.kind} has a schema`);
    assert.deepEqual(r.errors, [], `${o.kind}/${o.metadata?.name}`);
  }
}
