/**
 * Property-based tests (fast-check) of what SPEC §4 promises for any valid topology: random meshes of 1–12 clusters (1–30 in the soak run) on
 * 1–6 networks (cluster names are any DNS-1123 label, context names any kube context name), synthesized into dist/.
 *
 * Every test draws the same sequence of meshes (one seed for the file), so a work directory synthesized by the first
 * test is reused by the next ones. The default run is fixed and quick: seed 42, 10 runs per property, meshes of at most
 * 12 clusters. MESHGEN_SOAK=1 is the long run: a random seed (printed), 60 runs, meshes of up to 30 clusters.
 * Knobs (override either): MESHGEN_FC_SEED (replay a printed seed), MESHGEN_FC_RUNS (runs per property),
 * MESHGEN_FC_MAX_CLUSTERS (largest mesh).
 *
 * Primary-remote meshes (`role: remote`, `primary:`, `eastWestGateway.address`) are generated only when this version
 * of meshgen accepts them (REMOTES_SUPPORTED, detected by parsing a tiny remote topology).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, type TestContext, test } from 'node:test';
import fc from 'fast-check';
import { parse, parseAllDocuments } from 'yaml';
import { parseTopology } from '../../src/topology/load';
import { type MeshClusterSpec, type MeshSpec, makeMeshWorkdir, removePrivateFiles, sealingKeyPem, synthIn, writeTopology } from '../helpers/mesh-gen';
import { assertNoSecrets } from '../helpers/no-secrets';
import { type SealedSecretObject, unsealSealedSecret } from '../helpers/unseal';
import { hashTree } from '../helpers/workdir';

/** True when meshgen accepts primary-remote topologies; until then only multi-primary meshes are generated. */
const REMOTES_SUPPORTED = (() => {
  try {
    parseTopology(
      'mesh_id: probe\ncontexts:\n  p:\n    network: n1\n    eastWestGateway:\n      address: 192.0.2.10\n  r:\n    network: n1\n    role: remote\n    primary: p\n',
    );
    return true;
  } catch {
    return false;
  }
})();

/** Reads a knob and removes it from the environment: the CLI reads every MESHGEN_* variable as an option (strict). */
function knob(name: string): string | undefined {
  const v = process.env[name];
  Reflect.deleteProperty(process.env, name);
  return v;
}
const SOAK = knob('MESHGEN_SOAK') === '1';
const NUM_RUNS = Number(knob('MESHGEN_FC_RUNS') ?? (SOAK ? 60 : 10));
const SEED_KNOB = knob('MESHGEN_FC_SEED');
const SEED = SEED_KNOB !== undefined ? Number(SEED_KNOB) : SOAK ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : 42;
/** A property stops after this long, shrinking included (each step synthesizes a mesh); a failure found is still reported. */
const TIME_LIMIT_MS = SOAK ? 600_000 : 45_000;
const MAX_CLUSTERS = Number(knob('MESHGEN_FC_MAX_CLUSTERS') ?? (SOAK ? 30 : 12));
/** The environment that draws the same meshes again (the mesh size bound changes what is drawn). */
const REPLAY = `MESHGEN_FC_SEED=${SEED} MESHGEN_FC_MAX_CLUSTERS=${MAX_CLUSTERS}`;
console.log(
  `mesh-invariants: seed ${SEED}, ${NUM_RUNS} runs per property, meshes of 1-${MAX_CLUSTERS} clusters${SOAK ? ' (MESHGEN_SOAK=1)' : ''}; ` +
    `replay with ${REPLAY}`,
);
const KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error === undefined;

// ---------------------------------------------------------------------------------------------------------------------
// Generators

/** DNS-1123 labels that a YAML parser reads as something other than a string (numbers, booleans, null). */
const YAML_AMBIGUOUS_LABELS = ['123', '007', '1e3', '0x1f', 'true', 'null', 'yes', 'no', 'on', 'off', '2001-12-14', '0231-4-4'];

const dnsLabel = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,12}[a-z0-9])?$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z]([-a-z0-9]{50,61}[a-z0-9])$/) },
  { weight: 1, arbitrary: fc.constantFrom(...YAML_AMBIGUOUS_LABELS) },
);
/** A network: any Kubernetes label value. */
const networkName = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?$/);
/** mesh_id: any label value (the schema's pattern), mostly lower-case. */
const meshId = fc.oneof(
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,12}[a-z0-9])?$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,12}[A-Za-z0-9])?$/) },
);
/** How kube contexts are named in the wild; '' = the context is the cluster name (topology.yaml leaves out `cluster:`). */
const contextPrefix = fc.constantFrom(
  '',
  'kind-',
  'admin@',
  'arn:aws:eks:eu-west-1:123456789012:cluster/',
  'gke_project_europe-west1-b_',
  'Context ',
);

const clusterDraw = fc.record({
  name: dnsLabel,
  prefix: contextPrefix,
  network: fc.nat(5),
  remote: REMOTES_SUPPORTED ? fc.nat(2).map((n) => n === 0) : fc.constant(false),
  primary: fc.nat(MAX_CLUSTERS),
});

type ClusterDraw = { name: string; prefix: string; network: number; remote: boolean; primary: number };

/** Turns independent draws into a valid topology: unique contexts, at least one primary, addresses where needed. */
function buildSpec(d: { meshId: string; networks: string[]; clusters: ClusterDraw[]; repoURL?: string }): MeshSpec {
  const seen = new Set<string>();
  const draws = d.clusters.filter((c) => !seen.has(c.prefix + c.name) && seen.add(c.prefix + c.name));
  const primaries = draws.filter((c, i) => !c.remote || i === 0);
  const clusters: MeshClusterSpec[] = draws.map((c) => {
    const base = { context: c.prefix + c.name, cluster: c.name, network: d.networks[c.network % d.networks.length] };
    if (primaries.includes(c)) return base;
    const p = primaries[c.primary % primaries.length];
    return { ...base, role: 'remote', primary: p.prefix + p.name };
  });
  const served = new Set(clusters.map((c) => c.primary).filter((p) => p !== undefined));
  return {
    meshId: d.meshId,
    repoURL: d.repoURL,
    clusters: clusters.map((c) => (served.has(c.context) ? { ...c, address: `ew-${c.cluster}.example.test` } : c)),
  };
}

/** A mesh, and a number to pick things with (which cluster to remove). */
interface Case {
  readonly spec: MeshSpec;
  readonly pick: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  spec: fc
    .record({
      meshId,
      networks: fc.uniqueArray(networkName, { minLength: 1, maxLength: 6 }),
      clusters: fc.uniqueArray(clusterDraw, { minLength: 1, maxLength: MAX_CLUSTERS, selector: (c) => c.name, size: 'max' }),
      repoURL: fc.option(fc.constant('https://git.example.test/mesh.git'), { nil: undefined }),
    })
    .map(buildSpec),
  pick: fc.nat(),
});

// ---------------------------------------------------------------------------------------------------------------------
// The oracle: what Istio's multicluster guides prescribe (written from SPEC §4, not from src/topology/model.ts)

const isRemote = (c: MeshClusterSpec) => c.role === 'remote';
const isMultiNetwork = (spec: MeshSpec) => new Set(spec.clusters.map((c) => c.network)).size > 1;
const remotesOf = (spec: MeshSpec, c: MeshClusterSpec) => spec.clusters.filter((r) => isRemote(r) && r.primary === c.context);
// A remote on its primary's network needs none (primary-remote guide); one on another network does (multi-network guide).
const needsEastWest = (spec: MeshSpec, c: MeshClusterSpec) =>
  isRemote(c) ? isMultiNetwork(spec) && byContext(spec, c.primary)?.network !== c.network : isMultiNetwork(spec) || remotesOf(spec, c).length > 0;
const needsCrossNetwork = (spec: MeshSpec, c: MeshClusterSpec) => isMultiNetwork(spec) && !isRemote(c);
const peersOf = (spec: MeshSpec, c: MeshClusterSpec) => (isRemote(c) ? [] : spec.clusters.filter((o) => o !== c).map((o) => o.cluster));
const byContext = (spec: MeshSpec, context: string | undefined) => spec.clusters.find((c) => c.context === context);

// ---------------------------------------------------------------------------------------------------------------------
// Reading dist/

interface K8sObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly spec?: Record<string, any>;
}

/** One object of the output and the file (relative to the directory read) it is in. */
interface Placed {
  readonly file: string;
  readonly obj: K8sObject;
}

/** Files of a cluster directory that no kustomization applies: Helm values (`helm/`) and `istioctl install -f` input (`istioctl/`). */
const NOT_APPLIED = /^(clusters\/[^/]+\/)?(helm|istioctl)\//;

/** Every applied object of every YAML file under `root` (kustomization.yaml, helm/ and istioctl/ files excluded). */
function objectsIn(root: string): Placed[] {
  const out: Placed[] = [];
  for (const file of [...hashTree(root).keys()].sort()) {
    if (!file.endsWith('.yaml') || path.posix.basename(file) === 'kustomization.yaml' || NOT_APPLIED.test(file)) continue;
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(root, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} is valid YAML`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj !== null) out.push({ file, obj });
    }
  }
  return out;
}

const named = (objs: Placed[], kind: string, name: string) => objs.filter((o) => o.obj.kind === kind && o.obj.metadata?.name === name);
const clusterDir = (dir: string, c: MeshClusterSpec) => path.join(dir, 'dist', 'clusters', c.cluster);

/** The files (relative) reachable from a kustomization.yaml's `resources`, recursively. */
function kustomized(root: string, rel = ''): string[] {
  const k = parse(fs.readFileSync(path.join(root, rel, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  return (k.resources ?? []).flatMap((r) => {
    const p = rel ? `${rel}/${r}` : r;
    return fs.statSync(path.join(root, p)).isDirectory() ? [`${p}/kustomization.yaml`, ...kustomized(root, p)] : [p];
  });
}

/** SHA-256 of the files of dist/ and sealed/, keyed by their path in the work directory. */
function outputHashes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const sub of ['dist', 'sealed']) for (const [p, h] of hashTree(path.join(dir, sub))) out.set(`${sub}/${p}`, h);
  return out;
}

interface Diff {
  added: string[];
  changed: string[];
  removed: string[];
}

function diffHashes(before: Map<string, string>, now: Map<string, string>): Diff {
  const d: Diff = { added: [], changed: [], removed: [] };
  for (const [p, h] of now) {
    if (!before.has(p)) d.added.push(p);
    else if (before.get(p) !== h) d.changed.push(p);
  }
  for (const p of before.keys()) if (!now.has(p)) d.removed.push(p);
  return sortDiff(d);
}

const sortDiff = (d: Diff): Diff => ({ added: [...d.added].sort(), changed: [...d.changed].sort(), removed: [...d.removed].sort() });

/** Where two parses of the same YAML differ: `<file> <path>: <YAML 1.2 value> ≠ <YAML 1.1 value>`. */
function differences(a: unknown, b: unknown, at: string): string[] {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !(a instanceof Date) && !(b instanceof Date)) {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    if (ka.join('\0') !== kb.join('\0')) return [`${at}: keys ${JSON.stringify(ka)} ≠ ${JSON.stringify(kb)}`];
    return ka.flatMap((k) => differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`));
  }
  return Object.is(a, b) ? [] : [`${at}: ${JSON.stringify(a)} ≠ ${b instanceof Date ? `timestamp ${b.toISOString()}` : JSON.stringify(b)}`];
}

// ---------------------------------------------------------------------------------------------------------------------
// Work directories: one per generated mesh, synthesized once and shared by the tests (same seed → same meshes)

const synthesizedDirs = new Map<string, string>();
const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A work directory for `spec`, synthesized with every reader token kept (so every remote secret is sealed). */
async function synthesized(spec: MeshSpec): Promise<string> {
  const key = JSON.stringify(spec);
  const hit = synthesizedDirs.get(key);
  if (hit) return hit;
  const dir = await makeMeshWorkdir(spec, { tokens: true });
  tmpDirs.push(dir);
  const r = await synthIn(dir);
  assert.equal(r.code, 0, `synth of a valid topology fails:\n${r.stderr}\n${fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8')}`);
  synthesizedDirs.set(key, dir);
  return dir;
}

/** Runs a property with the file's seed; reports runs and seed; throws fast-check's report (seed, counterexample). */
async function check(t: TestContext, prop: fc.IAsyncProperty<[Case]>, params: fc.Parameters<[Case]> = {}): Promise<void> {
  const started = Date.now();
  const details = await fc.check(prop, { seed: SEED, numRuns: NUM_RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, ...params });
  t.diagnostic(
    `${details.numRuns} run(s), ${details.numShrinks} shrink(s), ${Date.now() - started} ms; seed ${details.seed} (replay: ${REPLAY})` +
      (details.interrupted ? '; interrupted by the time limit' : ''),
  );
  if (details.failed) throw new Error(`${fc.defaultReportMessage(details) ?? `property failed (seed ${details.seed})`}\nreplay: ${REPLAY}`);
}

/** A mesh whose names YAML 1.1 readers take for numbers, booleans and dates, and a mesh_id that is no DNS name. */
const ambiguousExample: Case = {
  spec: {
    meshId: 'Mesh_1',
    repoURL: 'https://git.example.test/mesh.git',
    clusters: ['alpha', '123', 'yes', '2001-12-14', '0231-4-4'].map((c, i) => ({
      context: `kind-${c}`,
      cluster: c,
      network: i % 2 ? 'on' : 'net-1',
    })),
  },
  pick: 0,
};

// ---------------------------------------------------------------------------------------------------------------------

describe(`mesh invariants over random topologies (remotes ${REMOTES_SUPPORTED ? 'on' : 'off: role: remote is not accepted yet'})`, () => {
  test('1. every primary holds exactly one istio-remote-secret-<peer> per other cluster; remotes hold none', async (t) => {
    const seen = { meshes: 0, clusters: 0, largest: 0, multiNetwork: 0, remotes: 0, yamlAmbiguousNames: 0 };
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec }) => {
        seen.meshes += 1;
        seen.clusters += spec.clusters.length;
        seen.largest = Math.max(seen.largest, spec.clusters.length);
        seen.multiNetwork += isMultiNetwork(spec) ? 1 : 0;
        seen.remotes += spec.clusters.filter(isRemote).length;
        seen.yamlAmbiguousNames += spec.clusters.filter((c) => YAML_AMBIGUOUS_LABELS.includes(c.cluster)).length;
        const dir = await synthesized(spec);
        for (const c of spec.clusters) {
          const objs = objectsIn(clusterDir(dir, c));
          const remoteSecrets = objs.filter((o) => o.obj.metadata?.name?.startsWith('istio-remote-secret-'));
          const want = peersOf(spec, c)
            .map((p) => `istio-remote-secret-${p}`)
            .sort();
          assert.deepEqual(remoteSecrets.map((o) => o.obj.metadata?.name).sort(), want, `remote secrets of ${c.cluster}`);
          for (const { file, obj } of remoteSecrets) {
            const peer = (obj.metadata?.name as string).slice('istio-remote-secret-'.length);
            assert.equal(file, 'secrets/remote-secrets.yaml', `${c.cluster}: ${obj.metadata?.name} is in secrets/remote-secrets.yaml`);
            assert.equal(obj.kind, 'SealedSecret');
            assert.equal(obj.metadata?.namespace, 'istio-system');
            assert.deepEqual(
              Object.keys(obj.spec?.encryptedData ?? {}),
              [peer],
              `${c.cluster}: ${obj.metadata?.name} seals only the token of ${peer}`,
            );
            assert.equal(obj.spec?.template?.metadata?.annotations?.['networking.istio.io/cluster'], peer);
            assert.equal(obj.spec?.template?.metadata?.labels?.['istio/multiCluster'], 'true');
          }
        }
      }),
    );
    t.diagnostic(`generated: ${JSON.stringify(seen)}`);
  });

  test('2. every cluster has exactly one cacerts, and only the clusters of the topology have a directory', async (t) => {
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec }) => {
        const dir = await synthesized(spec);
        const names = spec.clusters.map((c) => c.cluster).sort();
        assert.deepEqual(fs.readdirSync(path.join(dir, 'dist', 'clusters')).sort(), names, 'dist/clusters/');
        assert.deepEqual(fs.readdirSync(path.join(dir, 'dist', 'flux')).sort(), names, 'dist/flux/');
        for (const c of spec.clusters) {
          const cacerts = named(objectsIn(clusterDir(dir, c)), 'SealedSecret', 'cacerts');
          assert.equal(cacerts.length, 1, `${c.cluster} has one cacerts`);
          assert.equal(cacerts[0].file, 'secrets/cacerts.yaml');
          assert.equal(cacerts[0].obj.metadata?.namespace, 'istio-system');
          assert.deepEqual(Object.keys(cacerts[0].obj.spec?.encryptedData ?? {}).sort(), [
            'ca-cert.pem',
            'ca-key.pem',
            'cert-chain.pem',
            'root-cert.pem',
          ]);
        }
        assertNoSecrets(dir); // no private key or token of certs/ in plaintext under dist/ or sealed/
      }),
    );
  });

  test('3. east-west gateway, cross-network-gateway and the network label exactly where Istio needs them', async (t) => {
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec }) => {
        const dir = await synthesized(spec);
        const multi = isMultiNetwork(spec);
        for (const c of spec.clusters) {
          const d = clusterDir(dir, c);
          const objs = objectsIn(d);
          const why = `${c.cluster} (${isRemote(c) ? 'remote' : 'primary'}, ${remotesOf(spec, c).length} remote(s), ${multi ? 'multi' : 'single'}-network mesh)`;
          assert.equal(fs.existsSync(path.join(d, 'helm', 'gateway-values.yaml')), needsEastWest(spec, c), `east-west gateway of ${why}`);
          assert.equal(fs.existsSync(path.join(d, 'istioctl', 'eastwest-gateway.yaml')), needsEastWest(spec, c), `east-west gateway IOP of ${why}`);
          assert.equal(named(objs, 'Gateway', 'cross-network-gateway').length, needsCrossNetwork(spec, c) ? 1 : 0, `cross-network-gateway of ${why}`);
          const ns = named(objs, 'Namespace', 'istio-system');
          assert.equal(ns.length, 1, `${c.cluster} has one istio-system Namespace`);
          assert.equal(ns[0].obj.metadata?.labels?.['topology.istio.io/network'], multi ? c.network : undefined, `network label of ${why}`);
          const controlPlanes = ns[0].obj.metadata?.annotations?.['topology.istio.io/controlPlaneClusters'];
          assert.equal(controlPlanes, isRemote(c) ? byContext(spec, c.primary)?.cluster : undefined, `controlPlaneClusters of ${why}`);
          // Primary-remote: istiod exposed through the east-west gateway, the remote profile pointing at it.
          const serves = !isRemote(c) && remotesOf(spec, c).length > 0;
          assert.equal(named(objs, 'Gateway', 'istiod-gateway').length, serves ? 1 : 0, `istiod-gateway of ${why}`);
          assert.equal(named(objs, 'VirtualService', 'istiod-vs').length, serves ? 1 : 0, `istiod-vs of ${why}`);
          const cp = parseAllDocuments(fs.readFileSync(path.join(d, 'istioctl', 'control-plane.yaml'), 'utf8'))
            .map((doc) => ({ file: 'istioctl/control-plane.yaml', obj: doc.toJS() as K8sObject }))
            .filter((o) => o.obj.kind === 'IstioOperator');
          assert.equal(cp.length, 1, `${c.cluster} has one control plane IstioOperator`);
          const global = cp[0].obj.spec?.values?.global ?? {};
          assert.equal(global.externalIstiod, serves ? true : undefined, `externalIstiod of ${why}`);
          assert.equal(cp[0].obj.spec?.profile === 'remote', isRemote(c), `profile of ${why}`);
          assert.equal(global.remotePilotAddress, isRemote(c) ? byContext(spec, c.primary)?.address : undefined, `remotePilotAddress of ${why}`);
        }
      }),
    );
  });

  test('4. names are unique per (apiVersion, kind, namespace, name) in each cluster directory, and kustomization.yaml lists every file', async (t) => {
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec }) => {
        const dir = await synthesized(spec);
        for (const c of spec.clusters) {
          const d = clusterDir(dir, c);
          const ids = objectsIn(d).map(({ obj }) => `${obj.apiVersion}/${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`);
          const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
          assert.deepEqual(dup, [], `duplicate objects in dist/clusters/${c.cluster}`);
          const listed = kustomized(d);
          assert.deepEqual([...listed].sort(), [...new Set(listed)].sort(), `dist/clusters/${c.cluster}: each file is listed once`);
          const files = [...hashTree(d).keys()].filter((f) => f !== 'kustomization.yaml' && !NOT_APPLIED.test(f));
          assert.deepEqual(listed.sort(), files.sort(), `dist/clusters/${c.cluster}: kustomization.yaml reaches every file`);
        }
      }),
    );
  });

  test(
    '4. (kubectl) cluster directories build with kubectl kustomize, every object once',
    { skip: !KUBECTL && 'kubectl is not installed' },
    async (t) => {
      let builds = 0;
      await check(
        t,
        fc.asyncProperty(caseArb, async ({ spec }) => {
          const dir = await synthesized(spec);
          for (const c of new Set([spec.clusters[0], spec.clusters[spec.clusters.length - 1]])) {
            builds += 1;
            const r = spawnSync('kubectl', ['kustomize', clusterDir(dir, c)], { encoding: 'utf8', maxBuffer: 64 << 20 });
            assert.equal(r.status, 0, `kubectl kustomize dist/clusters/${c.cluster} fails: ${r.stderr.slice(0, 600)}`);
            const built = parseAllDocuments(r.stdout).map((doc) => doc.toJS() as K8sObject);
            const ids = built.map((o) => `${o.apiVersion}/${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`);
            assert.equal(new Set(ids).size, ids.length, `kubectl kustomize dist/clusters/${c.cluster}: unique ids`);
            assert.equal(built.length, objectsIn(clusterDir(dir, c)).length, `kubectl kustomize dist/clusters/${c.cluster}: every object once`);
          }
        }),
        // kustomize costs ~0.1 s a build: the first meshes only, two clusters each.
        { numRuns: Math.min(NUM_RUNS, 4), examples: [[ambiguousExample]] },
      );
      t.diagnostic(`${builds} kubectl kustomize build(s)`);
    },
  );

  test('regression: every file of dist/ means the same to a YAML 1.1 reader (kubectl, kustomize, Argo CD) as to YAML 1.2', async (t) => {
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec }) => {
        const dir = await synthesized(spec);
        const root = path.join(dir, 'dist');
        const differs: string[] = [];
        for (const file of [...hashTree(root).keys()].sort().filter((f) => f.endsWith('.yaml'))) {
          const text = fs.readFileSync(path.join(root, file), 'utf8');
          const v12 = parseAllDocuments(text).map((d) => d.toJS());
          const v11 = parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS());
          differs.push(...differences(v12, v11, file));
        }
        assert.deepEqual(differs.slice(0, 10), [], `${differs.length} scalar(s) a YAML 1.1 parser reads differently`);
      }),
      { examples: [[ambiguousExample]] },
    );
  });

  test('regression: the kubeconfig of every remote secret names its peer as a string, even when the cluster name reads as a YAML number or boolean', async (t) => {
    const key = await sealingKeyPem();
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec }) => {
        const dir = await synthesized(spec);
        // client-go (clientcmd.Load → sigs.k8s.io/yaml, YAML 1.1) reads the kubeconfig istiod gets; each peer is checked once.
        const checked = new Set<string>();
        for (const c of spec.clusters) {
          for (const { obj } of objectsIn(clusterDir(dir, c)).filter((o) => o.obj.metadata?.name?.startsWith('istio-remote-secret-'))) {
            const peer = (obj.metadata?.name as string).slice('istio-remote-secret-'.length);
            if (checked.has(peer)) continue;
            checked.add(peer);
            const secret = unsealSealedSecret(key, obj as unknown as SealedSecretObject);
            const kc = parse(secret.data[peer].toString('utf8'), { version: '1.1' });
            const names = {
              'clusters[0].name': kc.clusters?.[0]?.name,
              'contexts[0].name': kc.contexts?.[0]?.name,
              'contexts[0].context.cluster': kc.contexts?.[0]?.context?.cluster,
              'contexts[0].context.user': kc.contexts?.[0]?.context?.user,
              'users[0].name': kc.users?.[0]?.name,
              'current-context': kc['current-context'],
            };
            assert.deepEqual(
              names,
              Object.fromEntries(Object.keys(names).map((k) => [k, peer])),
              `the kubeconfig of istio-remote-secret-${peer} (on ${c.cluster}) must name ${JSON.stringify(peer)} as a string`,
            );
          }
        }
      }),
      { examples: [[ambiguousExample]] },
    );
  });

  test('regression: every object in dist/ has a valid Kubernetes name (DNS-1123 subdomain), whatever the mesh_id', async (t) => {
    const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
    const valid = (n: unknown) => typeof n === 'string' && n.length <= 253 && SUBDOMAIN.test(n);
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec }) => {
        const dir = await synthesized(spec);
        const bad: string[] = [];
        for (const { file, obj } of objectsIn(path.join(dir, 'dist'))) {
          if (!valid(obj.metadata?.name)) bad.push(`${file}: ${obj.kind} ${JSON.stringify(obj.metadata?.name)}`);
          // The Applications an ApplicationSet generates are named from its template.
          const template = obj.kind === 'ApplicationSet' ? (obj.spec?.template?.metadata?.name as string) : undefined;
          for (const c of template ? spec.clusters : []) {
            const app = (template as string).replace('{{.cluster}}', c.cluster).replace('{{.name}}', c.cluster);
            if (!valid(app)) bad.push(`${file}: Application ${JSON.stringify(app)}`);
          }
        }
        assert.deepEqual(bad, [], `mesh_id ${JSON.stringify(spec.meshId)}: objects the API server would reject`);
      }),
      { examples: [[ambiguousExample]] },
    );
  });

  test('5. synth is deterministic: a second synth changes nothing; --frozen without dist/ and private keys rebuilds dist/ byte for byte', async (t) => {
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec }) => {
        const dir = await synthesized(spec);
        const before = hashTree(dir);
        const again = await synthIn(dir);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /^no changes$/m);
        assert.deepEqual(hashTree(dir), before, 'a second synth touches nothing');

        const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-frozen-'));
        try {
          fs.cpSync(dir, copy, { recursive: true });
          fs.rmSync(path.join(copy, 'dist'), { recursive: true });
          assert.ok(removePrivateFiles(copy).length > 0);
          const frozen = await synthIn(copy, '--frozen');
          assert.equal(frozen.code, 0, `synth --frozen: ${frozen.stdout}${frozen.stderr}`);
          assert.deepEqual(hashTree(path.join(copy, 'dist')), hashTree(path.join(dir, 'dist')), 'dist/ rebuilt by --frozen');
          assert.deepEqual(hashTree(path.join(copy, 'sealed')), hashTree(path.join(dir, 'sealed')), 'sealed/ untouched by --frozen');
          const ci = await synthIn(copy, '--check', '--frozen');
          assert.equal(ci.code, 0, `synth --check --frozen: ${ci.stdout}${ci.stderr}`);
        } finally {
          fs.rmSync(copy, { recursive: true, force: true });
        }
      }),
    );
  });

  test('6. removing one cluster removes exactly its files and the remote secrets pointing at it, and changes nothing else', async (t) => {
    // Removing a primary that serves remotes is invalid; removing the last remote of a primary changes what the
    // primary runs (externalIstiod, istiod exposure), which is not what this property is about.
    const removable = (spec: MeshSpec, c: MeshClusterSpec) =>
      isRemote(c) ? remotesOf(spec, byContext(spec, c.primary) as MeshClusterSpec).length > 1 : remotesOf(spec, c).length === 0;
    let removals = 0;
    await check(
      t,
      fc.asyncProperty(caseArb, async ({ spec, pick }) => {
        const candidates = spec.clusters.filter((c) => removable(spec, c));
        if (spec.clusters.length < 2 || candidates.length === 0) return;
        const victim = candidates[pick % candidates.length];
        const v = victim.cluster;
        const dir = await synthesized(spec);
        synthesizedDirs.delete(JSON.stringify(spec)); // this run changes it
        const before = outputHashes(dir);
        const inputsBefore = hashTree(dir);

        // WHEN
        const next: MeshSpec = { ...spec, clusters: spec.clusters.filter((c) => c !== victim) };
        await writeTopology(dir, next);
        const r = await synthIn(dir);
        assert.equal(r.code, 0, r.stderr);
        removals += 1;

        // THEN
        const expected: Diff = { added: [], changed: [], removed: [] };
        for (const p of before.keys()) {
          if (p.startsWith(`dist/clusters/${v}/`) || p.startsWith(`dist/flux/${v}/`) || p === `sealed/${v}.yaml`) expected.removed.push(p);
        }
        if (spec.repoURL !== undefined) expected.changed.push('dist/argocd/applicationset.yaml');
        expected.changed.push('dist/README.md'); // lists every cluster
        const networkDropped = isMultiNetwork(spec) && !isMultiNetwork(next);
        for (const c of next.clusters) {
          const d = `dist/clusters/${c.cluster}`;
          const f = `dist/flux/${c.cluster}`;
          let secretsList = false;
          let postInstallList = false;
          let fluxStages = false;
          if (!isRemote(c)) {
            if (peersOf(next, c).length === 0) {
              expected.removed.push(`${d}/secrets/remote-secrets.yaml`);
              secretsList = true;
            } else expected.changed.push(`${d}/secrets/remote-secrets.yaml`);
            expected.changed.push(`sealed/${c.cluster}.yaml`);
          }
          if (networkDropped) {
            expected.changed.push(`${d}/secrets/namespace.yaml`);
            if (needsEastWest(spec, c) && !needsEastWest(next, c)) {
              // The gateway chart's values, its IstioOperator and its Flux release go.
              expected.removed.push(`${d}/helm/gateway-values.yaml`, `${d}/istioctl/eastwest-gateway.yaml`);
              expected.removed.push(`${f}/gateway/kustomization.yaml`, `${f}/gateway/releases.yaml`);
              fluxStages = true;
            }
            if (needsCrossNetwork(spec, c) && !needsCrossNetwork(next, c)) {
              expected.removed.push(`${d}/post-install/cross-network-gateway.yaml`);
              postInstallList = true;
            }
          }
          if (secretsList) expected.changed.push(`${d}/secrets/kustomization.yaml`);
          if (postInstallList) {
            if (remotesOf(next, c).length > 0) expected.changed.push(`${d}/post-install/kustomization.yaml`);
            else {
              // The stage is empty: its directory and its Flux Kustomization go.
              expected.removed.push(`${d}/post-install/kustomization.yaml`);
              expected.changed.push(`${d}/kustomization.yaml`);
              fluxStages = true;
            }
          }
          if (fluxStages) expected.changed.push(`${f}/kustomizations.yaml`);
        }
        assert.deepEqual(diffHashes(before, outputHashes(dir)), sortDiff(expected), `removing ${v} from ${spec.clusters.length} cluster(s)`);

        const outside = (m: Map<string, string>) => new Map([...m].filter(([p]) => !/^(dist|sealed)\//.test(p) && p !== 'topology.yaml'));
        assert.deepEqual(outside(hashTree(dir)), outside(inputsBefore), 'nothing else in the work directory changes (certs/ are kept)');
        assert.ok(fs.existsSync(path.join(dir, 'certs', v, 'ca-cert.pem')), 'the CA of the removed cluster is kept');
      }),
    );
    t.diagnostic(`${removals} removal(s) checked`);
  });
});
