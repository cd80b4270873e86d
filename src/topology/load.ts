import { X509Certificate } from 'node:crypto';
import * as path from 'node:path';
import { InputError, type Problem, show } from '../errors';
import { READ_LIMITS, readBounded } from '../fs-util';
import { DEFAULT_KEY_ALGORITHM } from '../pki/keys';
import { type PlainSecret, PRIVATE_KEY_PEM, plainSecretIn } from '../plain-secrets';
import {
  type Cluster,
  type Dataplane,
  DEFAULT_TAG,
  type Installer,
  type IstioRevision,
  type KeyAlgorithm,
  type Mesh,
  type RevisionTag,
  type Role,
  SAIL_ISTIO_NAME,
  SAIL_REVISION_TAG_MAX_LENGTH,
  type SecretStore,
  type SecretsProvider,
  sailRevisionFor,
} from './model';
import { DNS1123_LABEL, TOPOLOGY_SCHEMA } from './schema';
import { nearest, validateAgainstSchema } from './validate';
import { YamlSource, type YamlString } from './yaml-source';

export const TOPOLOGY_FILE = 'topology.yaml';
export const BASE_FILE = 'base.yaml';

/** A warning as one line: `file:line: path: message`. */
export function formatWarning(w: Warning): string {
  return `${w.file}${w.line ? `:${w.line}` : ''}: ${w.path ? `${w.path}: ` : ''}${w.message}`;
}

/** The cluster of a kube context, or an InputError (for the `--context` option) that suggests the nearest context. */
export function findContext(mesh: Mesh, context: string): Cluster {
  const c = mesh.clusters.find((x) => x.context === context);
  if (c) return c;
  const names = mesh.clusters.map((x) => x.context);
  const hint = nearest(context, names);
  throw new InputError({
    file: 'command line',
    path: '--context',
    message: `${JSON.stringify(context)} is not a context of topology.yaml${hint ? `; did you mean "${hint}"?` : ''}`,
    fix: `use one of: ${names.join(', ')}`,
  });
}

/** A warning about input that works but is probably not what the user meant. */
export interface Warning {
  readonly file: string;
  readonly path?: string;
  readonly line?: number;
  readonly message: string;
}

interface RawContext {
  network: string;
  cluster?: string;
  role?: Role;
  primary?: string;
  server?: string;
  certificateAuthorityData?: string;
  eastWestGateway?: { address?: string; serviceType?: string };
  sealingCert?: string;
  secretStore?: { kind?: SecretStore['kind']; name: string };
}

interface RawTopology {
  mesh_id: string;
  org?: string;
  trustDomain?: string;
  istio?: {
    installer?: Installer;
    version?: string;
    revision?: string;
    revisions?: Record<string, { version: string }>;
    tags?: Record<string, string>;
    gatewayRevision?: string;
    hub?: string;
    dataplane?: Dataplane;
  };
  secrets?: { provider?: SecretsProvider; store?: { kind?: SecretStore['kind']; name: string }; prefix?: string };
  gitops?: {
    repoURL?: string;
    targetRevision?: string;
    path?: string;
    project?: string;
    namespace?: string;
    generator?: 'list' | 'clusters';
    fluxSource?: string;
  };
  pki?: { keyAlgorithm?: KeyAlgorithm };
  contexts: Record<string, RawContext> | null;
}

/** Reads a required input file (a regular file of at most 1 MiB), turning a missing or unreadable file into an InputError. */
export function readInput(workdir: string, file: string, fix: string): string {
  try {
    return readBounded(path.join(workdir, file), {
      limit: READ_LIMITS.yaml,
      display: file,
      what: file,
      fix: `${file} must be a regular YAML file of at most 1 MiB: check what it is (a symlink to something else?), or restore it from git`,
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError({ file, message: `not found in ${workdir}`, fix });
    throw e;
  }
}

/** Cluster names meshgen cannot use although they are DNS-1123 labels (see {@link reservedName}). */
const RESERVED_NAMES = new Set(['constructor', '__proto__']);

/** Why a name is reserved, for messages. */
function reservedName(name: string): string {
  return `${show(name)} is reserved: it is the name of a JavaScript object property, which the Kubernetes objects built from it cannot use as a key`;
}

/**
 * Loads and validates topology.yaml into a frozen Mesh. Every problem is collected and reported at once.
 */
export function loadTopology(workdir: string): Mesh {
  const text = readInput(workdir, TOPOLOGY_FILE, 'run `meshgen prep --mesh-id <id> --org <org>` or pass --workdir');
  return parseTopology(text);
}

/** Validates the text of a topology.yaml (see loadTopology). */
export function parseTopology(text: string, file = TOPOLOGY_FILE): Mesh {
  refuseKeyFile(text, file, 'a topology (mesh_id:, contexts:)');
  const src = YamlSource.parse(file, text);
  const unsafe = topologyStringProblems(src);
  if (unsafe.length > 0) throw new InputError(unsafe);
  const data = src.toJS();
  const problems: Problem[] = [];
  if (data === null || data === undefined) {
    throw new InputError({ file, message: 'the file is empty', fix: 'start from `meshgen prep`, or write mesh_id: and contexts:' });
  }
  const raw = data as RawTopology;
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && raw.contexts === null) {
    problems.push(
      src.problem(['contexts'], 'no clusters are listed', 'add one entry per kube context, each with its network (see the commented example)'),
    );
    raw.contexts = {};
  }
  const violations = validateAgainstSchema(raw, TOPOLOGY_SCHEMA);
  for (const v of violations) problems.push(src.problem(v.path, v.message, v.fix, v.atKey));
  if (typeof raw !== 'object' || Array.isArray(raw) || !isMapping(raw.contexts)) throw new InputError(problems);

  // Cross-field checks run on every context that is a mapping whose cluster, role and primary the schema accepted,
  // so that all problems are reported together.
  const crossFields = new Set(['cluster', 'role', 'primary']);
  const invalid = new Set(
    violations.filter((v) => v.path[0] === 'contexts' && v.path.length >= 3 && crossFields.has(String(v.path[2]))).map((v) => String(v.path[1])),
  );
  const contexts = Object.entries(raw.contexts as Record<string, RawContext>).filter(([ctx, c]) => isMapping(c) && !invalid.has(ctx));
  if (Object.keys(raw.contexts as object).length === 0 && problems.length === 0) {
    throw new InputError(src.problem(['contexts'], 'no clusters are listed', 'add one entry per kube context'));
  }

  // Cluster names: explicit, or the context name, which must then be a DNS-1123 label.
  const byName = new Map<string, string>();
  const byContext = new Map<string, string>();
  for (const [ctx, c] of contexts) {
    const name = c.cluster ?? ctx;
    if (c.cluster === undefined && (ctx.length > 63 || !new RegExp(DNS1123_LABEL).test(ctx))) {
      problems.push(
        src.problem(
          ['contexts', ctx],
          `context name ${show(ctx)} cannot be used as the cluster name (${ctx.length > 63 ? `${ctx.length} characters; a cluster name is a DNS-1123 label of at most 63` : 'not a DNS-1123 label'})`,
          'add `cluster: <name>` (lowercase letters, digits and "-", at most 63) to this context, or run `meshgen discover`',
          true,
        ),
      );
      continue;
    }
    if (RESERVED_NAMES.has(name)) {
      problems.push(
        src.problem(
          ['contexts', ctx, ...(c.cluster !== undefined ? ['cluster'] : [])],
          `cluster name ${reservedName(name)}`,
          c.cluster !== undefined ? 'choose another cluster name' : 'add `cluster: <another name>` to this context',
          c.cluster === undefined,
        ),
      );
      continue;
    }
    const other = byName.get(name);
    if (other !== undefined) {
      problems.push(
        src.problem(
          ['contexts', ctx, ...(c.cluster !== undefined ? ['cluster'] : [])],
          `cluster name ${show(name)} is already used by context ${show(other)}`,
          'give each context its own `cluster:` name',
          c.cluster === undefined,
        ),
      );
    }
    byName.set(name, ctx);
    byContext.set(ctx, name);
  }

  // certificateAuthorityData must be what a kubeconfig holds: base64 of PEM certificates.
  for (const [ctx, c] of contexts) {
    if (typeof c.certificateAuthorityData !== 'string' || invalidAt(violations, ['contexts', ctx, 'certificateAuthorityData'])) continue;
    const why = caDataProblem(c.certificateAuthorityData);
    if (why) {
      problems.push(
        src.problem(
          ['contexts', ctx, 'certificateAuthorityData'],
          why,
          "copy certificate-authority-data of the cluster from your kubeconfig (base64 of the API server's CA PEM), or run `meshgen discover`",
        ),
      );
    }
  }

  // Roles.
  for (const [ctx, c] of contexts) {
    const role = c.role ?? 'primary';
    if (role === 'primary' && c.primary !== undefined) {
      problems.push(
        src.problem(
          ['contexts', ctx, 'primary'],
          `a primary cluster has no primary (got ${show(c.primary)})`,
          'remove `primary:`, or set `role: remote`',
        ),
      );
    }
    if (role === 'remote') problems.push(...remoteProblems(src, ctx, c, raw.contexts as Record<string, RawContext>));
  }
  // A primary that serves remotes is reached through its east-west gateway: its address is required (not asked of an
  // ambient mesh, where the remotes themselves are refused below).
  for (const [ctx, c] of contexts) {
    if (raw.istio?.dataplane === 'ambient') break;
    if ((c.role ?? 'primary') !== 'primary' || c.eastWestGateway?.address !== undefined) continue;
    const remotes = contexts.filter(([, r]) => r.role === 'remote' && r.primary === ctx).map(([r]) => r);
    if (remotes.length > 0) {
      problems.push(
        src.problem(
          ['contexts', ctx],
          `serves the remote cluster(s) ${remotes.join(', ')}, which reach istiod through its east-west gateway, but eastWestGateway.address is not set`,
          `add \`eastWestGateway: {address: <IP or DNS name of the east-west gateway of ${ctx}>}\` (the gateway's LoadBalancer address; it becomes values.global.remotePilotAddress of the remotes)`,
          true,
        ),
      );
    }
  }

  const installer = raw.istio?.installer ?? 'helm';
  const dataplane = raw.istio?.dataplane ?? 'sidecar';
  if (dataplane === 'ambient') {
    // https://istio.io/latest/docs/ambient/install/multicluster/: only multi-primary; primary-remote is not supported.
    for (const [ctx, c] of contexts) {
      if (c.role === 'remote') {
        problems.push(
          src.problem(
            ['contexts', ctx, 'role'],
            "is a remote, but Istio's ambient data plane supports multi-primary meshes only (primary-remote is not supported in ambient mode)",
            'make it a primary (remove `role:` and `primary:`), or set istio.dataplane: sidecar',
          ),
        );
      }
    }
  }
  problems.push(...revisionProblems(src, raw, violations));
  if (installer === 'sail' && raw.istio?.version === undefined && raw.istio?.revisions === undefined) {
    problems.push(src.problem(['istio', 'installer'], 'the Sail Operator needs the Istio version to install', 'set istio.version (e.g. 1.30.3)'));
  }
  const provider = raw.secrets?.provider ?? 'sealed-secrets';
  if (provider === 'external-secrets' && raw.secrets?.store === undefined) {
    for (const [ctx, c] of contexts) {
      if (c.secretStore === undefined) {
        problems.push(
          src.problem(
            ['contexts', ctx],
            'has no External Secrets store: secrets.provider is external-secrets and secrets.store is not set',
            'set `secrets.store: {kind: ClusterSecretStore, name: <store>}` for all clusters, or `secretStore:` on this context',
            true,
          ),
        );
      }
    }
  }
  if (problems.length > 0) throw new InputError(problems);

  const clusters: Cluster[] = contexts
    .map(([ctx, c]): Cluster => {
      const name = byContext.get(ctx) as string;
      return Object.freeze({
        context: ctx,
        name,
        network: c.network,
        role: c.role ?? 'primary',
        primary: c.primary === undefined ? undefined : byContext.get(c.primary),
        server: c.server,
        certificateAuthorityData: c.certificateAuthorityData?.replace(/\s+/g, ''),
        eastWestGateway: Object.freeze({ address: c.eastWestGateway?.address, serviceType: c.eastWestGateway?.serviceType ?? 'LoadBalancer' }),
        sealingCert: c.sealingCert ?? `sealing-certs/${name}.pem`,
        secretStore: storeOf(c.secretStore ?? raw.secrets?.store),
      });
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  return Object.freeze({
    meshId: raw.mesh_id,
    org: raw.org,
    trustDomain: raw.trustDomain ?? 'cluster.local',
    istio: Object.freeze({
      installer,
      revisions: Object.freeze(revisionsOf(raw)),
      tags: Object.freeze(
        Object.entries(raw.istio?.tags ?? {})
          .map(([name, revision]): RevisionTag => Object.freeze({ name, revision }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      ),
      gatewayRevision: raw.istio?.gatewayRevision,
      revisionBased: raw.istio?.revisions !== undefined,
      hub: raw.istio?.hub,
      dataplane,
    }),
    secrets: Object.freeze({ provider, prefix: raw.secrets?.prefix ?? `istio/${raw.mesh_id}` }),
    gitops: Object.freeze({
      repoURL: raw.gitops?.repoURL,
      targetRevision: raw.gitops?.targetRevision ?? 'main',
      path: (raw.gitops?.path ?? 'dist').replace(/\/+$/, ''),
      project: raw.gitops?.project ?? 'default',
      namespace: raw.gitops?.namespace ?? 'argocd',
      generator: raw.gitops?.generator ?? 'list',
      fluxSource: raw.gitops?.fluxSource ?? 'flux-system',
    }),
    pki: Object.freeze({ keyAlgorithm: raw.pki?.keyAlgorithm ?? DEFAULT_KEY_ALGORITHM }),
    clusters: Object.freeze(clusters),
    networks: Object.freeze([...new Set(clusters.map((c) => c.network))].sort()),
  });
}

/** The control plane revisions of a validated topology: `istio.revisions` in topology order, or the shorthand's one. */
function revisionsOf(raw: RawTopology): IstioRevision[] {
  const revisions = raw.istio?.revisions;
  if (revisions === undefined) return [Object.freeze({ name: raw.istio?.revision, version: raw.istio?.version })];
  return Object.entries(revisions).map(([name, r]) => Object.freeze({ name, version: r.version }));
}

/** At most two revisions: the current one and the canary of an upgrade (as Istio's canary upgrade guides run them). */
export const MAX_REVISIONS = 2;

/**
 * The checks of `istio.revisions`, `istio.tags` and `istio.gatewayRevision` that the schema cannot express: the shorthand
 * or the map, at most two revisions, none named `default`, every tag and the gateway pointing at a revision that exists,
 * tag names distinct from revision names, and the gateway's choice explicit while two revisions run without a `default`
 * tag. Problems already reported by the schema are not repeated.
 */
function revisionProblems(src: YamlSource, raw: RawTopology, violations: readonly { path: readonly (string | number)[] }[]): Problem[] {
  const istio = raw.istio;
  if (!isMapping(istio) || violations.some((v) => v.path[0] === 'istio')) return [];
  const problems: Problem[] = [];
  const map = isMapping(istio.revisions) ? istio.revisions : undefined;
  if (map !== undefined) {
    for (const key of ['version', 'revision'] as const) {
      if (istio[key] !== undefined) {
        problems.push(
          src.problem(
            ['istio', key],
            `is set beside istio.revisions (${show(istio[key])}); istio.version and istio.revision are the one-revision shorthand of istio.revisions`,
            `remove istio.${key}: each revision's version is under istio.revisions.<name>.version`,
          ),
        );
      }
    }
    const names = Object.keys(map);
    if (names.length === 0) {
      problems.push(
        src.problem(['istio', 'revisions'], 'lists no revision', 'list the current revision, e.g. `revisions: {1-30-3: {version: 1.30.3}}`'),
      );
    }
    if (names.length > MAX_REVISIONS) {
      problems.push(
        src.problem(
          ['istio', 'revisions'],
          `lists ${names.length} revisions (${names.join(', ')}); a canary upgrade runs at most ${MAX_REVISIONS} side by side`,
          'finish the upgrade under way first (`meshgen upgrade finish`), then add the next revision',
        ),
      );
    }
    if (names.includes(DEFAULT_TAG)) {
      problems.push(
        src.problem(
          ['istio', 'revisions', DEFAULT_TAG],
          'a revision cannot be named "default": Istio uses it for the unrevisioned control plane and for the default tag',
          'name the revision after its version, e.g. "1-30-3"',
          true,
        ),
      );
    }
  }
  if (map !== undefined && (istio.installer ?? 'helm') === 'sail') {
    // Sail names the revisions of a RevisionBased Istio itself (`default-v1-30-3`): topology names must be those names.
    for (const [name, r] of Object.entries(map)) {
      if (!isMapping(r) || typeof r.version !== 'string') continue;
      const expected = sailRevisionFor(r.version);
      if (name !== expected) {
        problems.push(
          src.problem(
            ['istio', 'revisions', name],
            `the Sail Operator names the revision of Istio ${r.version} ${show(expected)} (its Istio "${SAIL_ISTIO_NAME}" runs RevisionBased), not ${show(name)}`,
            `rename it to ${expected}`,
            true,
          ),
        );
      }
    }
  }
  const revisionNames = map ? Object.keys(map) : istio.revision !== undefined ? [istio.revision] : [];
  const describe =
    revisionNames.length > 0 ? `the revisions are ${revisionNames.map((n) => show(n)).join(', ')}` : 'the control plane has no revision name';
  const fixRef =
    revisionNames.length > 0 ? `use one of ${revisionNames.join(', ')}` : 'set istio.revision (e.g. "1-30-3"): tags point at named revisions';
  const tags = isMapping(istio.tags) ? istio.tags : {};
  for (const [tag, rev] of Object.entries(tags)) {
    if (!revisionNames.includes(rev)) {
      problems.push(src.problem(['istio', 'tags', tag], `points at revision ${show(rev)}, which does not exist (${describe})`, fixRef));
    }
    // Sail creates a Service istiod-revision-tag-<tag> per IstioRevisionTag (a DNS-1035 label of at most 63 characters).
    if ((istio.installer ?? 'helm') === 'sail' && tag.length > SAIL_REVISION_TAG_MAX_LENGTH) {
      problems.push(
        src.problem(
          ['istio', 'tags', tag],
          `is ${tag.length} characters long; the Sail Operator names a Service istiod-revision-tag-<tag>, so a tag has at most ${SAIL_REVISION_TAG_MAX_LENGTH}`,
          'choose a shorter tag',
          true,
        ),
      );
    }
    if (revisionNames.includes(tag)) {
      problems.push(
        src.problem(
          ['istio', 'tags', tag],
          `tag ${show(tag)} has the name of a revision: namespaces labelled istio.io/rev=${tag} would match both`,
          'give the tag another name, e.g. "prod-stable"',
          true,
        ),
      );
    }
  }
  const gw = istio.gatewayRevision;
  if (gw !== undefined && !revisionNames.includes(gw) && !(gw in tags)) {
    problems.push(
      src.problem(
        ['istio', 'gatewayRevision'],
        `${show(gw)} is neither a tag nor a revision (${describe}${Object.keys(tags).length ? `; the tags are ${Object.keys(tags).join(', ')}` : ''})`,
        'name a key of istio.tags or istio.revisions',
      ),
    );
  }
  if (revisionNames.length > 1 && gw === undefined && !(DEFAULT_TAG in tags)) {
    problems.push(
      src.problem(
        ['istio'],
        `runs ${revisionNames.length} revisions (${revisionNames.join(', ')}) and the east-west gateways could follow either`,
        `set istio.gatewayRevision to a tag or revision (e.g. ${revisionNames[0]}), or add a "default" tag`,
      ),
    );
  }
  if ((istio.dataplane ?? 'sidecar') === 'ambient' && (revisionNames.length > 1 || Object.keys(tags).length > 0)) {
    problems.push(
      src.problem(
        ['istio', revisionNames.length > 1 ? 'revisions' : 'tags'],
        'revision tags and canary revisions are not supported with the ambient data plane: ztunnel is not revisioned, so meshgen cannot move it between control planes',
        'remove istio.tags and keep one revision; upgrade an ambient mesh in place by changing its version',
      ),
    );
  }
  return problems;
}

/** The shared IstioOperator of base.yaml. */
export interface BaseOperator {
  /** `spec` of base.yaml (may be empty). */
  readonly spec: Record<string, unknown>;
  /** metadata.name and friends are ignored: meshgen names its objects. */
  readonly warnings: readonly Warning[];
}

/** Fields meshgen sets per cluster; base.yaml must not set them (it would be overridden). */
const OVERRIDDEN: readonly (readonly string[])[] = [
  ['values', 'global', 'meshID'],
  ['values', 'global', 'multiCluster', 'clusterName'],
  ['values', 'global', 'network'],
  ['meshConfig', 'trustDomain'],
];

/**
 * Fields of base.yaml that must come from topology.yaml instead: a revision set here would revision the control plane
 * but not the gateways, the istiod exposure or the release names (all of which read `istio.revision`).
 */
const REFUSED: readonly { path: readonly string[]; fix: string }[] = [
  { path: ['revision'], fix: 'remove it and set istio.revision in topology.yaml (it revisions the control plane, gateways and releases alike)' },
  {
    path: ['values', 'revision'],
    fix: 'remove it and set istio.revision in topology.yaml (it revisions the control plane, gateways and releases alike)',
  },
];

/** Values of the original 2020 base.yaml that current Istio no longer knows. */
const REMOVED: readonly { path: readonly string[]; why: string }[] = [
  { path: ['values', 'security', 'selfSigned'], why: 'removed from Istio (plugged-in cacerts replace it); istioctl rejects it' },
  { path: ['values', 'global', 'mtls'], why: 'removed from Istio (mTLS is controlled by PeerAuthentication); istioctl rejects it' },
  { path: ['values', 'global', 'controlPlaneSecurityEnabled'], why: 'removed from Istio (always on)' },
];

/** Loads base.yaml: an IstioOperator shared by every cluster. */
export function loadBase(workdir: string): BaseOperator {
  const text = readInput(workdir, BASE_FILE, 'run `meshgen prep` to create it, or write an IstioOperator (install.istio.io/v1alpha1)');
  return parseBase(text);
}

/** Validates the text of a base.yaml (see loadBase). */
export function parseBase(text: string, file = BASE_FILE): BaseOperator {
  refuseKeyFile(text, file, 'an IstioOperator');
  const src = YamlSource.parse(file, text);
  const unsafe = baseStringProblems(src);
  if (unsafe.length > 0) throw new InputError(unsafe);
  const data = src.toJS() as Record<string, unknown> | null;
  const problems: Problem[] = [];
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InputError({
      file,
      message: `expected an IstioOperator mapping, got ${show(data)}`,
      fix: 'write apiVersion: install.istio.io/v1alpha1, kind: IstioOperator, spec: {...}',
    });
  }
  if (data.apiVersion !== 'install.istio.io/v1alpha1') {
    problems.push(
      src.problem(['apiVersion'], `expected install.istio.io/v1alpha1, got ${show(data.apiVersion)}`, 'set apiVersion: install.istio.io/v1alpha1'),
    );
  }
  if (data.kind !== 'IstioOperator') {
    problems.push(src.problem(['kind'], `expected IstioOperator, got ${show(data.kind)}`, 'set kind: IstioOperator'));
  }
  const spec = data.spec ?? {};
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    problems.push(src.problem(['spec'], `expected a mapping, got ${show(spec)}`, 'write the IstioOperator spec as a mapping (or remove spec:)'));
  }
  for (const key of Object.keys(data)) {
    if (!['apiVersion', 'kind', 'metadata', 'spec'].includes(key)) {
      problems.push(
        src.problem([key], `unknown top-level key "${key}"`, 'remove it; an IstioOperator has apiVersion, kind, metadata and spec', true),
      );
    }
  }
  if (spec !== null && typeof spec === 'object' && !Array.isArray(spec)) {
    for (const r of REFUSED) {
      const v = getIn(spec as Record<string, unknown>, r.path);
      if (v !== undefined) problems.push(src.problem(['spec', ...r.path], `a revision in base.yaml (${show(v)}) is not supported`, r.fix));
    }
  }
  if (problems.length > 0) throw new InputError(problems);

  const warnings: Warning[] = [];
  const s = spec as Record<string, unknown>;
  for (const p of OVERRIDDEN) {
    if (getIn(s, p) !== undefined) {
      const at = ['spec', ...p];
      warnings.push({
        file,
        path: at.join('.'),
        ...src.locate(at),
        message: `is set by meshgen for each cluster; the value here (${show(getIn(s, p))}) is ignored`,
      });
    }
  }
  for (const r of REMOVED) {
    if (getIn(s, r.path) !== undefined) {
      const at = ['spec', ...r.path];
      warnings.push({ file, path: at.join('.'), ...src.locate(at), message: `${r.why}; delete it` });
    }
  }
  return Object.freeze({ spec: s, warnings });
}

function remoteProblems(src: YamlSource, ctx: string, c: RawContext, all: Record<string, RawContext>): Problem[] {
  const contexts = Object.keys(all);
  if (c.primary === undefined) {
    return [
      src.problem(
        ['contexts', ctx],
        'is a remote (role: remote) but names no primary',
        `add \`primary: <context>\`: the primary whose istiod runs this cluster's control plane (one of: ${contexts.filter((x) => x !== ctx).join(', ')})`,
        true,
      ),
    ];
  }
  const at = ['contexts', ctx, 'primary'];
  if (c.primary === ctx) return [src.problem(at, `a remote cannot be its own primary (${show(c.primary)})`, 'name a primary context')];
  const p = Object.hasOwn(all, c.primary) ? all[c.primary] : undefined;
  if (p === undefined) {
    const hint = nearest(c.primary, contexts);
    return [
      src.problem(
        at,
        `${show(c.primary)} is not a context of this mesh${hint ? `; did you mean "${hint}"?` : ''}`,
        `use the context name (the key under contexts:) of a primary: one of ${contexts.filter((x) => x !== ctx && all[x]?.role !== 'remote').join(', ') || '(none: add a primary)'}`,
      ),
    ];
  }
  if (p && typeof p === 'object' && p.role === 'remote') {
    const cycle = p.primary === ctx ? `; ${ctx} and ${c.primary} name each other (a cycle)` : '';
    return [
      src.problem(
        at,
        `${show(c.primary)} is itself a remote: a remote must be attached to a primary, not to another remote${cycle}`,
        `set primary: to the context of a primary (role: primary), e.g. ${show(p.primary ?? contexts.find((x) => all[x]?.role !== 'remote'))}`,
      ),
    ];
  }
  return [];
}

function storeOf(s: { kind?: SecretStore['kind']; name: string } | undefined): SecretStore | undefined {
  return s === undefined ? undefined : Object.freeze({ kind: s.kind ?? 'ClusterSecretStore', name: s.name });
}

function invalidAt(violations: readonly { path: readonly (string | number)[] }[], at: readonly string[]): boolean {
  return violations.some((v) => at.every((p, i) => String(v.path[i]) === p));
}

function caDataProblem(b64: string): string | undefined {
  const text = Buffer.from(b64.replace(/\s+/g, ''), 'base64').toString('utf8');
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (!block) return 'is not the base64 of a PEM certificate';
  try {
    new X509Certificate(block[0]);
  } catch {
    return 'holds a PEM certificate that cannot be parsed (truncated or corrupt)';
  }
  return undefined;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function getIn(obj: unknown, p: readonly string[]): unknown {
  let cur = obj;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A file that holds a PEM private key is not what was asked for (a symlink to a key?); none of it is shown. */
function refuseKeyFile(text: string, file: string, expected: string): void {
  if (!PRIVATE_KEY_PEM.test(text)) return;
  throw new InputError({
    file,
    message: `holds a PEM private key, not ${expected}; its content is not shown`,
    fix: `check what ${file} is (a symlink to a key file?) and restore the right file; if it was committed, replace the key`,
  });
}

/** Names a control character for a message: `U+001B`. */
function controlCharIn(value: string, allowed: RegExp | undefined): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  for (const m of value.matchAll(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g)) {
    if (allowed?.test(m[0])) continue;
    return `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return undefined;
}

function controlProblem(src: YamlSource, s: YamlString, code: string, why: string): Problem {
  return src.problem(
    s.path,
    `${s.isKey ? 'the key' : 'the value'} contains the control character ${code}; ${why}`,
    'remove it (look for a pasted escape sequence, line break or invisible character)',
    s.isKey,
  );
}

function secretProblem(src: YamlSource, s: YamlString, secret: PlainSecret, file: string): Problem {
  const at = s.path.map(String);
  const key = at[at.length - 1];
  let fix: string;
  if (secret.kind === 'private-key') {
    fix =
      key === 'certificateAuthorityData'
        ? "keep only the base64 of the API server's CA certificate (certificate-authority-data of your kubeconfig, or `meshgen discover`); replace the key if the file was ever committed"
        : 'remove it, and replace the key if the file was ever committed';
  } else if (secret.kind === 'jwt') {
    fix = 'remove it, and revoke the token if the file was ever committed (meshgen seals reader tokens: `meshgen seal-token`)';
  } else if (key === 'server') {
    fix =
      'remove the credentials from the URL (remote secrets authenticate with the reader token: `meshgen seal-token`), and rotate them if the file was ever committed';
  } else if (key === 'repoURL') {
    fix =
      'use the URL without credentials and give Argo CD / Flux the repository credentials their own way (`argocd repo add`, a GitRepository secretRef); rotate them if the file was ever committed';
  } else fix = 'remove the credentials, and rotate them if the file was ever committed';
  const where = secret.kind === 'private-key' || secret.kind === 'jwt' ? '' : ` (${secret.shown})`;
  return src.problem(s.path, `holds ${secret.what}${where}; the values of ${file} are written unsealed into dist/ and git`, fix);
}

/**
 * What topology.yaml's strings must not hold: control characters (its values are single-line names, URLs and
 * paths; only the base64 of certificateAuthorityData may be wrapped), secrets (credentials in URLs, private keys,
 * tokens), and the template delimiters `{{` / `}}` (its values are rendered into the templates of SealedSecrets,
 * ExternalSecrets and the Argo CD ApplicationSet, where they would be evaluated).
 */
function topologyStringProblems(src: YamlSource): Problem[] {
  const out: Problem[] = [];
  for (const s of src.strings()) {
    const p = s.path;
    const wrapped = !s.isKey && p.length === 3 && p[0] === 'contexts' && p[2] === 'certificateAuthorityData';
    const ctl = controlCharIn(s.value, wrapped ? /[\t\n\r]/ : undefined);
    if (ctl !== undefined) {
      out.push(controlProblem(src, s, ctl, `values of ${src.file} are single-line text`));
      continue;
    }
    if (s.isKey) continue;
    const secret = plainSecretIn(s.value);
    if (secret) {
      out.push(secretProblem(src, s, secret, src.file));
      continue;
    }
    const delim = /\{\{|\}\}/.exec(s.value);
    if (delim) {
      out.push(
        src.problem(
          p,
          `contains the template delimiter "${delim[0]}": values of ${src.file} are rendered into Go templates (SealedSecret and ExternalSecret templates, the Argo CD ApplicationSet), which would evaluate it`,
          'remove the braces; meshgen writes every template itself',
        ),
      );
    }
  }
  return out;
}

/**
 * What base.yaml's strings must not hold: control characters other than tab and line breaks, secrets (its values are
 * written unsealed into dist/), and the keys `constructor` and `__proto__`, which no IstioOperator field has and
 * which a JavaScript object (and so cdk8s) cannot carry as data.
 */
function baseStringProblems(src: YamlSource): Problem[] {
  const out: Problem[] = [];
  for (const s of src.strings()) {
    const ctl = controlCharIn(s.value, s.isKey ? undefined : /[\t\n\r]/);
    if (ctl !== undefined) {
      out.push(controlProblem(src, s, ctl, s.isKey ? 'keys are single-line names' : 'only tabs and line breaks belong in a value'));
      continue;
    }
    if (s.isKey) {
      if (RESERVED_NAMES.has(s.value)) {
        out.push(
          src.problem(
            s.path,
            `the key ${reservedName(s.value)}; no IstioOperator field has this name`,
            'remove it, or rename it to the field you meant',
            true,
          ),
        );
      }
      continue;
    }
    const secret = plainSecretIn(s.value);
    if (secret) out.push(secretProblem(src, s, secret, src.file));
  }
  return out;
}
