/**
 * A rollout model: what Argo CD or Flux, and the controllers behind them, do with a generated `dist/` applied to fresh
 * clusters. It reads only the generated objects (and the prerequisites the user stated in topology.yaml), simulates
 * every cluster of the mesh together, and reports the violations and what never converged.
 *
 * Each rule names the upstream source it models:
 *
 * - Argo CD applies one Application wave by wave; a wave must be synced and healthy before the next
 *   (gitops-engine `pkg/sync/sync_context.go`), and waves order nothing across Applications. Within a wave CRDs and
 *   Namespaces go first (`pkg/sync/sync_tasks.go`, kind order). A parent Application does not wait for a child's
 *   health (the `argoproj.io/Application` health check was removed in Argo CD 1.8), so separate Applications run in any
 *   order: the model lets every unit act before any controller reacts (the worst order).
 * - Argo CD health: SealedSecret Healthy on `Synced=True` (`resource_customizations/bitnami.com/SealedSecret/health.lua`),
 *   ExternalSecret and PushSecret on `Ready=True` (`resource_customizations/external-secrets.io/*`), Deployments when
 *   available; kinds without a health check are Healthy once applied. Sail's `Istio` has no built-in check: the README
 *   states the health customization as a prerequisite of sail with Argo CD.
 * - Flux: a Kustomization starts once every `dependsOn` is Ready; with `healthChecks` it is Ready once those objects are
 *   Current, else with `wait` once every applied object is (kustomize-controller `docs/spec/v1/kustomizations.md`;
 *   kstatus: a SealedSecret is Current once observed, an ExternalSecret or HelmRelease once `Ready=True`). A
 *   HelmRelease installs after its `dependsOn` releases are Ready and is Ready once its resources are (helm-controller
 *   waits by default).
 * - Sealed Secrets: the Secret is made from `encryptedData`, then `template.data` is rendered over it (up to v0.36);
 *   since PR #1940 the decrypted value wins (`pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go`). Both are
 *   modelled and must give the same Secret.
 * - The token controller deletes a `kubernetes.io/service-account-token` Secret whose ServiceAccount does not exist
 *   (kubernetes `pkg/controller/serviceaccount/tokens_controller.go`, `syncSecret`); the base chart creates
 *   `istio-reader-service-account` (`manifests/charts/base/templates/reader-serviceaccount.yaml`).
 * - istiod reads `cacerts` at start and self-signs for good without it (`pilot/pkg/bootstrap/istio_ca.go`;
 *   istio/istio#30209). With `istiodRemote.enabled` (the remote profile) the istiod chart has no Deployment
 *   (`manifests/charts/istio-control/istio-discovery/templates/deployment.yaml`).
 * - A remote's pods are injected by its primary's istiod, which patches the remote's webhook only once it reaches the
 *   remote through the remote secret (`pkg/kube/multicluster/secretcontroller.go`); the remote secret works once the
 *   remote minted the token it carries. The gateway chart's pods need injection (`inject.istio.io/templates: gateway`,
 *   `manifests/charts/gateway/values.yaml`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { SEALED_SECRETS_BEHAVIOURS, type SealedSecretObject, unsealSealedSecret } from '../helpers/unseal';

/** A Kubernetes object as parsed from YAML. */
export interface KObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  readonly spec?: Record<string, any>;
  readonly type?: string;
  readonly [key: string]: unknown;
}

export type Delivery = 'argocd' | 'flux';

/** What the model needs besides the work directory. */
export interface ModelOptions {
  readonly delivery: Delivery;
  /** Private keys of each cluster's Sealed Secrets controller (PEM), to unseal. */
  readonly sealingKeyOf: (cluster: string) => string;
  /** The reader token each cluster mints (what the remote secrets must carry). */
  readonly tokenOf: (cluster: string) => string;
}

/** The outcome of a rollout. */
export interface Rollout {
  /** Broken rules, each naming the cluster. */
  readonly violations: string[];
  /** Units that never finished (a deadlock, or a failure), with what they wait for. */
  readonly stuck: string[];
  /** Per cluster, the order things happened in (for messages). */
  readonly log: Map<string, string[]>;
  /** Per cluster, the Secrets that exist at the end, by name. */
  readonly secrets: Map<string, Map<string, Record<string, Buffer>>>;
}

const CORE_GROUPS = new Set([
  '',
  'v1',
  'apps',
  'rbac.authorization.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'policy',
  'autoscaling',
  'discovery.k8s.io',
]);
const ISTIO_CRD_KINDS = [
  'networking.istio.io/Gateway',
  'networking.istio.io/VirtualService',
  'networking.istio.io/DestinationRule',
  'networking.istio.io/ServiceEntry',
  'networking.istio.io/Sidecar',
  'security.istio.io/PeerAuthentication',
  'security.istio.io/AuthorizationPolicy',
  'telemetry.istio.io/Telemetry',
];

function groupOf(o: KObject): string {
  return o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
}
function kindKey(o: KObject): string {
  return `${groupOf(o)}/${o.kind}`;
}
function waveOf(o: KObject): number {
  return Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);
}

/** Every object a kustomization directory builds (resources, recursively). */
export function kustomizeBuild(dir: string): KObject[] {
  const k = parse(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  const out: KObject[] = [];
  for (const r of k.resources ?? []) {
    const p = path.join(dir, r);
    if (fs.statSync(p).isDirectory()) out.push(...kustomizeBuild(p));
    else out.push(...readObjects(p));
  }
  return out;
}

function readObjects(file: string): KObject[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KObject)
    .filter((o) => o && typeof o === 'object');
}

/**
 * The objects a chart installs, as far as convergence is concerned (Istio 1.30 charts): the base chart's CRDs and
 * reader ServiceAccount, istiod's Deployment (none with the remote profile), the gateway's Deployment and Service
 * (carrying the `annotations` value).
 */
export function chartObjects(chart: string, release: string, values: Record<string, any>): KObject[] {
  const meta = (name: string, annotations?: Record<string, string>) => ({ name, namespace: 'istio-system', annotations });
  if (chart === 'base') {
    return [
      ...ISTIO_CRD_KINDS.map((k) => {
        const [group, kind] = k.split('/');
        return {
          apiVersion: 'apiextensions.k8s.io/v1',
          kind: 'CustomResourceDefinition',
          metadata: { name: `${kind.toLowerCase()}s.${group}` },
          spec: { group, names: { kind } },
        };
      }),
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('istio-reader-service-account') },
    ];
  }
  if (chart === 'istiod') {
    const remote = values.profile === 'remote' || values.istiodRemote?.enabled === true;
    return remote ? [] : [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(release), spec: { role: 'istiod' } }];
  }
  if (chart === 'cni') {
    // manifests/charts/istio-cni: the CNI node agent, ready on its own.
    return [{ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta('istio-cni-node'), spec: { role: 'cni' } }];
  }
  if (chart === 'ztunnel') {
    // manifests/charts/ztunnel: ready once istiod signs its certificates.
    return [{ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta('ztunnel'), spec: { role: 'ztunnel' } }];
  }
  if (chart === 'gateway') {
    const a = values.annotations as Record<string, string> | undefined;
    return [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(values.name ?? release, a), spec: { role: 'gateway' } },
      { apiVersion: 'v1', kind: 'Service', metadata: meta(values.name ?? release, a) },
    ];
  }
  throw new Error(`no model of chart ${chart}`);
}

/** What an installer controller (Sail, an IstioOperator controller) installs for an `Istio` or `IstioOperator`. */
function operatorObjects(o: KObject): KObject[] {
  const spec = o.spec ?? {};
  if (o.kind === 'IstioCNI') return chartObjects('cni', 'istio-cni', {});
  if (o.kind === 'ZTunnel') return chartObjects('ztunnel', 'ztunnel', {});
  if (o.kind === 'IstioOperator' && spec.profile === 'empty') {
    return chartObjects('gateway', 'istio-eastwestgateway', {});
  }
  const values = { ...(spec.values ?? {}), profile: spec.profile };
  const rev = spec.revision as string | undefined;
  return [...chartObjects('base', 'istio-base', values), ...chartObjects('istiod', rev ? `istiod-${rev}` : 'istiod', values)];
}

/** An object a unit applies, and its Argo CD wave. */
interface Item {
  readonly obj: KObject;
  readonly wave: number;
}

/** A delivery unit: an Argo CD Application, or a Flux Kustomization. */
interface Unit {
  readonly cluster: string;
  readonly name: string;
  /** Argo CD: the waves in order; Flux: one "wave". */
  readonly waves: Item[][];
  readonly dependsOn: string[];
  readonly wait: boolean;
  readonly healthChecks?: { kind: string; name: string }[];
  index: number;
  applied: boolean;
  done: boolean;
}

interface ClusterState {
  readonly name: string;
  readonly crds: Set<string>;
  readonly objects: Map<string, KObject>;
  readonly secrets: Map<string, Record<string, Buffer>>;
  /** Deployments that run. */
  readonly ready: Set<string>;
  tokenMinted: boolean;
  pushed: boolean;
  primary?: string;
  /** HelmReleases / operator CRs installed, by key. */
  readonly installed: Map<string, KObject[]>;
}

const key = (o: KObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Runs the rollout of the work directory `workdir` (its `dist/` and topology.yaml) with the given delivery. */
export function rollout(workdir: string, opts: ModelOptions): Rollout {
  const dist = path.join(workdir, 'dist');
  const topology = parse(fs.readFileSync(path.join(workdir, 'topology.yaml'), 'utf8')) as Record<string, any>;
  const provider = topology.secrets?.provider ?? 'sealed-secrets';
  // The prerequisites the user stated: only an explicitly chosen installer brings its controller.
  const explicitInstaller = topology.istio?.installer as string | undefined;
  const prerequisites = new Set<string>();
  if (provider === 'sealed-secrets') prerequisites.add('bitnami.com/SealedSecret');
  else for (const k of ['ExternalSecret', 'PushSecret', 'SecretStore', 'ClusterSecretStore']) prerequisites.add(`external-secrets.io/${k}`);
  if (explicitInstaller === 'sail') for (const k of ['Istio', 'IstioCNI', 'ZTunnel']) prerequisites.add(`sailoperator.io/${k}`);
  // Ambient: the Gateway API CRDs (standard channel) are a stated prerequisite (README, "Ambient mode").
  if (topology.istio?.dataplane === 'ambient') prerequisites.add('gateway.networking.k8s.io/Gateway');
  if (explicitInstaller === 'operator') prerequisites.add('install.istio.io/IstioOperator');
  if (opts.delivery === 'flux') {
    for (const k of ['kustomize.toolkit.fluxcd.io/Kustomization', 'helm.toolkit.fluxcd.io/HelmRelease', 'source.toolkit.fluxcd.io/HelmRepository'])
      prerequisites.add(k);
  }

  const violations: string[] = [];
  const log = new Map<string, string[]>();
  const clusters = new Map<string, ClusterState>();
  for (const name of fs.readdirSync(path.join(dist, 'clusters')).sort()) {
    const st: ClusterState = {
      name,
      crds: new Set(prerequisites),
      objects: new Map(),
      secrets: new Map(),
      ready: new Set(),
      tokenMinted: false,
      pushed: false,
      installed: new Map(),
    };
    const ns = readObjects(path.join(dist, 'clusters', name, 'secrets', 'namespace.yaml'))[0];
    st.primary = ns?.metadata.annotations?.['topology.istio.io/controlPlaneClusters'];
    clusters.set(name, st);
    log.set(name, []);
  }
  const units = opts.delivery === 'argocd' ? argoUnits(dist, workdir) : fluxUnits(dist, workdir);
  const say = (c: string, m: string) => log.get(c)?.push(m);

  const injectionOn = (c: ClusterState): boolean => {
    if ([...c.ready].some((d) => d.startsWith('istiod'))) return true;
    if (!c.primary) return false;
    const p = clusters.get(c.primary);
    // The primary's istiod patches this cluster's webhook once the remote secret works: it exists there and this
    // cluster minted the token it carries.
    return !!p && [...p.ready].some((d) => d.startsWith('istiod')) && p.secrets.has(`istio-remote-secret-${c.name}`) && c.tokenMinted;
  };

  const apply = (c: ClusterState, unit: Unit, items: readonly Item[]) => {
    // CRDs and Namespaces first, as both Argo CD (kind order) and Flux (ApplyAllStaged) do.
    const first = (o: KObject) => (o.kind === 'CustomResourceDefinition' || o.kind === 'Namespace' ? 0 : 1);
    for (const { obj } of [...items].sort((a, b) => first(a.obj) - first(b.obj))) {
      const g = groupOf(obj);
      if (!CORE_GROUPS.has(g) && !c.crds.has(kindKey(obj))) {
        violations.push(
          `${c.name}: ${unit.name} applies ${obj.kind} ${obj.metadata.name}, whose CRD comes from no stated prerequisite and nothing applied before it`,
        );
        continue;
      }
      if (obj.kind === 'CustomResourceDefinition') c.crds.add(`${obj.spec?.group}/${obj.spec?.names?.kind}`);
      if (obj.kind === 'Secret' && obj.type === 'kubernetes.io/service-account-token') {
        const sa = obj.metadata.annotations?.['kubernetes.io/service-account.name'];
        if (!c.objects.has(`ServiceAccount/istio-system/${sa}`)) {
          violations.push(
            `${c.name}: the token Secret ${obj.metadata.name} is applied before its ServiceAccount ${sa} exists (the token controller deletes it)`,
          );
          continue;
        }
        c.tokenMinted = true;
      }
      if (obj.kind === 'Deployment' && obj.spec?.role === 'istiod' && !c.secrets.has('cacerts')) {
        violations.push(`${c.name}: istiod (${obj.metadata.name}) starts before the cacerts Secret exists: it self-signs for good`);
      }
      c.objects.set(key(obj), obj);
      say(c.name, `${unit.name}: ${obj.kind} ${obj.metadata.name}`);
    }
  };

  /** What a controller installs for an object (HelmRelease, Sail Istio, IstioOperator), once it may. */
  const installsOf = (c: ClusterState, o: KObject): KObject[] | undefined => {
    if (o.kind === 'HelmRelease') {
      const deps = (o.spec?.dependsOn ?? []) as { name: string }[];
      if (!deps.every((d) => healthy(c, c.objects.get(`HelmRelease/istio-system/${d.name}`)))) return undefined;
      return chartObjects(o.spec?.chart?.spec?.chart, o.spec?.releaseName ?? o.metadata.name, o.spec?.values ?? {});
    }
    if (o.kind === 'Istio' || o.kind === 'IstioOperator' || o.kind === 'IstioCNI' || o.kind === 'ZTunnel') return operatorObjects(o);
    return undefined;
  };

  const healthy = (c: ClusterState, o: KObject | undefined): boolean => {
    if (!o) return false;
    switch (o.kind) {
      case 'SealedSecret':
        // Argo CD: Synced=True once the Secret is written. Flux (kstatus): Current once observed.
        return opts.delivery === 'flux' || c.secrets.has(o.metadata.name);
      case 'ExternalSecret':
        return c.secrets.has(o.spec?.target?.name ?? o.metadata.name);
      case 'PushSecret':
        return c.pushed;
      case 'Deployment':
      case 'DaemonSet':
        return c.ready.has(o.metadata.name);
      case 'Gateway':
        // The ambient east-west Gateway: programmed by the local istiod (class istio-east-west).
        return groupOf(o) !== 'gateway.networking.k8s.io' || [...c.ready].some((d) => d.startsWith('istiod'));
      case 'HelmRelease':
      case 'Istio':
      case 'IstioCNI':
      case 'ZTunnel':
      case 'IstioOperator': {
        const objs = c.installed.get(key(o));
        // An IstioOperator has no conditions: kstatus calls it Current at once (Flux); Argo CD's health.lua waits.
        if (o.kind === 'IstioOperator' && opts.delivery === 'flux') return true;
        return objs !== undefined && objs.every((x) => healthy(c, c.objects.get(key(x))));
      }
      default:
        return true;
    }
  };

  const unitReady = (u: Unit): boolean => {
    const c = clusters.get(u.cluster) as ClusterState;
    const items = u.waves[u.index] ?? [];
    if (u.healthChecks) {
      return u.healthChecks.every((h) =>
        h.kind === 'Secret'
          ? c.secrets.has(h.name)
          : healthy(
              c,
              [...c.objects.values()].find((o) => o.kind === h.kind && o.metadata.name === h.name),
            ),
      );
    }
    if (!u.wait) return true;
    return items.every((i) => healthy(c, c.objects.get(key(i.obj))));
  };

  /** One pass of the controllers over every cluster. */
  const controllers = (): boolean => {
    let progress = false;
    for (const c of clusters.values()) {
      for (const o of [...c.objects.values()]) {
        if (o.kind === 'SealedSecret' && !c.secrets.has(o.metadata.name)) {
          const variants = SEALED_SECRETS_BEHAVIOURS.map((b) => unsealSealedSecret(opts.sealingKeyOf(c.name), o as unknown as SealedSecretObject, b));
          const [a, b] = variants.map((s) => JSON.stringify(Object.entries(s.data).map(([k, v]) => [k, v.toString('base64')])));
          if (a !== b)
            violations.push(`${c.name}: SealedSecret ${o.metadata.name} unseals differently on Sealed Secrets <= v0.36 and on newer controllers`);
          // The newer controller's Secret is what istiod gets on a current install.
          c.secrets.set(o.metadata.name, variants[variants.length - 1].data);
          progress = true;
        }
        if (o.kind === 'ExternalSecret' && !c.secrets.has(o.metadata.name)) {
          const data = externalSecretData(o, (peer) => clusters.get(peer));
          if (data) {
            c.secrets.set(o.metadata.name, data);
            progress = true;
          }
        }
        if (o.kind === 'PushSecret' && !c.pushed && c.tokenMinted) {
          c.pushed = true;
          progress = true;
        }
        const installs = c.installed.has(key(o)) ? undefined : installsOf(c, o);
        if (installs) {
          c.installed.set(key(o), installs);
          apply(
            c,
            { name: `${o.kind} ${o.metadata.name}` } as Unit,
            installs.map((x) => ({ obj: x, wave: 0 })),
          );
          progress = true;
        }
        if ((o.kind === 'Deployment' || o.kind === 'DaemonSet') && !c.ready.has(o.metadata.name)) {
          const istiodUp = [...c.ready].some((d) => d.startsWith('istiod'));
          if (o.spec?.role === 'istiod' || o.spec?.role === 'cni' || (o.spec?.role === 'ztunnel' ? istiodUp : injectionOn(c))) {
            c.ready.add(o.metadata.name);
            say(c.name, `ready: ${o.metadata.name}`);
            progress = true;
          }
        }
      }
    }
    return progress;
  };

  // The worst order: units act as long as any can (nothing is ordered unless a wave, a dependsOn or a health check
  // orders it); only then do the controllers react (unseal, install charts, mint tokens, start pods).
  const stepUnits = (): boolean => {
    let progress = false;
    for (const u of units) {
      if (u.done) continue;
      const c = clusters.get(u.cluster) as ClusterState;
      if (!u.applied) {
        if (!u.dependsOn.every((d) => units.find((x) => x.cluster === u.cluster && x.name === d)?.done)) continue;
        apply(c, u, u.waves[u.index] ?? []);
        u.applied = true;
        progress = true;
      } else if (unitReady(u)) {
        u.index += 1;
        u.applied = false;
        if (u.index >= u.waves.length) u.done = true;
        progress = true;
      }
    }
    return progress;
  };
  for (let pass = 0; pass < 1000; pass++) {
    let progress = false;
    while (stepUnits()) progress = true;
    if (controllers()) progress = true;
    if (!progress) break;
  }
  const stuck = units
    .filter((u) => !u.done)
    .map((u) => {
      const c = clusters.get(u.cluster) as ClusterState;
      const waiting = (u.waves[u.index] ?? [])
        .filter((i) => !healthy(c, c.objects.get(key(i.obj))))
        .map((i) => `${i.obj.kind} ${i.obj.metadata.name}`);
      return `${u.cluster}: ${u.name} never finishes${u.applied ? ` (waits for ${waiting.join(', ') || 'its health checks'})` : ` (waits for ${u.dependsOn.join(', ')})`}`;
    });
  return { violations: [...new Set(violations)], stuck, log, secrets: new Map([...clusters].map(([n, c]) => [n, c.secrets])) };
}

/** The data of an ExternalSecret's Secret, once every remote key it reads exists. */
function externalSecretData(o: KObject, clusterOf: (name: string) => ClusterState | undefined): Record<string, Buffer> | undefined {
  const spec = o.spec ?? {};
  const values: Record<string, string> = {};
  for (const d of spec.data ?? []) {
    const remote = d.remoteRef.key as string;
    const m = /\/([^/]+)\/reader-token$/.exec(remote);
    if (m) {
      const peer = clusterOf(m[1]);
      if (!peer?.pushed) return undefined;
      values[d.secretKey] = `token-of-${m[1]}`;
    } else values[d.secretKey] = `${remote}#${d.remoteRef.property}`; // cacerts: uploaded by `meshgen export-ca` (prerequisite)
  }
  const template = spec.target?.template?.data as Record<string, string> | undefined;
  if (!template) return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v)]));
  return Object.fromEntries(
    Object.entries(template).map(([k, t]) => [k, Buffer.from(t.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, n) => values[n] ?? ''))]),
  );
}

/** Renders the ApplicationSet's template for each element, as the ApplicationSet controller does (the subset meshgen writes). */
export function renderApplicationSet(appSet: KObject): KObject[] {
  const spec = appSet.spec as Record<string, any>;
  const gen = spec.generators[0];
  const elements: Record<string, string>[] = gen.list
    ? gen.list.elements
    : gen.merge
      ? (gen.merge.generators.find((g: any) => g.list)?.list.elements ?? []).map((e: Record<string, string>) => ({
          ...e,
          server: `https://${e.name}`,
        }))
      : [];
  return elements.map((params) => {
    const fill = (s: string) => goTemplate(s, params);
    const app = JSON.parse(fill(JSON.stringify(spec.template))) as Record<string, any>;
    if (spec.templatePatch) {
      const patch = parse(fill(spec.templatePatch)) as Record<string, any>;
      // A strategic merge patch: `sources` (no merge key) is replaced as a whole.
      app.spec = { ...app.spec, ...patch.spec };
    }
    return { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: app.metadata, spec: app.spec } as KObject;
  });
}

/** The Go template subset meshgen's ApplicationSet uses: `{{.x}}`, and `{{- if eq .x "v" }} ... {{- end }}` blocks. */
export function goTemplate(text: string, params: Record<string, string>): string {
  let out = text.replace(/\s*\{\{- if eq \.(\w+) "([^"]*)" \}\}([\s\S]*?)\s*\{\{- end \}\}/g, (_, p, v, body) => (params[p] === v ? body : ''));
  out = out.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, p) => {
    if (!(p in params)) throw new Error(`missingkey=error: ${p}`);
    return params[p];
  });
  if (out.includes('{{')) throw new Error(`unsupported template action in ${out.slice(out.indexOf('{{'), out.indexOf('{{') + 40)}`);
  return out;
}

/** The cluster an Application deploys to: from its destination (list generator) or its name. */
function argoUnits(dist: string, workdir: string): Unit[] {
  const dir = path.join(dist, 'argocd');
  const apps: KObject[] = [];
  for (const o of kustomizeBuild(dir)) {
    if (o.kind === 'ApplicationSet') apps.push(...renderApplicationSet(o));
    else if (o.kind === 'Application') apps.push(o);
  }
  const clusterNames = fs.readdirSync(path.join(dist, 'clusters'));
  return apps.map((app) => {
    const spec = app.spec as Record<string, any>;
    const server: string = spec.destination.server;
    const cluster = clusterNames.find((c) => server.includes(`.${c}.`) || server.endsWith(`/${c}`) || app.metadata.name.includes(c)) as string;
    const sources: any[] = spec.sources ?? [spec.source];
    const valuesRepo = sources.find((s) => s.ref === 'values');
    const items: Item[] = [];
    for (const s of sources) {
      if (s.ref) continue;
      if (s.path !== undefined) {
        for (const o of kustomizeBuild(path.join(workdir, s.path))) items.push({ obj: o, wave: waveOf(o) });
      } else if (s.chart) {
        const values: Record<string, any> = {};
        for (const f of s.helm?.valueFiles ?? []) {
          if (!valuesRepo || !f.startsWith('$values/')) throw new Error(`values file ${f} without a ref: values source`);
          Object.assign(values, parse(fs.readFileSync(path.join(workdir, f.slice('$values/'.length)), 'utf8')));
        }
        for (const o of chartObjects(s.chart, s.helm?.releaseName ?? s.chart, values)) items.push({ obj: o, wave: waveOf(o) });
      }
    }
    const waves = [...new Set(items.map((i) => i.wave))].sort((a, b) => a - b).map((w) => items.filter((i) => i.wave === w));
    return { cluster, name: `Application ${app.metadata.name}`, waves, dependsOn: [], wait: true, index: 0, applied: false, done: false };
  });
}

function fluxUnits(dist: string, workdir: string): Unit[] {
  const units: Unit[] = [];
  for (const cluster of fs.readdirSync(path.join(dist, 'flux')).sort()) {
    for (const k of kustomizeBuild(path.join(dist, 'flux', cluster))) {
      if (k.kind !== 'Kustomization') continue;
      const spec = k.spec as Record<string, any>;
      const objs = kustomizeBuild(path.join(workdir, spec.path));
      units.push({
        cluster,
        name: k.metadata.name,
        waves: [objs.map((o) => ({ obj: o, wave: 0 }))],
        dependsOn: (spec.dependsOn ?? []).map((d: { name: string }) => d.name),
        wait: spec.wait === true,
        healthChecks: spec.healthChecks,
        index: 0,
        applied: false,
        done: false,
      });
    }
  }
  return units;
}
