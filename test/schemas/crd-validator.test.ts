import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import * as YAML from 'yaml';
import { crdDirectory, SchemaRegistry } from '../../src/schemas/crd-validator';
import { CRDS_DIR } from '../helpers/schemas';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(REPO_ROOT, 'dist');

let registry: SchemaRegistry | undefined;
let loadMs = 0;
function schemas(): SchemaRegistry {
  if (registry === undefined) {
    const start = performance.now();
    registry = SchemaRegistry.load(CRDS_DIR);
    loadMs = performance.now() - start;
  }
  return registry;
}

/** A deep copy of `obj` with `value` set at `at` (`/`-separated keys, numbers index lists); `undefined` deletes the field. */
function withValue<T>(obj: T, at: string, value: unknown): T {
  const copy = structuredClone(obj) as any;
  const keys = at.split('/');
  let cur = copy;
  for (const k of keys.slice(0, -1)) cur = cur[k];
  const last = keys[keys.length - 1];
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy;
}

function assertValid(obj: unknown): string {
  const { schema, errors } = schemas().validate(obj);
  assert.deepEqual(errors, []);
  assert.ok(schema, 'expected a schema to be found');
  return schema;
}

/** Expects validation to fail with exactly one error that contains `fragment`. */
function assertFails(obj: unknown, fragment: string): void {
  const { errors } = schemas().validate(obj);
  assert.equal(errors.length, 1, `expected one error containing ${JSON.stringify(fragment)}, got ${JSON.stringify(errors)}`);
  assert.ok(errors[0].includes(fragment), `expected ${JSON.stringify(errors[0])} to contain ${JSON.stringify(fragment)}`);
}

const GATEWAY = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'cross-network-gateway', namespace: 'istio-system' },
  spec: {
    selector: { istio: 'eastwestgateway' },
    servers: [{ port: { number: 15443, name: 'tls', protocol: 'TLS' }, tls: { mode: 'AUTO_PASSTHROUGH' }, hosts: ['*.local'] }],
  },
};

const SEALED_SECRET = {
  apiVersion: 'bitnami.com/v1alpha1',
  kind: 'SealedSecret',
  metadata: { name: 'cacerts', namespace: 'istio-system' },
  spec: {
    encryptedData: { 'ca-cert.pem': 'AgBy3i4OJSWK+PiTySYZZA==' },
    template: { metadata: { name: 'cacerts', namespace: 'istio-system' }, type: 'Opaque' },
  },
};

const SECRET = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'token', namespace: 'istio-system', annotations: { 'kubernetes.io/service-account.name': 'istio-reader-service-account' } },
  type: 'kubernetes.io/service-account-token',
  data: { 'ca.crt': 'LS0tLS1CRUdJTg==' },
  stringData: { token: 'plain' },
};

const NAMESPACE = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: 'istio-system', labels: { 'topology.istio.io/network': 'network-east' } },
  spec: {},
};

const APPLICATION_SET = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'ApplicationSet',
  metadata: { name: 'istio-mesh', namespace: 'argocd' },
  spec: {
    goTemplate: true,
    goTemplateOptions: ['missingkey=error'],
    generators: [{ list: { elements: [{ cluster: 'cluster-east-1', server: 'https://api.cluster-east-1.example.com:6443' }] } }],
    template: {
      metadata: { name: 'istio-{{.cluster}}' },
      spec: {
        project: 'default',
        source: { repoURL: 'https://github.com/example/mesh.git', targetRevision: 'main', path: 'dist/clusters/{{.cluster}}' },
        destination: { server: '{{.server}}', namespace: 'istio-system' },
        syncPolicy: { automated: { prune: true, selfHeal: true }, syncOptions: ['CreateNamespace=true'] },
      },
    },
  },
};

const FLUX_KUSTOMIZATION = {
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name: 'istio', namespace: 'flux-system' },
  spec: {
    interval: '10m',
    path: './dist/clusters/cluster-east-1',
    prune: true,
    sourceRef: { kind: 'GitRepository', name: 'mesh' },
    targetNamespace: 'istio-system',
  },
};

test('the default CRD directory is the schemas/crds/ meshgen ships; MESHGEN_CRDS overrides it', () => {
  assert.deepEqual(crdDirectory({}), { dir: path.join(REPO_ROOT, 'schemas', 'crds') });
  assert.equal(CRDS_DIR, path.join(REPO_ROOT, 'schemas', 'crds'));
  assert.deepEqual(crdDirectory({ MESHGEN_CRDS: '' }), { dir: CRDS_DIR });
  const other = path.join(REPO_ROOT, 'schemas', 'crds', 'k8s-schemas');
  assert.deepEqual(crdDirectory({ MESHGEN_CRDS: other }), { dir: other });
  const missing = crdDirectory({ MESHGEN_CRDS: path.join(REPO_ROOT, 'no-such-crds') });
  assert.equal(missing.dir, undefined);
  assert.match(missing.reason ?? '', /no-such-crds is not a directory/);
  assert.ok(!JSON.stringify(missing).includes('shared'), 'no path outside the repository is suggested');
});

test('loads every served CRD version and the core Kubernetes kinds', (t) => {
  const kinds = schemas().kinds();
  t.diagnostic(`loaded ${kinds.length} schemas from ${CRDS_DIR} in ${Math.round(loadMs)} ms`);
  for (const k of [
    'networking.istio.io/v1 Gateway',
    'networking.istio.io/v1alpha3 Gateway',
    'networking.istio.io/v1beta1 Gateway',
    'security.istio.io/v1 PeerAuthentication',
    'bitnami.com/v1alpha1 SealedSecret',
    'external-secrets.io/v1 ExternalSecret',
    'argoproj.io/v1alpha1 ApplicationSet',
    'kustomize.toolkit.fluxcd.io/v1 Kustomization',
    'install.istio.io/v1alpha1 IstioOperator',
    'sailoperator.io/v1 Istio',
    'sailoperator.io/v1 IstioRevisionTag',
    'v1 Namespace',
    'v1 Secret',
    'v1 ServiceAccount',
    'v1 ConfigMap',
  ]) {
    assert.ok(kinds.includes(k), `${k} missing from ${kinds.join(', ')}`);
  }
  // external-secrets.io/v1beta1 is listed in the CRD with served: false.
  assert.ok(!kinds.includes('external-secrets.io/v1beta1 ExternalSecret'));
});

test('Gateway: a valid one passes', () => {
  assert.match(assertValid(GATEWAY), /^gateways\.networking\.istio\.io\/v1 /);
  assertValid({ ...GATEWAY, apiVersion: 'networking.istio.io/v1beta1' });
});

test('Gateway: fails when tls.mode is not in the enum', () => {
  assertFails(withValue(GATEWAY, 'spec/servers/0/tls/mode', 'AUTO_PASSTHRU'), 'spec.servers[0].tls.mode: unsupported value "AUTO_PASSTHRU"');
});

test('Gateway: fails on an unknown field', () => {
  const bad = withValue(GATEWAY, 'spec/servers/0/portt', { number: 15443 });
  assertFails(bad, 'spec.servers[0].portt: unknown field');
});

test('SealedSecret: a valid one passes, with nullable and preserve-unknown-fields parts', () => {
  assertValid(SEALED_SECRET);
  assertValid(withValue(SEALED_SECRET, 'spec/template/data', null));
  // template.metadata is x-kubernetes-preserve-unknown-fields: extra fields are kept, not rejected.
  assertValid(withValue(SEALED_SECRET, 'spec/template/metadata/creationTimestamp', null));
});

test('SealedSecret: fails when an encryptedData value is a number', () => {
  assertFails(withValue(SEALED_SECRET, 'spec/encryptedData/ca-cert.pem', 42), 'spec.encryptedData["ca-cert.pem"]: must be string, got number 42');
});

test('SealedSecret: fails when a non-nullable field is null or encryptedData is missing', () => {
  assertFails(withValue(SEALED_SECRET, 'spec/template/type', null), 'spec.template.type: must be string, got null');
  assertFails(withValue(SEALED_SECRET, 'spec/encryptedData', undefined), 'spec.encryptedData: required field is missing');
});

test('Secret: a valid one passes', () => {
  assert.equal(assertValid(SECRET), 'k8s-schemas/secret-v1.json');
});

test('Secret: fails when stringData is not a map, or data is not base64', () => {
  assertFails({ ...SECRET, stringData: 5 }, 'stringData: must be object or null, got number 5');
  assertFails(withValue(SECRET, 'data/ca.crt', 'not base64!'), 'data["ca.crt"]: "not base64!" is not a valid byte');
});

test('Namespace: a valid one passes', () => {
  assert.equal(assertValid(NAMESPACE), 'k8s-schemas/namespace-v1.json');
});

test('Namespace: fails when a label value is a number, or on an unknown metadata field', () => {
  assertFails(withValue(NAMESPACE, 'metadata/labels/x', 1), 'metadata.labels.x: must be string or null, got number 1');
  assertFails(withValue(NAMESPACE, 'metadata/lables', { x: 'y' }), 'metadata.lables: unknown field');
});

test('ApplicationSet: a valid one passes', () => {
  assert.match(assertValid(APPLICATION_SET), /^applicationsets\.argoproj\.io\/v1alpha1 /);
});

test('ApplicationSet: fails on a misspelt field', () => {
  const bad = withValue(APPLICATION_SET, 'spec/template/spec/syncPolicy/automated/selfheal', true);
  assertFails(bad, 'spec.template.spec.syncPolicy.automated.selfheal: unknown field');
});

test('ApplicationSet: errors inside a generator template (a subschema the CRD repeats 24 times) name the full path', () => {
  const template = structuredClone(APPLICATION_SET.spec.template);
  const withTemplate = (t: unknown) => withValue(APPLICATION_SET, 'spec/generators/0/list/template', t);
  assertValid(withTemplate(template));
  assertFails(
    withTemplate(withValue(template, 'spec/syncPolicy/automated/selfheal', true)),
    'spec.generators[0].list.template.spec.syncPolicy.automated.selfheal: unknown field',
  );
  assertFails(
    withTemplate(withValue(template, 'spec/source/repoURL', 42)),
    'spec.generators[0].list.template.spec.source.repoURL: must be string, got number 42',
  );
  // The same subschema under another generator, and the top-level template, report their own paths.
  const matrix = withValue(APPLICATION_SET, 'spec/generators/0', {
    matrix: { generators: [{ clusters: { template: withValue(template, 'spec/project', false) } }, { list: { elements: [] } }] },
  });
  assertFails(matrix, 'spec.generators[0].matrix.generators[0].clusters.template.spec.project: must be string, got boolean false');
});

test('Flux Kustomization: a valid one passes', () => {
  assert.match(assertValid(FLUX_KUSTOMIZATION), /^kustomizations\.kustomize\.toolkit\.fluxcd\.io\/v1 /);
});

test('Flux Kustomization: fails on a wrong field type', () => {
  assertFails(withValue(FLUX_KUSTOMIZATION, 'spec/prune', 'yes'), 'spec.prune: must be boolean, got string "yes"');
  assertFails(withValue(FLUX_KUSTOMIZATION, 'spec/sourceRef/kind', 'GitRepo'), 'spec.sourceRef.kind: unsupported value "GitRepo"');
});

test('CRD metadata: checked loosely but typed', () => {
  assertValid(withValue(GATEWAY, 'metadata/annotations', { 'argocd.argoproj.io/sync-wave': '1' }));
  assertFails(
    withValue(GATEWAY, 'metadata/annotations', { 'argocd.argoproj.io/sync-wave': 1 }),
    'metadata.annotations["argocd.argoproj.io/sync-wave"]: must be string',
  );
  assertFails(withValue(GATEWAY, 'metadata', { namespace: 'istio-system' }), 'metadata.name: required field is missing');
});

test('Kubernetes extensions: int-or-string, list-map keys, Istio oneOf', () => {
  const app = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'a', namespace: 'argocd' },
    spec: {
      project: 'default',
      destination: { name: 'in-cluster' },
      source: { repoURL: 'https://example.com/r.git', kustomize: { replicas: [{ name: 'istiod', count: 2 }] } },
    },
  };
  assertValid(app);
  assertValid(withValue(app, 'spec/source/kustomize/replicas/0/count', '2'));
  assertFails(withValue(app, 'spec/source/kustomize/replicas/0/count', true), 'spec.source.kustomize.replicas[0].count: must be integer or string');

  const serviceEntry = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: 'se' },
    spec: { hosts: ['a.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] },
  };
  assertValid(serviceEntry);
  const twice = withValue(serviceEntry, 'spec/ports', [...serviceEntry.spec.ports, { number: 81, name: 'http', protocol: 'HTTP' }]);
  assertFails(twice, 'spec.ports: items [0] and [1] have the same key (name="http")');

  const rule = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'dr' },
    spec: { host: 'a.example.com', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
  };
  assertValid(rule);
  const both = withValue(rule, 'spec/trafficPolicy/loadBalancer/consistentHash', { useSourceIp: true });
  assertFails(both, 'spec.trafficPolicy.loadBalancer: at most one of simple, consistentHash may be set');
});

test('kinds without a schema: schemaless IstioOperator and kustomize Kustomization', () => {
  const operator = { apiVersion: 'install.istio.io/v1alpha1', kind: 'IstioOperator', metadata: { name: 'cp' }, spec: { anything: [1, 'x'] } };
  assert.deepEqual(schemas().validate(operator), { schema: undefined, errors: [], problems: [] });
  assert.deepEqual(schemas().validate(withValue(operator, 'metadata/labels', { x: 1 })).errors, ['metadata.labels.x: must be string, got number 1']);
  const kustomization = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['a.yaml'] };
  assert.deepEqual(schemas().validate(kustomization), { schema: undefined, errors: [], problems: [] });
});

test('fails when apiVersion/kind are missing, or the version is not served', () => {
  assert.deepEqual(schemas().validate([]).errors, ['<root>: must be a Kubernetes object (a mapping), got an array']);
  assert.deepEqual(schemas().validate({ kind: 'Secret' }).errors, ['apiVersion: must be a non-empty string, got nothing']);
  const { schema, errors } = schemas().validate({ apiVersion: 'external-secrets.io/v1beta1', kind: 'ExternalSecret', metadata: { name: 'x' } });
  assert.equal(schema, undefined);
  assert.deepEqual(errors, ['apiVersion: external-secrets.io/v1beta1 is not served for kind ExternalSecret; use external-secrets.io/v1']);
});

test('every manifest generated for the example in dist/ matches its schema', (t) => {
  // GIVEN
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.name.endsWith('.yaml') && ent.name !== 'kustomization.yaml' && path.basename(dir) !== 'helm') files.push(p);
    }
  };
  assert.ok(fs.existsSync(DIST), `${DIST} does not exist; run "npm run synth"`);
  walk(DIST);
  files.sort();
  const registry = schemas();

  // WHEN
  const start = performance.now();
  const errors: string[] = [];
  const noSchema: string[] = [];
  const checked = new Map<string, number>();
  for (const file of files) {
    const rel = path.relative(DIST, file);
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${rel}: YAML does not parse`);
      const obj = doc.toJS() as Record<string, any> | null;
      if (obj === null) continue;
      const id = `${rel}: ${obj.kind}/${obj.metadata?.name}`;
      const result = registry.validate(obj);
      errors.push(...result.errors.map((e) => `${id}: ${e}`));
      if (result.schema === undefined) noSchema.push(`${id} (${obj.apiVersion})`);
      else checked.set(obj.kind, (checked.get(obj.kind) ?? 0) + 1);
    }
  }
  t.diagnostic(`validated ${files.length} files in ${Math.round(performance.now() - start)} ms (schemas loaded in ${Math.round(loadMs)} ms)`);
  t.diagnostic(`checked against a schema: ${[...checked].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  t.diagnostic(`no schema (basic checks only): ${noSchema.join('; ') || 'none'}`);

  // THEN
  assert.deepEqual(errors, []);
  for (const kind of ['SealedSecret', 'Gateway', 'Namespace', 'Secret', 'ApplicationSet', 'Kustomization', 'HelmRelease', 'HelmRepository']) {
    assert.ok((checked.get(kind) ?? 0) > 0, `no ${kind} in ${DIST} was checked against a schema`);
  }
});

test("the example's gateway values files match the gateway chart's values schema", () => {
  const schema = JSON.parse(fs.readFileSync(path.join(CRDS_DIR, 'istio-values-schemas', 'gateway.values.schema.json'), 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  let n = 0;
  for (const c of fs.readdirSync(path.join(DIST, 'clusters'))) {
    const file = path.join(DIST, 'clusters', c, 'helm', 'gateway-values.yaml');
    if (!fs.existsSync(file)) continue;
    const values = YAML.parse(fs.readFileSync(file, 'utf8'));
    assert.ok(validate(values), `${c}: ${ajv.errorsText(validate.errors)}`);
    n += 1;
  }
  assert.equal(n, 3);
  // The schema is strict: an unknown value is refused.
  assert.ok(!validate({ networkGateway: 'n1', bogus: 1 }));
});

// ---------------------------------------------------------------------------------------------------------------------
// Loading: a CRD document is parsed when its kind is first validated, found by a quick look at its text.

/** A Widget CRD (example.test/v1) whose spec.size has `sizeType`; `indent` spaces per level (2 is how Kubernetes writes them). */
function widgetCrd(sizeType: string, indent = 2): string {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.test' },
    spec: {
      group: 'example.test',
      names: { kind: 'Widget', listKind: 'WidgetList', plural: 'widgets', singular: 'widget' },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: sizeType } } } } } },
        },
      ],
    },
    status: { acceptedNames: { kind: 'Widget', plural: 'widgets' } },
  };
  return `---\n${YAML.stringify(crd, { indent, indentSeq: false })}`;
}

function crdDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-crds-'));
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

const widget = (size: unknown) => ({ apiVersion: 'example.test/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size } });

test('loading: CRDs in any layout are found; where two files define a version, the first file (by name) wins', () => {
  for (const [first, second] of [
    [widgetCrd('integer'), widgetCrd('string')], // both found by the quick look
    [widgetCrd('integer', 4), widgetCrd('string')], // the first only by parsing (four-space indentation)
    [widgetCrd('integer'), widgetCrd('string', 4)], // the second only by parsing
    [`# a comment\n${widgetCrd('integer').replace(/^---\n/, '')}${widgetCrd('string')}`, ''], // one file, no leading ---
  ]) {
    const dir = crdDir({ 'a.yaml': first, 'b.yaml': second });
    try {
      const r = SchemaRegistry.load(dir);
      assert.deepEqual(r.validate(widget(3)), { schema: 'widgets.example.test/v1 (a.yaml)', errors: [], problems: [] });
      assert.deepEqual(r.validate(widget('3')).errors, ['spec.size: must be integer, got string "3"']);
      assert.deepEqual(r.kinds(), ['example.test/v1 Widget']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('loading: a CRD file that does not parse fails when its kind is validated, naming the file', () => {
  const dir = crdDir({ 'broken.yaml': `${widgetCrd('integer')}  extra: [unclosed\n` });
  try {
    const r = SchemaRegistry.load(dir);
    assert.throws(() => r.validate(widget(3)), /broken\.yaml: /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
