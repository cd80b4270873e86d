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
 *
 * Revisions (canary upgrades), each rule with its upstream source:
 *
 * - The istiod chart is keyed by its `revision` value: Deployment and Service `istiod-<rev>`, and the revision's own
 *   injection webhook `istio-sidecar-injector-<rev>` labelled `istio.io/rev: <rev>` and selecting namespaces and pods
 *   labelled `istio.io/rev=<rev>` (`manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml`;
 *   unrevisioned: `istiod`, `istio-sidecar-injector`, label value `default`, and the `istio-injection=enabled` /
 *   `sidecar.istio.io/inject=true` webhooks). A remote's chart has no Deployment but the Service `istiod-<rev>` pointing
 *   at its primary (`templates/remote-istiod-service.yaml`, with `global.remotePilotAddress`). The chart's
 *   `revisionTags` render `istio-revision-tag-<tag>` in that release (`templates/revision-tags-mwc.yaml`).
 * - Every revision's istiod reads the same `cacerts` at start: the self-signing rule above holds per revision.
 * - A pod is injected by the webhook configurations whose namespace and object selectors match it (Kubernetes
 *   admission); two matching configurations inject twice, none leaves the gateway's `istio.io/rev` resolving to no
 *   revision. The gateway chart labels its pods `sidecar.istio.io/inject: "true"` and `istio.io/rev: <revision value>`
 *   (`manifests/charts/gateway/templates/_helpers.tpl`, `gateway.sidecarInjectionLabels`).
 * - A webhook is served once the istiod its Service names is up and the istiod of the configuration's `istio.io/rev`
 *   label patched its `caBundle` (`pkg/webhooks/webhookpatch.go`: only configurations labelled with its own revision).
 *   On a remote the Service `istiod-<rev>` leads to the primary's east-west gateway, which routes the SNI
 *   `istiod-<rev>.istio-system.svc` through `istiod-vs-<rev>` (`samples/multicluster/expose-istiod-rev.yaml.tmpl`).
 * - Tags: for every tag of topology.yaml, each cluster ends with exactly one `istio-revision-tag-<tag>`, rendered by one
 *   source, labelled with an existing revision and calling that revision's `istiod-<rev>` Service; istiod reads the
 *   default revision from `istio-revision-tag-default` (`pkg/revisions/default_watcher.go`). Its webhooks are
 *   `failurePolicy: Fail`: when one is applied (or moved) the revision it calls must already be healthy, on a primary
 *   and, when rolling out over running clusters (`from`), on remotes too (a fresh remote runs no workload yet).
 * - No label value `istio.io/rev=<x>` (nor `istio-injection=enabled`) is selected by two webhook configurations
 *   (a tag named like a revision, or a tag rendered beside the unrevisioned chart's `default`).
 * - One owner per object: an object rendered by two Argo CD sources, two Flux Kustomizations or HelmReleases is a
 *   violation; a Helm release refuses to create an object another release owns (`meta.helm.sh/release-name`).
 * - Rolling out over a previous state (`from`): Argo CD and Flux prune what a unit no longer renders once it applied
 *   (Argo CD: at the end of the sync, as `PruneLast=true`; Flux: after the apply, garbage collection), helm-controller
 *   upgrades a release whose spec changed and deletes what the new manifest lacks, and uninstalls a pruned release.
 *   At every step every tag keeps exactly one webhook on every cluster.
 *
 * Sail revisions (sail-operator 1.30.3), each rule with its source:
 *
 * - An `Istio` with `spec.updateStrategy.type: RevisionBased` creates only its active IstioRevision,
 *   `<name>-<spec.version, dots as dashes>` (`getActiveRevisionName`, controllers/istio/istio_controller.go:178-192;
 *   `reconcileActiveRevision`); older IstioRevisions it owns stay. Without the strategy (InPlace) the revision is the
 *   Istio's name, `default` meaning none (unchanged). Each IstioRevision installs the istiod chart with its revision:
 *   `istiod-<rev>` and `istio-sidecar-injector-<rev>`, or with the remote profile the Service to the primary and the
 *   injector (controllers/istiorevision/istiorevision_controller.go:109-135).
 * - An inactive IstioRevision is deleted (its istiod uninstalled) once its `InUse` condition has been False for the
 *   grace period (pkg/revision/prune.go:32-86): in use while an IstioRevisionTag's `status.istioRevision` names it, a
 *   namespace references it, or a pod was injected by it or asks for it (istiorevision_controller.go:483-548,
 *   pkg/revision/references.go). Nothing is pruned for an Istio with `pilot.env.EXTERNAL_ISTIOD=true`
 *   (`managesExternalRevision`, istio_controller.go:93-106).
 * - An `IstioRevisionTag` installs the `revisiontags` chart (MutatingWebhookConfiguration `istio-revision-tag-<tag>`
 *   labelled and calling its revision, Service `istiod-revision-tag-<tag>`) once its target IstioRevision exists, else
 *   `Reconciled=False RefNotFound`, retried; it refuses a remote-profile revision
 *   (controllers/istiorevisiontag/istiorevisiontag_controller.go:97-187). It has no Ready condition: Healthy (Argo CD,
 *   no health check) and Current (Flux, kstatus) once applied, whatever its Reconciled condition says.
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
  /**
   * Roll out over the clusters a previous rollout left (its `state`, which this rollout then changes): what the new
   * `dist/` adds, changes and prunes on running clusters, with the tag webhooks checked at every step.
   * @default - fresh clusters
   */
  readonly from?: ClusterWorld;
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
  /** The clusters at the end (objects, running Deployments, owners): pass as `from` to roll out the next `dist/`. */
  readonly state: ClusterWorld;
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
export function chartObjects(chart: string, release: string, values: Record<string, any>, version?: string): KObject[] {
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
    const rev: string = values.revision ?? '';
    const name = rev ? `istiod-${rev}` : 'istiod';
    const objs: KObject[] = [injectorWebhook(`istio-sidecar-injector${rev ? `-${rev}` : ''}`, rev || 'default', name, { unrevisioned: !rev })];
    // templates/revision-tags-mwc.yaml: a tag of the chart's `revisionTags` is a webhook of this release.
    for (const tag of (values.revisionTags ?? []) as string[]) {
      objs.push(injectorWebhook(`istio-revision-tag-${tag}`, rev || 'default', name, { tag }));
    }
    if (remote) {
      // templates/remote-istiod-service.yaml: the Service the remote's webhook calls, leading to the primary.
      if (values.global?.remotePilotAddress) objs.push({ apiVersion: 'v1', kind: 'Service', metadata: meta(name), spec: { remote: true } });
      return objs;
    }
    return [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(name), spec: { role: 'istiod', revision: rev, version } },
      { apiVersion: 'v1', kind: 'Service', metadata: meta(name), spec: { selector: { app: 'istiod', 'istio.io/rev': rev || 'default' } } },
      ...objs,
    ];
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
    // templates/_helpers.tpl, gateway.sidecarInjectionLabels: what the injection webhooks select the pods by.
    const podLabels: Record<string, string> = { 'sidecar.istio.io/inject': 'true', ...(values.revision ? { 'istio.io/rev': values.revision } : {}) };
    return [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(values.name ?? release, a), spec: { role: 'gateway', podLabels, version } },
      { apiVersion: 'v1', kind: 'Service', metadata: meta(values.name ?? release, a) },
    ];
  }
  throw new Error(`no model of chart ${chart}`);
}

type Expr = { key: string; operator: string; values?: string[] };
type Selector = { matchExpressions?: Expr[]; matchLabels?: Record<string, string> };
type Webhook = {
  name: string;
  clientConfig?: { service?: { name: string } };
  failurePolicy?: string;
  namespaceSelector?: Selector;
  objectSelector?: Selector;
};

/**
 * An injection MutatingWebhookConfiguration as the istiod chart renders it (`templates/mutatingwebhook.yaml`, or
 * `templates/revision-tags-mwc.yaml` for a tag): labelled `istio.io/rev: <rev>`, calling `service`, selecting
 * `istio.io/rev=<tag or rev>`; the unrevisioned chart also selects `istio-injection=enabled` and
 * `sidecar.istio.io/inject=true` pods.
 */
function injectorWebhook(name: string, rev: string, service: string, o: { tag?: string; unrevisioned?: boolean }): KObject {
  const value = o.tag ?? rev;
  const e = (key: string, operator: string, values?: string[]): Expr => ({ key, operator, ...(values ? { values } : {}) });
  const core = (prefix: string, namespaceSelector: Selector, objectSelector: Selector): Webhook => ({
    name: `${prefix}sidecar-injector.istio.io`,
    clientConfig: { service: { name: service } },
    failurePolicy: 'Fail',
    namespaceSelector,
    objectSelector,
  });
  const notDisabled = { matchExpressions: [e('sidecar.istio.io/inject', 'NotIn', ['false'])] };
  const webhooks = [
    core('rev.namespace.', { matchExpressions: [e('istio.io/rev', 'In', [value]), e('istio-injection', 'DoesNotExist')] }, notDisabled),
    core(
      'rev.object.',
      { matchExpressions: [e('istio.io/rev', 'DoesNotExist'), e('istio-injection', 'DoesNotExist')] },
      { matchExpressions: [e('sidecar.istio.io/inject', 'NotIn', ['false']), e('istio.io/rev', 'In', [value])] },
    ),
  ];
  if (o.unrevisioned) {
    webhooks.push(
      core('namespace.', { matchExpressions: [e('istio-injection', 'In', ['enabled'])] }, notDisabled),
      core(
        'object.',
        { matchExpressions: [e('istio-injection', 'DoesNotExist'), e('istio.io/rev', 'DoesNotExist')] },
        { matchExpressions: [e('sidecar.istio.io/inject', 'In', ['true']), e('istio.io/rev', 'DoesNotExist')] },
      ),
    );
  }
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name, labels: { 'istio.io/rev': rev, ...(o.tag ? { 'istio.io/tag': o.tag } : {}) } },
    webhooks,
  };
}

/** Whether a label selector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) selects these labels. */
export function selects(sel: Selector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const x of sel.matchExpressions ?? []) {
    const has = x.key in labels;
    const ok =
      x.operator === 'In'
        ? has && (x.values ?? []).includes(labels[x.key])
        : x.operator === 'NotIn'
          ? !has || !(x.values ?? []).includes(labels[x.key])
          : x.operator === 'Exists'
            ? has
            : x.operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

/** The webhooks of a configuration that match a pod (its namespace's labels and its own). */
function matchingWebhooks(mwc: KObject, nsLabels: Record<string, string>, podLabels: Record<string, string>): Webhook[] {
  return ((mwc.webhooks ?? []) as Webhook[]).filter((w) => selects(w.namespaceSelector, nsLabels) && selects(w.objectSelector, podLabels));
}

/** What an installer controller (Sail, an IstioOperator controller) installs for an `Istio` or `IstioOperator`. */
function operatorObjects(o: KObject, _lookup: (key: string) => KObject | undefined): KObject[] {
  const spec = o.spec ?? {};
  if (o.kind === 'IstioCNI') return chartObjects('cni', 'istio-cni', {});
  if (o.kind === 'ZTunnel') return chartObjects('ztunnel', 'ztunnel', {});
  if (o.kind === 'IstioOperator' && spec.profile === 'empty') {
    return chartObjects('gateway', 'istio-eastwestgateway', spec.revision ? { revision: spec.revision } : {});
  }
  if (o.kind === 'Istio' && isRevisionBased(o)) {
    // Sail RevisionBased: the Istio creates (or updates) only its active IstioRevision, `<name>-<spec.version, dots as
    // dashes>` (controllers/istio/istio_controller.go:178-192, reconcileActiveRevision :117-145), whose values carry
    // the revision and the profile (pkg/revision/values.go, ComputeValues); the IstioRevision installs istiod.
    const name = activeRevisionOf(o);
    const values = {
      ...(spec.values ?? {}),
      ...(spec.profile ? { profile: spec.profile } : {}),
      revision: name,
      global: { ...(spec.values?.global ?? {}), istioNamespace: spec.namespace },
    };
    const revision: KObject = {
      apiVersion: 'sailoperator.io/v1',
      kind: 'IstioRevision',
      metadata: { name },
      spec: { version: spec.version, namespace: spec.namespace, values },
    };
    return [...chartObjects('base', 'istio-base', values), revision];
  }
  if (o.kind === 'IstioRevision') {
    // controllers/istiorevision/istiorevision_controller.go:109-135: the istiod chart with the revision's values
    // (Deployment, Service, injector `istio-sidecar-injector-<rev>`; a remote-profile revision the Service only).
    return chartObjects('istiod', `istiod-${o.metadata.name}`, spec.values ?? {}, spec.version);
  }
  // Sail (InPlace) names the revision after the Istio, `default` meaning none (sail-operator
  // `pkg/istiovalues/overrides.go`, ApplyOverrides).
  const sailRev = o.kind === 'Istio' && o.metadata.name !== 'default' ? o.metadata.name : undefined;
  const rev = (spec.revision as string | undefined) ?? sailRev;
  const values = { ...(spec.values ?? {}), profile: spec.profile, ...(rev ? { revision: rev } : {}) };
  return [...chartObjects('base', 'istio-base', values), ...chartObjects('istiod', rev ? `istiod-${rev}` : 'istiod', values)];
}

/** A Sail `Istio` with `spec.updateStrategy.type: RevisionBased` (api/v1/istio_types.go:70-99; InPlace is the default). */
function isRevisionBased(o: KObject): boolean {
  return o.kind === 'Istio' && o.spec?.updateStrategy?.type === 'RevisionBased';
}

/** The active revision of a Sail `Istio` (`getActiveRevisionName`, controllers/istio/istio_controller.go:178-192). */
function activeRevisionOf(o: KObject): string {
  return isRevisionBased(o) ? `${o.metadata.name}-${String(o.spec?.version ?? '').replaceAll('.', '-')}` : o.metadata.name;
}

/**
 * Whether Sail leaves an Istio's revisions unpruned: `pilot.env.EXTERNAL_ISTIOD=true` (`managesExternalRevision`,
 * controllers/istio/istio_controller.go:93-106: "the operator currently has no way of knowing if the revision is still
 * in use on the external cluster").
 */
function managesExternalRevision(o: KObject): boolean {
  return o.spec?.values?.pilot?.env?.EXTERNAL_ISTIOD === 'true';
}

/** An object a unit applies, and its Argo CD wave. */
interface Item {
  readonly obj: KObject;
  readonly wave: number;
  /** The source that renders it (an Argo CD Application's source); default: the unit. */
  readonly source?: string;
}

/** Sail's kinds (prerequisites of the sail installer). */
const SAIL_KINDS = ['Istio', 'IstioRevision', 'IstioRevisionTag', 'IstioCNI', 'ZTunnel'];
/** Objects a controller installs charts for. */
const INSTALLER_KINDS = new Set(['HelmRelease', 'Istio', 'IstioRevision', 'IstioRevisionTag', 'IstioOperator', 'IstioCNI', 'ZTunnel']);

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
  /** The revision that injected each running Deployment's pods (their `istio.io/rev` annotation). */
  readonly injected: Map<string, string>;
  tokenMinted: boolean;
  pushed: boolean;
  primary?: string;
  /** HelmReleases / operator CRs installed, by key: what they installed. */
  readonly installed: Map<string, KObject[]>;
  /** The spec each HelmRelease / operator CR was installed with (a changed spec is upgraded). */
  readonly installedSpec: Map<string, string>;
  /** Who applied each object: the unit (what prunes it) and the source that renders it. */
  readonly owners: Map<string, { unit: string; source: string }>;
  /** What each controller-side source (HelmRelease, operator CR) renders now, by source. */
  readonly renders: Map<string, Set<string>>;
}

/** The clusters after a rollout: what {@link ModelOptions.from} starts the next rollout from. */
export type ClusterWorld = Map<string, ClusterState>;

const key = (o: KObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const TAG_WEBHOOK_PREFIX = 'istio-revision-tag-';
const NS = 'istio-system';

/** Runs the rollout of the work directory `workdir` (its `dist/` and topology.yaml) with the given delivery. */
export function rollout(workdir: string, opts: ModelOptions): Rollout {
  const dist = path.join(workdir, 'dist');
  const topology = parse(fs.readFileSync(path.join(workdir, 'topology.yaml'), 'utf8')) as Record<string, any>;
  const provider = topology.secrets?.provider ?? 'sealed-secrets';
  const tags = Object.keys((topology.istio?.tags ?? {}) as Record<string, string>).sort();
  // The prerequisites the user stated: only an explicitly chosen installer brings its controller.
  const explicitInstaller = topology.istio?.installer as string | undefined;
  const prerequisites = new Set<string>();
  if (provider === 'sealed-secrets') prerequisites.add('bitnami.com/SealedSecret');
  else for (const k of ['ExternalSecret', 'PushSecret', 'SecretStore', 'ClusterSecretStore']) prerequisites.add(`external-secrets.io/${k}`);
  if (explicitInstaller === 'sail') for (const k of SAIL_KINDS) prerequisites.add(`sailoperator.io/${k}`);
  // Ambient: the Gateway API CRDs (standard channel) are a stated prerequisite (README, "Ambient mode").
  if (topology.istio?.dataplane === 'ambient') prerequisites.add('gateway.networking.k8s.io/Gateway');
  if (explicitInstaller === 'operator') prerequisites.add('install.istio.io/IstioOperator');
  if (opts.delivery === 'flux') {
    for (const k of ['kustomize.toolkit.fluxcd.io/Kustomization', 'helm.toolkit.fluxcd.io/HelmRelease', 'source.toolkit.fluxcd.io/HelmRepository'])
      prerequisites.add(k);
  }

  const violations: string[] = [];
  const log = new Map<string, string[]>();
  const transition = opts.from !== undefined;
  const clusters: ClusterWorld = opts.from ?? new Map();
  for (const name of fs.readdirSync(path.join(dist, 'clusters')).sort()) {
    if (!clusters.has(name)) {
      clusters.set(name, {
        name,
        crds: new Set(prerequisites),
        objects: new Map(),
        secrets: new Map(),
        ready: new Set(),
        injected: new Map(),
        tokenMinted: false,
        pushed: false,
        installed: new Map(),
        installedSpec: new Map(),
        owners: new Map(),
        renders: new Map(),
      });
    }
    const st = clusters.get(name) as ClusterState;
    const ns = readObjects(path.join(dist, 'clusters', name, 'secrets', 'namespace.yaml'))[0];
    st.primary = ns?.metadata.annotations?.['topology.istio.io/controlPlaneClusters'];
    log.set(name, []);
  }
  const units = opts.delivery === 'argocd' ? argoUnits(dist, workdir) : fluxUnits(dist, workdir);
  const say = (c: string, m: string) => log.get(c)?.push(m);

  // One owner per object: no two sources of the units of a cluster render the same object.
  const unitRenders = new Map<string, Map<string, Set<string>>>();
  for (const u of units) {
    const byKey = new Map<string, Set<string>>();
    const perSource = unitRenders.get(u.cluster) ?? new Map<string, Set<string>>();
    unitRenders.set(u.cluster, perSource);
    for (const i of u.waves.flat()) {
      const src = i.source ?? u.name;
      if (!perSource.has(src)) perSource.set(src, new Set());
      perSource.get(src)?.add(key(i.obj));
      byKey.set(key(i.obj), new Set([...(byKey.get(key(i.obj)) ?? []), src]));
    }
    for (const [k, srcs] of byKey) if (srcs.size > 1) violations.push(`${u.cluster}: ${k} is rendered by two sources: ${[...srcs].join(' and ')}`);
  }
  for (const [cluster, perSource] of unitRenders) {
    const all = new Map<string, string>();
    for (const [src, keys] of perSource) {
      for (const k of keys) {
        const other = all.get(k);
        if (other !== undefined && !sameUnitSource(other, src)) violations.push(`${cluster}: ${k} is rendered by two sources: ${other} and ${src}`);
        all.set(k, src);
      }
    }
  }
  const rendersNow = (c: ClusterState, source: string, k: string) =>
    (unitRenders.get(c.name)?.get(source)?.has(k) ?? false) || (c.renders.get(source)?.has(k) ?? false);

  const istiodUp = (c: ClusterState) => [...c.ready].some((d) => d.startsWith('istiod'));
  const istiodOf = (rev: string) => (rev === '' || rev === 'default' ? 'istiod' : `istiod-${rev}`);
  /** Whether istiod `name` runs for this cluster: here, or on its primary. */
  const runsFor = (c: ClusterState, name: string): boolean => {
    if (c.objects.has(`Deployment/${NS}/${name}`)) return c.ready.has(name);
    const p = c.primary ? clusters.get(c.primary) : undefined;
    return !!p && p.ready.has(name);
  };

  /**
   * Whether a webhook configuration is served for this cluster: the istiod its Service names runs (here or, for a
   * remote, on its primary, reached through the remote secret and the primary's east-west gateway routing the SNI
   * `<svc>.istio-system.svc` to it), and the istiod of its `istio.io/rev` label patched its caBundle (webhookpatch.go).
   */
  const served = (c: ClusterState, mwc: KObject, wh: Webhook): boolean => {
    const svc = wh.clientConfig?.service?.name;
    if (!svc || !c.objects.has(`Service/${NS}/${svc}`)) return false;
    const patcher = istiodOf(mwc.metadata.labels?.['istio.io/rev'] ?? 'default');
    if (c.objects.has(`Deployment/${NS}/${svc}`)) return c.ready.has(svc) && c.ready.has(patcher);
    const p = c.primary ? clusters.get(c.primary) : undefined;
    if (!p || !p.ready.has(svc) || !p.ready.has(patcher)) return false;
    // The primary's istiod reaches this cluster through the remote secret (patches the webhook, reads the pods) ...
    if (!p.secrets.has(`istio-remote-secret-${c.name}`) || !c.tokenMinted) return false;
    // ... and the webhook call goes through the primary's east-west gateway: istiod-vs-<rev> routes its SNI.
    const sni = `${svc}.${NS}.svc`;
    const routed = [...p.objects.values()].some(
      (o) =>
        o.kind === 'VirtualService' &&
        ((o.spec?.tls ?? []) as any[]).some(
          (t) =>
            (t.match ?? []).some((m: any) => m.port === 15017 && (m.sniHosts ?? []).some((h: string) => h === sni || h === '*')) &&
            (t.route ?? []).some((r: any) => r.destination?.host === `${svc}.${NS}.svc.cluster.local`),
        ),
    );
    return routed && [...p.ready].some((d) => d.includes('eastwestgateway'));
  };

  /** The webhook configurations that would inject a pod with these labels in istio-system. */
  const injectorsOf = (c: ClusterState, podLabels: Record<string, string>) => {
    const nsLabels = c.objects.get(`Namespace//${NS}`)?.metadata.labels ?? {};
    return [...c.objects.values()]
      .filter((o) => o.kind === 'MutatingWebhookConfiguration')
      .map((m) => ({ mwc: m, hooks: matchingWebhooks(m, { 'kubernetes.io/metadata.name': NS, ...nsLabels }, podLabels) }))
      .filter((x) => x.hooks.length > 0);
  };
  const injectionOn = (c: ClusterState, podLabels: Record<string, string>): boolean => {
    const injectors = injectorsOf(c, podLabels);
    return injectors.length > 0 && injectors.every((x) => served(c, x.mwc, x.hooks[0]));
  };

  /** Every tag keeps exactly one webhook on every cluster (checked at each step of a rollout over running clusters). */
  const kept = new Map<string, string[]>();
  for (const c of clusters.values())
    kept.set(
      c.name,
      tags.filter((t) => c.objects.has(`MutatingWebhookConfiguration//${TAG_WEBHOOK_PREFIX}${t}`)),
    );
  const checkTagsKept = (when: string) => {
    for (const c of clusters.values()) {
      for (const t of kept.get(c.name) ?? []) {
        if (!c.objects.has(`MutatingWebhookConfiguration//${TAG_WEBHOOK_PREFIX}${t}`))
          violations.push(`${c.name}: tag ${t} has no webhook (${TAG_WEBHOOK_PREFIX}${t} deleted) after ${when}`);
      }
    }
  };

  const deleteObject = (c: ClusterState, k: string, by: string) => {
    const o = c.objects.get(k);
    if (!o) return;
    c.objects.delete(k);
    c.owners.delete(k);
    if (o.kind === 'Deployment' || o.kind === 'DaemonSet') {
      c.ready.delete(o.metadata.name);
      c.injected.delete(o.metadata.name);
    }
    say(c.name, `${by}: deletes ${o.kind} ${o.metadata.name}`);
    // A pruned HelmRelease is uninstalled, a deleted operator CR's objects go with it.
    const installs = c.installed.get(k);
    if (installs) {
      c.installed.delete(k);
      c.installedSpec.delete(k);
      c.renders.delete(k);
      for (const [ok, owner] of [...c.owners]) if (owner.unit === k) deleteObject(c, ok, `${o.kind} ${o.metadata.name} uninstalled`);
    }
  };

  const apply = (c: ClusterState, unitName: string, items: readonly Item[], controller?: string) => {
    // CRDs and Namespaces first, as both Argo CD (kind order) and Flux (ApplyAllStaged) do.
    const first = (o: KObject) => (o.kind === 'CustomResourceDefinition' || o.kind === 'Namespace' ? 0 : 1);
    for (const { obj, source } of [...items].sort((a, b) => first(a.obj) - first(b.obj))) {
      const k = key(obj);
      const g = groupOf(obj);
      if (!CORE_GROUPS.has(g) && !c.crds.has(kindKey(obj))) {
        violations.push(
          `${c.name}: ${unitName} applies ${obj.kind} ${obj.metadata.name}, whose CRD comes from no stated prerequisite and nothing applied before it`,
        );
        continue;
      }
      const src = source ?? controller ?? unitName;
      const owner = c.owners.get(k);
      if (owner && owner.source !== src && rendersNow(c, owner.source, k)) {
        // Helm refuses to adopt an object of another release (meta.helm.sh/release-name); Argo CD and Flux fight over it.
        violations.push(`${c.name}: ${obj.kind} ${obj.metadata.name} is rendered by two sources: ${owner.source} and ${src}`);
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
      const before = c.objects.get(k);
      const changed = !before || JSON.stringify(before.spec) !== JSON.stringify(obj.spec);
      if ((obj.kind === 'Deployment' || obj.kind === 'DaemonSet') && changed) {
        // A new or changed Deployment (re)starts its pods; istiod reads cacerts at each start.
        c.ready.delete(obj.metadata.name);
        c.injected.delete(obj.metadata.name);
        if (obj.spec?.role === 'istiod' && !c.secrets.has('cacerts')) {
          violations.push(`${c.name}: istiod (${obj.metadata.name}) starts before the cacerts Secret exists: it self-signs for good`);
        }
      }
      if (obj.kind === 'MutatingWebhookConfiguration' && obj.metadata.name.startsWith(TAG_WEBHOOK_PREFIX)) {
        const rev = obj.metadata.labels?.['istio.io/rev'] ?? 'default';
        const moved = !before || before.metadata.labels?.['istio.io/rev'] !== rev;
        // failurePolicy: Fail: once applied, the pods it selects are created only if its istiod answers. On a primary
        // the waves / dependsOn must order it after the revision's istiod; on a running remote, after its primary's.
        const fail = ((obj.webhooks ?? []) as Webhook[]).some((w) => w.failurePolicy === 'Fail');
        if (moved && fail && (c.primary === undefined || transition) && !runsFor(c, istiodOf(rev))) {
          violations.push(
            `${c.name}: ${unitName} applies ${obj.metadata.name} (failurePolicy: Fail) for revision ${rev} before ${istiodOf(rev)} is healthy`,
          );
        }
      }
      c.objects.set(k, obj);
      c.owners.set(k, { unit: controller ?? unitName, source: src });
      say(c.name, `${unitName}: ${obj.kind} ${obj.metadata.name}`);
    }
  };

  /** Deletes what `unit` applied before and renders no more (Argo CD and Flux prune; Helm deletes on upgrade). */
  const prune = (c: ClusterState, unit: string, keep: ReadonlySet<string>) => {
    for (const [k, owner] of [...c.owners]) if (owner.unit === unit && !keep.has(k)) deleteObject(c, k, `${unit} prunes`);
  };

  /** What a controller installs for an object (HelmRelease, Sail Istio, IstioOperator), once it may. */
  const installsOf = (c: ClusterState, o: KObject): KObject[] | undefined => {
    if (o.kind === 'HelmRelease') {
      const deps = (o.spec?.dependsOn ?? []) as { name: string }[];
      if (!deps.every((d) => healthy(c, c.objects.get(`HelmRelease/istio-system/${d.name}`)))) return undefined;
      return chartObjects(o.spec?.chart?.spec?.chart, o.spec?.releaseName ?? o.metadata.name, o.spec?.values ?? {}, o.spec?.chart?.spec?.version);
    }
    if (o.kind === 'IstioRevisionTag') return revisionTagObjects(c, o);
    if (INSTALLER_KINDS.has(o.kind)) return operatorObjects(o, (k) => c.objects.get(k));
    return undefined;
  };

  /** The IstioRevision a Sail IstioRevisionTag resolves to (pkg/revision/references.go, GetIstioRevisionFromTargetReference). */
  const tagTarget = (c: ClusterState, o: KObject): string | undefined => {
    const ref = (o.spec?.targetRef ?? {}) as { kind?: string; name?: string };
    if (ref.kind === 'IstioRevision') return ref.name;
    const istio = ref.kind === 'Istio' ? c.objects.get(`Istio//${ref.name}`) : undefined;
    // status.activeRevisionName: set once the Istio reconciled its active revision.
    return istio && c.installed.has(key(istio)) ? activeRevisionOf(istio) : undefined;
  };
  const refNotFound = new Set<string>();
  /**
   * What Sail installs for an IstioRevisionTag (controllers/istiorevisiontag/istiorevisiontag_controller.go): once its
   * target IstioRevision exists (else `Reconciled=False`, `RefNotFound`, retried: lines 140-155 and
   * pkg/reconciler/reconciler.go:102-104), and never for a remote-profile revision (lines 109-111), the `revisiontags`
   * chart of the revision's version with `revisionTags: [<tag>]` (lines 159-187): MWC `istio-revision-tag-<tag>`
   * labelled `istio.io/rev: <rev>` and calling `istiod-<rev>`, the tag `default` also selecting `istio-injection=enabled`
   * namespaces and `sidecar.istio.io/inject=true` pods (resources/v1.30.3/charts/revisiontags/templates/
   * revision-tags-mwc.yaml), and the Service `istiod-revision-tag-<tag>` (revision-tags-svc.yaml). It installs as soon as
   * the IstioRevision exists, without waiting for its istiod: the units' order must give that. (The tag `default` also
   * installs the `base` chart for `istiod-default-validator`, lines 179-185: nothing here depends on it.)
   */
  const revisionTagObjects = (c: ClusterState, o: KObject): KObject[] | undefined => {
    const tag = o.metadata.name;
    const name = tagTarget(c, o);
    const rev = name === undefined ? undefined : c.objects.get(`IstioRevision//${name}`);
    if (!rev) {
      const note = `${tag} → ${name ?? o.spec?.targetRef?.name}`;
      if (!refNotFound.has(`${c.name} ${note}`)) say(c.name, `IstioRevisionTag ${note}: Reconciled=False, RefNotFound (retried)`);
      refNotFound.add(`${c.name} ${note}`);
      return undefined;
    }
    if (rev.spec?.values?.profile === 'remote') {
      violations.push(`${c.name}: IstioRevisionTag ${tag} targets the remote-profile revision ${name}: Sail refuses it (Reconciled=False)`);
      return undefined;
    }
    const revName = rev.metadata.name;
    return [
      injectorWebhook(`${TAG_WEBHOOK_PREFIX}${tag}`, revName, `istiod-${revName}`, { tag, unrevisioned: tag === 'default' }),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: `istiod-revision-tag-${tag}`, namespace: NS }, spec: { revision: revName } },
    ];
  };

  /** The revision a Sail IstioRevisionTag installed its webhook for (`status.istioRevision`). */
  const tagStatusRevision = (c: ClusterState, tagKey: string): string | undefined =>
    c.installed.get(tagKey)?.find((x) => x.kind === 'MutatingWebhookConfiguration')?.metadata.labels?.['istio.io/rev'];

  /**
   * Sail's `InUse` condition of an IstioRevision (controllers/istiorevision/istiorevision_controller.go:483-548): an
   * IstioRevisionTag's `status.istioRevision` names it; a namespace references it (`istio-injection=enabled` meaning
   * `default`, else `istio.io/rev`; pkg/revision/references.go); or a pod that has not succeeded was injected by it
   * (annotation `istio.io/rev`) or, in a namespace referencing none, asks for it by label.
   */
  const inUse = (c: ClusterState, rev: string): boolean => {
    for (const [k, o] of c.objects) if (o.kind === 'IstioRevisionTag' && tagStatusRevision(c, k) === rev) return true;
    const nsRevision = (labels: Record<string, string> = {}) => (labels['istio-injection'] === 'enabled' ? 'default' : labels['istio.io/rev']);
    for (const o of c.objects.values()) if (o.kind === 'Namespace' && nsRevision(o.metadata.labels) === rev) return true;
    const systemNsRevision = nsRevision(c.objects.get(`Namespace//${NS}`)?.metadata.labels);
    for (const o of c.objects.values()) {
      if (o.kind !== 'Deployment') continue;
      if (c.injected.get(o.metadata.name) === rev) return true;
      const pod = (o.spec?.podLabels ?? {}) as Record<string, string>;
      const asked =
        pod['sidecar.istio.io/inject'] === 'false' ? '' : (pod['istio.io/rev'] ?? (pod['sidecar.istio.io/inject'] === 'true' ? 'default' : ''));
      if (!systemNsRevision && asked === rev) return true;
    }
    return false;
  };

  /**
   * Sail's pruning of a RevisionBased Istio (pkg/revision/prune.go:32-86, called from istio_controller.go:91-98): every
   * IstioRevision it owns but the active one is deleted once its `InUse` condition has been False for the grace period
   * (`inactiveRevisionDeletionGracePeriodSeconds`, default 30: here, a pass of the controllers on which it is not in use),
   * which uninstalls its istiod (Finalize); never while in use, and never at all with `EXTERNAL_ISTIOD=true`.
   */
  const pruneInactive = (c: ClusterState, istio: KObject): boolean => {
    const k = key(istio);
    if (!isRevisionBased(istio) || !c.installed.has(k) || managesExternalRevision(istio)) return false;
    let pruned = false;
    for (const [rk, owner] of [...c.owners]) {
      const rev = c.objects.get(rk);
      if (owner.unit !== k || rev?.kind !== 'IstioRevision' || rev.metadata.name === activeRevisionOf(istio)) continue;
      if (inUse(c, rev.metadata.name)) continue;
      deleteObject(c, rk, `Istio ${istio.metadata.name} prunes the inactive revision`);
      pruned = true;
    }
    return pruned;
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
      case 'IstioRevisionTag':
        // No Ready condition (Reconciled, InUse: api/v1/istiorevisiontags_types.go:88-120) and no Argo CD health check:
        // Healthy (Argo CD) and Current (kstatus, Flux) once applied, even while Reconciled=False (RefNotFound).
        return true;
      case 'Gateway':
        // The ambient east-west Gateway: programmed by the local istiod (class istio-east-west).
        return groupOf(o) !== 'gateway.networking.k8s.io' || istiodUp(c);
      default: {
        if (!INSTALLER_KINDS.has(o.kind)) return true;
        const objs = c.installed.get(key(o));
        // An IstioOperator has no conditions: kstatus calls it Current at once (Flux); Argo CD's health.lua waits.
        if (o.kind === 'IstioOperator' && opts.delivery === 'flux') return true;
        return objs !== undefined && c.installedSpec.get(key(o)) === JSON.stringify(o.spec) && objs.every((x) => healthy(c, c.objects.get(key(x))));
      }
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
        if (!c.objects.has(key(o))) continue; // deleted during this pass
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
        const k = key(o);
        // An IstioRevisionTag on an Istio follows its active revision: a new target is a change too.
        const spec = JSON.stringify(o.kind === 'IstioRevisionTag' ? { ...o.spec, resolved: tagTarget(c, o) } : o.spec);
        const installs = c.installedSpec.get(k) === spec ? undefined : installsOf(c, o);
        if (installs) {
          // A first install, or an upgrade of a changed spec (then what the new manifest lacks is deleted).
          c.installed.set(k, installs);
          c.installedSpec.set(k, spec);
          const base = o.kind === 'IstioOperator' || o.kind === 'Istio';
          // The installer's base objects (CRDs, reader ServiceAccount) are shared by its revisions: one owner.
          const sourceOf = (x: KObject) => (base && (x.kind === 'CustomResourceDefinition' || x.kind === 'ServiceAccount') ? `${o.kind} base` : k);
          c.renders.set(k, new Set(installs.filter((x) => sourceOf(x) === k).map(key)));
          apply(
            c,
            `${o.kind} ${o.metadata.name}`,
            installs.map((x) => ({ obj: x, wave: 0, source: sourceOf(x) })),
            k,
          );
          // A RevisionBased Istio keeps its older IstioRevisions: only pruneInactive deletes them.
          const keep = new Set(installs.map(key));
          if (isRevisionBased(o)) for (const [ok, owner] of c.owners) if (owner.unit === k && ok.startsWith('IstioRevision/')) keep.add(ok);
          prune(c, k, keep);
          if (transition) checkTagsKept(`${o.kind} ${o.metadata.name} installs on ${c.name}`);
          progress = true;
        }
        if (isRevisionBased(o) && pruneInactive(c, o)) progress = true;
        if ((o.kind === 'Deployment' || o.kind === 'DaemonSet') && !c.ready.has(o.metadata.name)) {
          const role = o.spec?.role;
          const podLabels = (o.spec?.podLabels as Record<string, string> | undefined) ?? { 'sidecar.istio.io/inject': 'true' };
          if (role === 'istiod' || role === 'cni' || (role === 'ztunnel' ? istiodUp(c) : injectionOn(c, podLabels))) {
            c.ready.add(o.metadata.name);
            // The injecting revision annotates the pods (`istio.io/rev`): what keeps a Sail revision in use.
            const by = role === 'gateway' ? injectorsOf(c, podLabels)[0]?.mwc.metadata.labels?.['istio.io/rev'] : undefined;
            if (by) c.injected.set(o.metadata.name, by);
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
        apply(c, u.name, u.waves[u.index] ?? []);
        u.applied = true;
        // Flux garbage-collects right after the apply.
        if (opts.delivery === 'flux') prune(c, u.name, new Set(u.waves.flat().map((i) => key(i.obj))));
        if (transition) checkTagsKept(`${u.name} applies on ${c.name}`);
        progress = true;
      } else if (unitReady(u)) {
        u.index += 1;
        u.applied = false;
        if (u.index >= u.waves.length) {
          u.done = true;
          // Argo CD prunes at the end of the sync (as PruneLast=true).
          if (opts.delivery === 'argocd') {
            prune(c, u.name, new Set(u.waves.flat().map((i) => key(i.obj))));
            if (transition) checkTagsKept(`${u.name} prunes on ${c.name}`);
          }
        }
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
  for (const c of clusters.values()) violations.push(...injectionViolations(c, tags, injectorsOf));
  return {
    violations: [...new Set(violations)],
    stuck,
    log,
    secrets: new Map([...clusters].map(([n, c]) => [n, c.secrets])),
    state: clusters,
  };
}

/** Whether two sources are the same Argo CD Application's (an Application is one applier of its sources). */
function sameUnitSource(a: string, b: string): boolean {
  return a === b;
}

/**
 * The injection rules on a converged cluster: every tag has its webhook, labelled with a revision whose istiod Service
 * exists here (a primary's own, a remote's pointing at its primary) and calling it; no `istio.io/rev` value (nor
 * `istio-injection=enabled`) is selected by two configurations; the gateway's pods are injected by exactly one.
 */
function injectionViolations(
  c: ClusterState,
  tags: readonly string[],
  injectorsOf: (c: ClusterState, pod: Record<string, string>) => { mwc: KObject; hooks: Webhook[] }[],
): string[] {
  const out: string[] = [];
  const mwcs = [...c.objects.values()].filter((o) => o.kind === 'MutatingWebhookConfiguration');
  for (const t of tags) {
    const w = c.objects.get(`MutatingWebhookConfiguration//${TAG_WEBHOOK_PREFIX}${t}`);
    if (!w) {
      out.push(`${c.name}: tag ${t} has no webhook ${TAG_WEBHOOK_PREFIX}${t}`);
      continue;
    }
    const rev = w.metadata.labels?.['istio.io/rev'] ?? 'default';
    const svc = rev === 'default' ? 'istiod' : `istiod-${rev}`;
    if (!c.objects.has(`Service/${NS}/${svc}`)) out.push(`${c.name}: tag ${t} points at revision ${rev}, which is not installed (no Service ${svc})`);
    for (const h of (w.webhooks ?? []) as Webhook[]) {
      if (h.clientConfig?.service?.name !== svc)
        out.push(`${c.name}: ${w.metadata.name} is labelled istio.io/rev=${rev} but ${h.name} calls ${h.clientConfig?.service?.name}`);
    }
  }
  const values = new Set<string>(['default', ...tags]);
  for (const m of mwcs) {
    for (const h of (m.webhooks ?? []) as Webhook[]) {
      for (const e of [...(h.namespaceSelector?.matchExpressions ?? []), ...(h.objectSelector?.matchExpressions ?? [])]) {
        if (e.key === 'istio.io/rev' && e.operator === 'In') for (const v of e.values ?? []) values.add(v);
      }
    }
  }
  const count = (ns: Record<string, string>, pod: Record<string, string>) =>
    mwcs.filter((m) => matchingWebhooks(m, { 'kubernetes.io/metadata.name': 'apps', ...ns }, pod).length > 0).map((m) => m.metadata.name);
  for (const v of [...values].sort()) {
    const byNs = count({ 'istio.io/rev': v }, {});
    if (byNs.length > 1) out.push(`${c.name}: namespaces labelled istio.io/rev=${v} are selected by two webhooks: ${byNs.join(', ')}`);
    const byPod = count({}, { 'istio.io/rev': v });
    if (byPod.length > 1) out.push(`${c.name}: pods labelled istio.io/rev=${v} are selected by two webhooks: ${byPod.join(', ')}`);
  }
  const legacy = count({ 'istio-injection': 'enabled' }, {});
  if (legacy.length > 1) out.push(`${c.name}: namespaces labelled istio-injection=enabled are selected by two webhooks: ${legacy.join(', ')}`);
  for (const o of c.objects.values()) {
    if (o.kind !== 'Deployment' || o.spec?.role !== 'gateway') continue;
    const pod = (o.spec.podLabels as Record<string, string> | undefined) ?? { 'sidecar.istio.io/inject': 'true' };
    const injectors = injectorsOf(c, pod).map((x) => x.mwc.metadata.name);
    const label = pod['istio.io/rev'] ?? '(none)';
    if (injectors.length === 0) out.push(`${c.name}: the gateway ${o.metadata.name}'s istio.io/rev label ${label} resolves to no revision`);
    if (injectors.length > 1)
      out.push(`${c.name}: the gateway ${o.metadata.name} (istio.io/rev ${label}) is injected by two webhooks: ${injectors.join(', ')}`);
  }
  return out;
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
    const unit = `Application ${app.metadata.name}`;
    const valuesRepo = sources.find((s) => s.ref === 'values');
    const items: Item[] = [];
    for (const s of sources) {
      if (s.ref) continue;
      if (s.path !== undefined) {
        for (const o of kustomizeBuild(path.join(workdir, s.path))) items.push({ obj: o, wave: waveOf(o), source: `${unit}: ${s.path}` });
      } else if (s.chart) {
        const values: Record<string, any> = {};
        for (const f of s.helm?.valueFiles ?? []) {
          if (!valuesRepo || !f.startsWith('$values/')) throw new Error(`values file ${f} without a ref: values source`);
          Object.assign(values, parse(fs.readFileSync(path.join(workdir, f.slice('$values/'.length)), 'utf8')));
        }
        const release = s.helm?.releaseName ?? s.chart;
        for (const o of chartObjects(s.chart, release, values, s.targetRevision))
          items.push({ obj: o, wave: waveOf(o), source: `${unit}: chart ${s.chart} (${release})` });
      }
    }
    const waves = [...new Set(items.map((i) => i.wave))].sort((a, b) => a - b).map((w) => items.filter((i) => i.wave === w));
    return { cluster, name: unit, waves, dependsOn: [], wait: true, index: 0, applied: false, done: false };
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
