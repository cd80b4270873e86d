import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv2020, { type ErrorObject, type Format, type ValidateFunction } from 'ajv/dist/2020';
import type { SchemaValidateFunction } from 'ajv/dist/types';
import * as YAML from 'yaml';
import { isRecord } from '../util/records';

/** Where the CRD schemas live, or why none was found. */
export interface CrdDirectory {
  /** Absolute path of the directory holding the CRD `*.yaml` files and `k8s-schemas/`. */
  readonly dir?: string;
  /** Why no directory was found (set when `dir` is not). */
  readonly reason?: string;
}

/** The outcome of validating one Kubernetes object. */
export interface ValidationResult {
  /**
   * The schema used, e.g. `gateways.networking.istio.io/v1 (istio-networking-crds.yaml)` or `k8s-schemas/secret-v1.json`;
   * `undefined` when there is no schema for that apiVersion and kind (or its CRD is schemaless).
   */
  readonly schema: string | undefined;
  /** Human-readable problems, each starting with the path of the offending field (`spec.servers[0].tls.mode: ...`). */
  readonly errors: string[];
  /** The same problems as data: where (display path and its segments; `<root>` and `[]` for the whole object) and what. */
  readonly problems: readonly SchemaProblem[];
}

/** One schema problem of an object. */
export interface SchemaProblem {
  /** The field, as displayed: `spec.servers[0].tls.mode`, or `<root>`. */
  readonly path: string;
  /** The field as segments (map keys and list indexes), for locating it in the YAML source. */
  readonly segments: readonly (string | number)[];
  readonly message: string;
}

/** A result from its problems (the errors are their one-line form). */
function result(schema: string | undefined, problems: readonly SchemaProblem[]): ValidationResult {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const k = `${p.path}\0${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return { schema, problems: unique, errors: unique.map((p) => `${p.path}: ${p.message}`) };
}

/** A problem of a top-level field. */
function fieldProblem(field: string, message: string): SchemaProblem {
  return { path: field, segments: field.split('.'), message };
}

/** Where the schemas that ship with meshgen live, relative to the package root. */
export const SHIPPED_CRDS = path.join('schemas', 'crds');

/**
 * Finds the directory of CRD schemas.
 *
 * `MESHGEN_CRDS` (resolved against the current directory) wins when set, and must exist. Otherwise the schemas that
 * ship with meshgen are used: `schemas/crds/` of the meshgen package (the nearest ancestor of this file with a
 * package.json), so the lookup works from `src/` under tsx, from the compiled `lib/src/` and when meshgen is installed
 * as a dependency.
 */
export function crdDirectory(env: NodeJS.ProcessEnv = process.env): CrdDirectory {
  const fromEnv = env.MESHGEN_CRDS;
  if (fromEnv !== undefined && fromEnv !== '') {
    const dir = path.resolve(fromEnv);
    if (isDirectory(dir)) return { dir };
    return { reason: `MESHGEN_CRDS=${fromEnv}: ${dir} is not a directory; unset it to use the schemas meshgen ships (${SHIPPED_CRDS}/)` };
  }
  const dir = shippedCrdDirectory();
  if (dir !== undefined && isDirectory(dir)) return { dir };
  return { reason: `the schemas meshgen ships (${dir ?? SHIPPED_CRDS}) are missing: reinstall meshgen, or set MESHGEN_CRDS to a copy of them` };
}

/** `schemas/crds/` of the meshgen package (whether or not it exists), or undefined when no package root is found. */
export function shippedCrdDirectory(): string | undefined {
  const root = packageRoot(__dirname);
  return root === undefined ? undefined : path.join(root, SHIPPED_CRDS);
}

/** One schema the registry can compile: a served CRD version or a core Kubernetes JSON schema. */
interface Entry {
  /** Shown to users as `ValidationResult.schema`. */
  readonly source: string;
  /** The CRD's openAPIV3Schema (rewritten when first compiled), or the Kubernetes JSON schema (compiled as is). */
  readonly schema: Record<string, unknown>;
  /** Whether `schema` is an OpenAPI v3 CRD schema. */
  readonly crd: boolean;
  /** The CRD's root is `x-kubernetes-preserve-unknown-fields: true` with no spec schema (IstioOperator). */
  readonly schemaless: boolean;
  /** Position of the CRD document in the directory (files sorted by name): where two define a version, the first wins. */
  readonly order: number;
}

/** A CRD document not parsed yet (parsing megabytes of YAML takes seconds: only the kinds validated are parsed). */
interface PendingCrd {
  readonly file: string;
  readonly text: string;
  readonly order: number;
  /** `group kind` according to a quick look at the text (see quickCrdId); checked when the document is parsed. */
  readonly id: string;
}

const K8S_DEFINITIONS_ID = 'https://kubernetes.io/api/_definitions.json';

/**
 * Kubernetes manifests checked against the real schemas: every served version of every CRD in a directory, plus the
 * core Kubernetes v1 JSON schemas in its `k8s-schemas/` folder (Namespace, Secret, ServiceAccount, ConfigMap).
 *
 * CRD schemas are OpenAPI v3 with Kubernetes extensions; they are rewritten (on a copy) into JSON Schema that behaves like
 * the API server with strict field validation: unknown fields are rejected wherever `properties` is given, unless
 * `x-kubernetes-preserve-unknown-fields` is set; `x-kubernetes-int-or-string` accepts an integer or a string; `nullable`
 * accepts null; list types `set`/`map` must not repeat items/keys. CEL rules (`x-kubernetes-validations`) are not
 * evaluated. Schemas are compiled on first use and cached per apiVersion and kind.
 *
 * @example
 * const registry = SchemaRegistry.load(crdDirectory().dir!);
 * const { schema, errors } = registry.validate(YAML.parse(text));
 */
export class SchemaRegistry {
  /**
   * Reads every `*.yaml` CRD file (multi-document) in `dir` and the JSON schemas in `dir/k8s-schemas/`.
   *
   * Nothing is compiled yet, and a CRD document is only parsed when its kind is first validated (or `kinds()` is
   * called). Throws when `dir` is not a directory or a file does not parse (for a document parsed later: when it is).
   */
  public static load(dir: string): SchemaRegistry {
    if (!isDirectory(dir)) throw new Error(`${dir}: CRD directory not found`);
    const registry = new SchemaRegistry();
    for (const file of fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()) {
      registry.addCrdFile(path.join(dir, file));
    }
    const k8sDir = path.join(dir, 'k8s-schemas');
    if (isDirectory(k8sDir)) {
      for (const file of fs
        .readdirSync(k8sDir)
        .filter((f) => f.endsWith('.json'))
        .sort()) {
        registry.addK8sSchema(path.join(k8sDir, file), `k8s-schemas/${file}`);
      }
    }
    return registry;
  }

  /** `apiVersion kind` → schema. */
  private readonly entries = new Map<string, Entry>();
  /** `group kind` → versions the CRD lists but does not serve (e.g. external-secrets.io v1beta1). */
  private readonly unserved = new Map<string, string[]>();
  /** `group kind` → CRD documents that define it, not parsed yet. */
  private readonly pending = new Map<string, PendingCrd[]>();
  private documents = 0;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly formats = new Set<string>();
  private k8sDefinitions?: Record<string, unknown>;
  private ajv?: Ajv2020;

  private constructor() {}

  /** Every `apiVersion kind` with a schema (schemaless CRDs included), sorted. */
  public kinds(): string[] {
    this.parseAllPending();
    return [...this.entries.keys()].sort();
  }

  /**
   * Validates one parsed manifest object against the schema for its apiVersion and kind.
   *
   * Objects of a kind without a schema get `schema: undefined` and only the basic checks (a mapping with string
   * `apiVersion` and `kind`; a known kind also needs `metadata.name`). An apiVersion that a CRD lists but does not serve is
   * an error.
   */
  public validate(obj: unknown): ValidationResult {
    if (!isRecord(obj)) {
      return result(undefined, [{ path: '<root>', segments: [], message: `must be a Kubernetes object (a mapping), got ${describe(obj)}` }]);
    }
    const { apiVersion, kind } = obj;
    const basic: SchemaProblem[] = [];
    if (typeof apiVersion !== 'string' || apiVersion === '')
      basic.push(fieldProblem('apiVersion', `must be a non-empty string, got ${describe(apiVersion)}`));
    if (typeof kind !== 'string' || kind === '') basic.push(fieldProblem('kind', `must be a non-empty string, got ${describe(kind)}`));
    if (basic.length > 0) return result(undefined, basic);
    const key = `${apiVersion} ${kind}`;
    this.parsePending(`${groupOf(apiVersion as string)} ${kind}`);
    const entry = this.entries.get(key);
    if (entry === undefined) return result(undefined, this.unservedErrors(apiVersion as string, kind as string));

    const metadata = obj.metadata;
    if (!isRecord(metadata) || (metadata.name === undefined && metadata.generateName === undefined)) {
      basic.push(fieldProblem('metadata.name', 'required field is missing'));
    }
    const validateFn = this.compile(key, entry);
    const errors = validateFn(obj) ? [] : formatErrors(validateFn.errors ?? [], obj);
    return result(entry.schemaless ? undefined : entry.source, [...basic, ...errors]);
  }

  private unservedErrors(apiVersion: string, kind: string): SchemaProblem[] {
    const group = groupOf(apiVersion);
    const version = apiVersion.slice(apiVersion.lastIndexOf('/') + 1);
    if (!this.unserved.get(`${group} ${kind}`)?.includes(version)) return [];
    const served = this.kinds()
      .filter((k) => k.endsWith(` ${kind}`) && k.startsWith(group === '' ? '' : `${group}/`))
      .map((k) => k.split(' ')[0]);
    return [fieldProblem('apiVersion', `${apiVersion} is not served for kind ${kind}; use ${served.join(' or ') || 'a served version'}`)];
  }

  private addCrdFile(file: string): void {
    const text = fs.readFileSync(file, 'utf8');
    // One piece per document: a line starting with `---` always starts a new one. A directive (%YAML) applies to the
    // document after it, so a file with one is kept whole.
    const pieces = /^%/m.test(text) ? [text] : text.split(/^(?=---(?:[ \t]|$))/m);
    for (const piece of pieces) {
      const order = this.documents++;
      const id = quickCrdId(piece);
      if (id === undefined) this.addCrdText(file, piece, order);
      else this.pending.set(id, [...(this.pending.get(id) ?? []), { file, text: piece, order, id }]);
    }
  }

  /** Parses the pending CRD documents of `group kind`. */
  private parsePending(id: string): void {
    const docs = this.pending.get(id);
    if (docs === undefined) return;
    this.pending.delete(id);
    for (const doc of docs) {
      if (this.addCrdText(doc.file, doc.text, doc.order) !== doc.id) {
        // The quick look was wrong about this document, so it may be wrong about others: parse them all.
        this.parseAllPending();
      }
    }
  }

  private parseAllPending(): void {
    for (const id of [...this.pending.keys()]) this.parsePending(id);
  }

  /** Registers the CRD documents of `text`; returns the `group kind` of the last one (undefined when none). */
  private addCrdText(file: string, text: string, order: number): string | undefined {
    const base = path.basename(file);
    let id: string | undefined;
    for (const doc of YAML.parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
      const crd = doc.toJS();
      if (!isRecord(crd) || crd.kind !== 'CustomResourceDefinition' || !isRecord(crd.spec) || !isRecord(crd.metadata)) continue;
      const { group, names, versions } = crd.spec;
      if (typeof group !== 'string' || !isRecord(names) || typeof names.kind !== 'string' || !Array.isArray(versions)) continue;
      id = `${group} ${names.kind}`;
      for (const v of versions) {
        if (!isRecord(v) || typeof v.name !== 'string') continue;
        if (v.served !== true) {
          this.unserved.set(id, [...(this.unserved.get(id) ?? []), v.name]);
          continue;
        }
        const key = `${group}/${v.name} ${names.kind}`;
        // The first definition wins, so a directory holding both a trimmed and a full copy of a CRD stays usable.
        const existing = this.entries.get(key);
        if (existing !== undefined && existing.order < order) continue;
        const raw = isRecord(v.schema) && isRecord(v.schema.openAPIV3Schema) ? v.schema.openAPIV3Schema : { type: 'object' };
        this.compiled.delete(key);
        this.entries.set(key, {
          source: `${crd.metadata.name}/${v.name} (${base})`,
          schema: raw,
          crd: true,
          schemaless: raw['x-kubernetes-preserve-unknown-fields'] === true && !(isRecord(raw.properties) && 'spec' in raw.properties),
          order,
        });
      }
    }
    return id;
  }

  private addK8sSchema(file: string, source: string): void {
    const schema: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!isRecord(schema)) return;
    collectFormats(schema, this.formats);
    if (path.basename(file) === '_definitions.json') {
      this.k8sDefinitions = schema;
      return;
    }
    const gvks = schema['x-kubernetes-group-version-kind'];
    if (!Array.isArray(gvks)) return;
    for (const gvk of gvks) {
      if (!isRecord(gvk) || typeof gvk.kind !== 'string' || typeof gvk.version !== 'string') continue;
      const apiVersion = typeof gvk.group === 'string' && gvk.group !== '' ? `${gvk.group}/${gvk.version}` : gvk.version;
      const key = `${apiVersion} ${gvk.kind}`;
      if (!this.entries.has(key)) this.entries.set(key, { source, schema, crd: false, schemaless: false, order: Number.MAX_SAFE_INTEGER });
    }
  }

  private compile(key: string, entry: Entry): ValidateFunction {
    let fn = this.compiled.get(key);
    if (fn === undefined) {
      const ajv = this.getAjv();
      const schema = entry.crd ? shareRepeatedSubschemas(crdRootSchema(entry.schema, this.formats)) : entry.schema;
      for (const name of this.formats) {
        if (!ajv.formats[name]) ajv.addFormat(name, FORMATS[name] ?? true);
      }
      fn = ajv.compile(schema);
      this.compiled.set(key, fn);
    }
    return fn;
  }

  private getAjv(): Ajv2020 {
    if (this.ajv === undefined) {
      // strict: false ignores the OpenAPI/Kubernetes keywords JSON Schema does not know (x-kubernetes-*, example...).
      // validateSchema: false skips meta-validating megabytes of upstream schemas on every compile.
      // inlineRefs: false compiles a shared subschema (see shareRepeatedSubschemas) once instead of at every $ref.
      const ajv = new Ajv2020({
        strict: false,
        allErrors: true,
        verbose: true,
        validateSchema: false,
        logger: false,
        inlineRefs: false,
        code: { optimize: false },
      });
      ajv.addKeyword({ keyword: LIST_MAP_KEYS, type: 'array', schemaType: 'array', errors: true, validate: uniqueListMapKeys });
      if (this.k8sDefinitions !== undefined) ajv.addSchema(this.k8sDefinitions, K8S_DEFINITIONS_ID);
      this.ajv = ajv;
    }
    return this.ajv;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CRD schema → JSON Schema

/** Private keyword carrying `x-kubernetes-list-map-keys` of a `x-kubernetes-list-type: map` list. */
const LIST_MAP_KEYS = 'x-meshgen-list-map-keys';

/**
 * `metadata` at a CRD root is usually just `type: object` (the API server checks it as ObjectMeta). Checked loosely here:
 * the fields people write are typed, the server-populated ones accept anything, and a misspelt field is unknown.
 */
const LOOSE_METADATA: Record<string, unknown> = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    namespace: { type: 'string' },
    generateName: { type: 'string' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    finalizers: { type: 'array', items: { type: 'string' } },
    ownerReferences: { type: 'array', items: { type: 'object' } },
    creationTimestamp: {},
    deletionGracePeriodSeconds: {},
    deletionTimestamp: {},
    generation: {},
    managedFields: {},
    resourceVersion: {},
    selfLink: {},
    uid: {},
  },
  additionalProperties: false,
};

function crdRootSchema(raw: Record<string, unknown>, formats: Set<string>): Record<string, unknown> {
  const root = toJsonSchema(raw, formats, false) as Record<string, unknown>;
  // apiVersion, kind and metadata are implicitly part of every custom resource; Istio's CRDs do not list them.
  const properties: Record<string, unknown> = {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    ...(isRecord(root.properties) ? root.properties : {}),
  };
  const rawMeta = isRecord(raw.properties) ? raw.properties.metadata : undefined;
  // Some CRDs constrain metadata (e.g. a name length); keep that, as a value validation beside the loose shape.
  const constrained = isRecord(rawMeta) && Object.keys(rawMeta).some((k) => k !== 'type' && k !== 'description');
  properties.metadata = constrained ? { allOf: [LOOSE_METADATA, toJsonSchema(rawMeta, formats, true)] } : LOOSE_METADATA;
  return { ...root, properties };
}

/** Subschemas at least this long (as JSON) that occur more than once are compiled once, through `$defs`. */
const SHARED_MIN_LENGTH = 1000;

/**
 * Moves every repeated large subschema into `$defs` and refers to it with `$ref`, so that Ajv compiles it once (the
 * ApplicationSet CRD repeats its 13 KB Application template 24 times: compiling it shrinks from seconds to a fraction).
 * Nothing under allOf/anyOf/oneOf/not is shared, so the schema paths the error formatter relies on stay as they were.
 * Validation is unchanged: a `$ref` to an identical subschema validates exactly as the subschema would.
 */
function shareRepeatedSubschemas(root: Record<string, unknown>): Record<string, unknown> {
  // Only schemas are shared: the values of `properties`, and `items` and `additionalProperties` when they are schemas.
  const children = (node: Record<string, unknown>): Record<string, unknown>[] => [
    ...(isRecord(node.properties) ? Object.values(node.properties).filter(isRecord) : []),
    ...[node.items, node.additionalProperties].filter(isRecord),
  ];
  const json = new Map<Record<string, unknown>, string>();
  const counts = new Map<string, number>();
  const count = (node: Record<string, unknown>): void => {
    const text = JSON.stringify(node);
    json.set(node, text);
    if (text.length >= SHARED_MIN_LENGTH) counts.set(text, (counts.get(text) ?? 0) + 1);
    for (const child of children(node)) count(child);
  };
  count(root);
  const defs: Record<string, unknown> = {};
  const names = new Map<string, string>();
  const share = (node: Record<string, unknown>): Record<string, unknown> => {
    const text = json.get(node) as string;
    if ((counts.get(text) ?? 0) < 2) return shareChildren(node);
    let name = names.get(text);
    if (name === undefined) {
      name = `shared${names.size}`;
      names.set(text, name);
      defs[name] = shareChildren(node);
    }
    return { $ref: `#/$defs/${name}` };
  };
  const shareChildren = (node: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...node };
    if (isRecord(node.properties)) out.properties = mapValues(node.properties, (v) => (isRecord(v) ? share(v) : v));
    for (const key of ['items', 'additionalProperties']) if (isRecord(node[key])) out[key] = share(node[key]);
    return out;
  };
  const out = shareChildren(root);
  return names.size === 0 ? root : { ...out, $defs: defs };
}

/**
 * Rewrites one OpenAPI v3 node of a structural CRD schema (recursively, into new objects: the input is not modified).
 * `inJunctor` marks nodes under allOf/anyOf/oneOf/not: those are value validations of the parent, so they must not
 * reject the parent's other fields.
 */
function toJsonSchema(node: unknown, formats: Set<string>, inJunctor: boolean): unknown {
  if (!isRecord(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case 'description':
      case 'example':
      case 'nullable':
      case 'x-kubernetes-int-or-string':
      case 'x-kubernetes-preserve-unknown-fields':
      case 'x-kubernetes-list-type':
      case 'x-kubernetes-list-map-keys':
        break;
      // CEL rules need a CEL interpreter and the old object for transition rules; they are not evaluated here.
      case 'x-kubernetes-validations':
        break;
      case 'properties':
        out.properties = isRecord(value) ? mapValues(value, (v) => toJsonSchema(v, formats, inJunctor)) : value;
        break;
      case 'additionalProperties':
      case 'items':
        out[key] = Array.isArray(value) ? value.map((v) => toJsonSchema(v, formats, inJunctor)) : toJsonSchema(value, formats, inJunctor);
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
        out[key] = Array.isArray(value) ? value.map((v) => toJsonSchema(v, formats, true)) : value;
        break;
      case 'not':
        out.not = toJsonSchema(value, formats, true);
        break;
      case 'format':
        if (typeof value === 'string') formats.add(value);
        out.format = value;
        break;
      default:
        out[key] = value;
    }
  }
  if (node['x-kubernetes-int-or-string'] === true) {
    out.type = ['integer', 'string'];
    // controller-gen also emits `anyOf: [{type: integer}, {type: string}]`; the type says the same with one error, not three.
    if (
      Array.isArray(out.anyOf) &&
      out.anyOf.every((s) => isRecord(s) && Object.keys(s).length === 1 && (s.type === 'integer' || s.type === 'string'))
    ) {
      delete out.anyOf;
    }
  }
  if ('properties' in out && !('additionalProperties' in out) && node['x-kubernetes-preserve-unknown-fields'] !== true && !inJunctor) {
    out.additionalProperties = false;
  }
  if (node['x-kubernetes-list-type'] === 'set') out.uniqueItems = true;
  if (node['x-kubernetes-list-type'] === 'map' && Array.isArray(node['x-kubernetes-list-map-keys']))
    out[LIST_MAP_KEYS] = node['x-kubernetes-list-map-keys'];
  return node.nullable === true ? allowNull(out) : out;
}

function allowNull(schema: Record<string, unknown>): Record<string, unknown> {
  if ('allOf' in schema || 'anyOf' in schema || 'oneOf' in schema || 'not' in schema) return { anyOf: [{ type: 'null' }, schema] };
  const out = { ...schema };
  if (typeof out.type === 'string') out.type = [out.type, 'null'];
  else if (Array.isArray(out.type) && !out.type.includes('null')) out.type = [...out.type, 'null'];
  if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  return out;
}

const uniqueListMapKeys: SchemaValidateFunction = (keys: string[], data: unknown): boolean => {
  if (!Array.isArray(data)) return true;
  const seen = new Map<string, number>();
  for (const [i, item] of data.entries()) {
    if (!isRecord(item)) continue;
    const id = JSON.stringify(keys.map((k) => item[k] ?? null));
    const first = seen.get(id);
    if (first !== undefined) {
      const what = keys.map((k) => `${k}=${JSON.stringify(item[k])}`).join(', ');
      uniqueListMapKeys.errors = [{ keyword: LIST_MAP_KEYS, message: `items [${first}] and [${i}] have the same key (${what})`, params: { keys } }];
      return false;
    }
    seen.set(id, i);
  }
  return true;
};

// ---------------------------------------------------------------------------------------------------------------
// Formats

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
// Go's time.ParseDuration, plus the `d`/`w` units of the go-openapi `duration` format the API server uses.
const DURATION = /^[-+]?(?:0|(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d|w))+$/;

/** Formats Kubernetes schemas use; any other format found in a schema is accepted as is. */
const FORMATS: Record<string, Format> = {
  int32: { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 },
  int64: { type: 'number', validate: (n: number) => Number.isInteger(n) },
  float: { type: 'number', validate: () => true },
  double: { type: 'number', validate: () => true },
  byte: { type: 'string', validate: (s: string) => BASE64.test(s) },
  'date-time': { type: 'string', validate: (s: string) => RFC3339.test(s) },
  duration: { type: 'string', validate: (s: string) => DURATION.test(s) },
};

function collectFormats(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectFormats(item, into);
  } else if (isRecord(node)) {
    if (typeof node.format === 'string') into.add(node.format);
    for (const value of Object.values(node)) collectFormats(value, into);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

function formatErrors(errors: ErrorObject[], obj: unknown): SchemaProblem[] {
  // A failed anyOf/oneOf also reports why each of its branches failed. Where the junction gets a message of its own
  // (one-of-these-fields, one-of-these-types) that noise is dropped; otherwise the branch errors are the explanation.
  const hidden: string[] = [];
  const dropped = new Set<ErrorObject>();
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && e.keyword !== 'oneOf') continue;
    const branches: unknown[] = Array.isArray(e.schema) ? e.schema : [];
    const nullBranch = branches.findIndex((b) => isRecord(b) && b.type === 'null' && Object.keys(b).length === 1);
    if (e.keyword === 'anyOf' && branches.length === 2 && nullBranch >= 0) {
      // The `nullable` wrapper (see allowNull): the value is not null, so only the other branch's errors matter.
      dropped.add(e);
      hidden.push(`${e.schemaPath}/${nullBranch}/`);
    } else if (requiredAlternatives(branches).length > 0 || branchTypes(branches).length > 0) {
      hidden.push(`${e.schemaPath}/`);
    }
  }
  return errors.filter((e) => !dropped.has(e) && !hidden.some((h) => e.schemaPath.startsWith(h))).map((e) => formatError(e, obj));
}

function formatError(e: ErrorObject, obj: unknown): SchemaProblem {
  const { path: at, segments } = jsonPath(e.instancePath, obj);
  const here = (message: string): SchemaProblem => ({ path: at, segments, message });
  const child = (key: string, message: string): SchemaProblem => ({ path: childPath(at, key), segments: [...segments, key], message });
  const p = e.params as Record<string, any>;
  switch (e.keyword) {
    case 'additionalProperties':
      return child(String(p.additionalProperty), 'unknown field');
    case 'required':
      return child(String(p.missingProperty), 'required field is missing');
    case 'enum':
      return here(`unsupported value ${show(e.data)}; supported values: ${(p.allowedValues as unknown[]).map(show).join(', ')}`);
    case 'const':
      return here(`must be ${show(p.allowedValue)}, got ${show(e.data)}`);
    case 'type':
      return here(`must be ${String(p.type).split(',').join(' or ')}, got ${describe(e.data)}`);
    case 'format':
      return here(`${show(e.data)} is not a valid ${p.format}`);
    case 'pattern':
      return here(`${show(e.data)} does not match ${p.pattern}`);
    case 'oneOf':
    case 'anyOf': {
      const fields = requiredAlternatives(e.schema);
      const types = branchTypes(e.schema);
      if (Array.isArray(p.passingSchemas)) {
        return fields.length > 0 ? here(`at most one of ${fields.join(', ')} may be set`) : here(`matches more than one of the ${e.keyword} forms`);
      }
      if (fields.length > 0) return here(`${e.keyword === 'oneOf' ? 'exactly' : 'at least'} one of ${fields.join(', ')} must be set`);
      if (types.length > 0) return here(`must be ${types.join(' or ')}, got ${describe(e.data)}`);
      return here(`matches none of the ${e.keyword} forms (see the errors above)`);
    }
    default:
      return here(e.message ?? `fails ${e.keyword}`);
  }
}

/** The types of branches that are just `{type: ...}` (e.g. IntOrString), or nothing when some branch says more. */
function branchTypes(branches: unknown): string[] {
  if (!Array.isArray(branches) || branches.length === 0) return [];
  const types = branches.map((b) => (isRecord(b) && Object.keys(b).length === 1 ? b.type : undefined));
  if (types.some((t) => t === undefined)) return [];
  return dedupe(types.flat().map(String));
}

/** Field names of branches that are just `{required: [...]}` (how Istio and controller-gen spell "one of these fields"). */
function requiredAlternatives(branches: unknown): string[] {
  if (!Array.isArray(branches)) return [];
  return branches.flatMap((b) => (isRecord(b) && Array.isArray(b.required) && Object.keys(b).length === 1 ? (b.required as string[]) : []));
}

/** `/spec/servers/0/tls` → `spec.servers[0].tls` and its segments, using the object to tell list indexes from map keys. */
function jsonPath(pointer: string, obj: unknown): { path: string; segments: (string | number)[] } {
  if (pointer === '') return { path: '<root>', segments: [] };
  let out = '';
  const segments: (string | number)[] = [];
  let cur: unknown = obj;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      out += `[${seg}]`;
      segments.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out = childPath(out, seg);
      segments.push(seg);
      cur = isRecord(cur) ? cur[seg] : undefined;
    }
  }
  return { path: out, segments };
}

function childPath(parent: string, key: string): string {
  const base = parent === '<root>' ? '' : parent;
  if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return base === '' ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(key)}]`;
}

function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (value === undefined) return 'nothing';
  return `${typeof value} ${show(value)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function mapValues(obj: Record<string, unknown>, fn: (v: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = fn(v);
  return out;
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}

/** `networking.istio.io/v1` → `networking.istio.io`; `v1` → ''. */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * `group kind` of a CRD document laid out as Kubernetes and controller-gen write them, found without parsing it: in the
 * block of the top-level `spec:`, the one `  group: <group>` line and the `    kind: <Kind>` line of `  names:` (two-space
 * indentation, plain scalars). Undefined when the text does not look exactly like that: the document is then parsed
 * right away. The result is checked when the document is parsed.
 */
function quickCrdId(text: string): string | undefined {
  if (text.includes('\r') || !/^kind: CustomResourceDefinition$/m.test(text)) return undefined;
  // The lines after `spec:` up to the next top-level key: indented, comments or blank.
  const spec = /^spec:\n((?:(?:[ #].*)?\n)*)/m.exec(`${text}\n`)?.[1];
  if (spec === undefined) return undefined;
  const groups = [...spec.matchAll(/^ {2}group: ([A-Za-z0-9.-]+)$/gm)];
  const kinds = [...spec.matchAll(/^ {2}names:\n(?:(?: {4}.*| *#.*)?\n)*? {4}kind: ([A-Za-z0-9]+)$/gm)];
  if (groups.length !== 1 || kinds.length !== 1) return undefined;
  return `${groups[0][1]} ${kinds[0][1]}`;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The nearest ancestor of `start` holding a package.json. */
function packageRoot(start: string): string | undefined {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}
