/**
 * The typed, frozen model of a mesh. It decides *what* exists (which clusters get a gateway, which
 * peers get a remote secret); the constructs in `charts/` only decide how it looks.
 */

import type { KeyAlgorithm } from '../pki/keys';

export type { KeyAlgorithm };
export type Role = 'primary' | 'remote';
export type Installer = 'operator' | 'helm' | 'sail';
export type SecretsProvider = 'sealed-secrets' | 'external-secrets';
/** Istio's data plane: sidecars, or ambient (ztunnel and waypoints). */
export type Dataplane = 'sidecar' | 'ambient';

/** One cluster of the mesh (one kube context of topology.yaml). */
export interface Cluster {
  /** The kube context name (the key under `contexts:`). */
  readonly context: string;
  /** Istio `clusterName`, output directory and remote-secret key. */
  readonly name: string;
  /** Istio network. */
  readonly network: string;
  readonly role: Role;
  /** For a remote: the cluster name of the primary that runs its control plane. */
  readonly primary?: string;
  /** API server URL, for the remote secrets other clusters hold. */
  readonly server?: string;
  /** Base64 PEM of the API server CA. */
  readonly certificateAuthorityData?: string;
  readonly eastWestGateway: { readonly address?: string; readonly serviceType: string };
  /** Path of the Sealed Secrets controller certificate, relative to the work directory. */
  readonly sealingCert: string;
  /** external-secrets: the store this cluster reads from and pushes to. */
  readonly secretStore?: SecretStore;
}

/** An External Secrets Operator (Cluster)SecretStore. */
export interface SecretStore {
  readonly kind: 'ClusterSecretStore' | 'SecretStore';
  readonly name: string;
}

/** Where Argo CD and Flux find the repository, and how they apply it. */
export interface GitOps {
  /** Git URL of the repository; without it no Argo CD ApplicationSet is written. */
  readonly repoURL?: string;
  readonly targetRevision: string;
  /** Path of dist/ in the repository, without a trailing slash. */
  readonly path: string;
  readonly project: string;
  /** Argo CD's namespace. */
  readonly namespace: string;
  readonly generator: 'list' | 'clusters';
  /** The Flux GitRepository (namespace flux-system) of the repository. */
  readonly fluxSource: string;
}

/** How new CA keys are made (`pki:` of topology.yaml). */
export interface Pki {
  /** Algorithm of new intermediate CAs and of the new root of a rotation; existing keys keep theirs. */
  readonly keyAlgorithm: KeyAlgorithm;
}

/** The whole mesh, as validated from topology.yaml. */
export interface Mesh {
  readonly meshId: string;
  readonly org?: string;
  readonly trustDomain: string;
  readonly istio: {
    readonly installer: Installer;
    /**
     * The control plane revisions, in topology order: one, or two during a canary upgrade (the first is the current one,
     * the second the canary). `istio.version` + `istio.revision` of topology.yaml are the one-revision shorthand.
     */
    readonly revisions: readonly IstioRevision[];
    /** Revision tags (`istio.tags`), sorted by name; each points at a named revision. */
    readonly tags: readonly RevisionTag[];
    /**
     * What the east-west gateways' `istio.io/rev` names (`istio.gatewayRevision`): a tag or a revision.
     * @default - the `default` tag if there is one, else the only revision
     */
    readonly gatewayRevision?: string;
    /**
     * The revisions are listed as `istio.revisions` (not the shorthand): named, and upgraded side by side. With Sail: one
     * `Istio` with the RevisionBased update strategy; with the shorthand, Sail's default, InPlace.
     */
    readonly revisionBased: boolean;
    readonly hub?: string;
    /** `sidecar` (default) or `ambient`. */
    readonly dataplane: Dataplane;
  };
  readonly secrets: {
    readonly provider: SecretsProvider;
    /** external-secrets: key prefix in the store. */
    readonly prefix: string;
  };
  readonly gitops: GitOps;
  readonly pki: Pki;
  /** Sorted by name. */
  readonly clusters: readonly Cluster[];
  /** Sorted, distinct. */
  readonly networks: readonly string[];
}

/** One control plane revision (`istio.io/rev`) and the Istio version it runs. */
export interface IstioRevision {
  /** The revision name, or undefined for the unrevisioned control plane (`istiod`, label `istio.io/rev: default`). */
  readonly name?: string;
  /** The Istio version (chart version for helm, `spec.version` for sail); undefined: not pinned. */
  readonly version?: string;
}

/** A revision tag: namespaces labelled `istio.io/rev=<name>` are injected by the tagged revision. */
export interface RevisionTag {
  readonly name: string;
  /** The revision's name. */
  readonly revision: string;
}

/** The tag that also serves `istio-injection=enabled` namespaces and `sidecar.istio.io/inject=true` pods. */
export const DEFAULT_TAG = 'default';

/** The namespace Istio's control plane and every object meshgen writes live in. */
export const ISTIO_NAMESPACE = 'istio-system';
/** The reader service account whose token peers use (istioctl create-remote-secret's default). */
export const READER_SERVICE_ACCOUNT = 'istio-reader-service-account';
/** Name of the token Secret `istioctl create-remote-secret` creates on Kubernetes 1.24+. */
export const READER_TOKEN_SECRET = `${READER_SERVICE_ACCOUNT}-istio-remote-secret-token`;

/** True when the mesh spans more than one network. */
export function isMultiNetwork(mesh: Mesh): boolean {
  return mesh.networks.length > 1;
}

/** The clusters whose control plane this primary runs (remotes pointing at it). */
export function remotesOf(mesh: Mesh, cluster: Cluster): Cluster[] {
  return mesh.clusters.filter((c) => c.role === 'remote' && c.primary === cluster.name);
}

/**
 * Whether the cluster gets the east-west gateway: every primary of a multi-network mesh, every primary that serves
 * remotes (istiod is reached through it), and every remote on another network than its primary. A remote on its
 * primary's network needs none: Istio's same-network primary-remote guide installs none on it, and the other networks
 * reach its endpoints through the gateways of that network.
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/primary-remote/
 * @see https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/
 */
export function needsEastWestGateway(mesh: Mesh, cluster: Cluster): boolean {
  // Ambient: multi-primary only; each cluster of a multi-network mesh gets the HBONE east-west Gateway.
  if (isAmbient(mesh)) return isMultiNetwork(mesh);
  if (cluster.role === 'remote') {
    const primary = mesh.clusters.find((c) => c.name === cluster.primary);
    return isMultiNetwork(mesh) && primary !== undefined && primary.network !== cluster.network;
  }
  return isMultiNetwork(mesh) || remotesOf(mesh, cluster).length > 0;
}

/**
 * Whether the cluster exposes its services to other networks (`cross-network-gateway`): primaries of a multi-network
 * sidecar mesh (ambient meshes expose them through the HBONE east-west Gateway instead).
 */
export function needsCrossNetworkGateway(mesh: Mesh, cluster: Cluster): boolean {
  return !isAmbient(mesh) && isMultiNetwork(mesh) && cluster.role === 'primary';
}

/** True for a mesh on Istio's ambient data plane. */
export function isAmbient(mesh: Mesh): boolean {
  return mesh.istio.dataplane === 'ambient';
}

/** The peers a cluster holds remote secrets for: on a primary every other cluster; remotes hold none. */
export function remoteSecretPeers(mesh: Mesh, cluster: Cluster): Cluster[] {
  if (cluster.role !== 'primary') return [];
  return mesh.clusters.filter((c) => c.name !== cluster.name);
}

/** Name of the remote secret for `peer`, as `istioctl create-remote-secret --name <peer>` writes it. */
export function remoteSecretName(peer: string): string {
  return `istio-remote-secret-${peer}`;
}

/** The revision a tag or revision name resolves to, or undefined. */
export function revisionByTagOrName(mesh: Mesh, tagOrRevision: string | undefined): IstioRevision | undefined {
  const revs = mesh.istio.revisions;
  if (tagOrRevision === undefined) return revs.length === 1 ? revs[0] : undefined;
  const tag = mesh.istio.tags.find((t) => t.name === tagOrRevision);
  const name = tag ? tag.revision : tagOrRevision;
  return revs.find((r) => r.name === name);
}

/**
 * What the east-west gateways run on: the `istio.io/rev` label their pods carry (`revision` of the gateway chart; a tag
 * or a revision, undefined for the unrevisioned control plane) and the revision that label resolves to, whose version
 * the gateway chart takes.
 */
export function gatewayRevisionOf(mesh: Mesh): { readonly label?: string; readonly revision: IstioRevision } {
  const { gatewayRevision, tags, revisions } = mesh.istio;
  const label = gatewayRevision ?? (tags.some((t) => t.name === DEFAULT_TAG) ? DEFAULT_TAG : revisions[0].name);
  const revision = revisionByTagOrName(mesh, label) ?? revisions[0];
  return { label, revision };
}

/**
 * The revision the base chart's `defaultRevision` names (its `istiod-default-validator` webhook validates Istio config
 * through it): the one the `default` tag points at, else the first (current) revision. Undefined when unrevisioned.
 */
export function defaultRevisionOf(mesh: Mesh): string | undefined {
  const tag = mesh.istio.tags.find((t) => t.name === DEFAULT_TAG);
  return tag ? tag.revision : mesh.istio.revisions[0].name;
}

/** The newest version among the revisions (the base chart's CRDs must be the newest), or undefined if one is not pinned. */
export function newestVersion(mesh: Mesh): string | undefined {
  let newest: string | undefined;
  for (const r of mesh.istio.revisions) {
    if (r.version === undefined) return undefined;
    if (newest === undefined || compareVersions(r.version, newest) > 0) newest = r.version;
  }
  return newest;
}

/** Compares two Istio versions (`1.30.3`, `v1.30.3`, `1.30.0-beta.1`) by their numeric parts; a pre-release sorts first. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core, pre] = v.replace(/^v/, '').split('-', 2);
    return { nums: core.split('.').map((n) => Number.parseInt(n, 10) || 0), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}

/** `spec.version` as meshgen writes it in Sail resources: with the leading `v` the Sail CRDs' version enum wants. */
export function sailVersion(version: string): string {
  return version.startsWith('v') ? version : `v${version}`;
}

/**
 * The name Sail gives the IstioRevision of an Istio with the `RevisionBased` update strategy, exactly as Sail computes
 * it: `<istio name>-<spec.version with every "." replaced by "-">`, the version as written (a `v` is kept, none is
 * added; an alias such as `v1.30-latest` stays an alias). sail-operator 1.30.3, `getActiveRevisionName` in
 * controllers/istio/istio_controller.go:178-192 (`istio.Name + "-" + strings.ReplaceAll(istio.Spec.Version, ".", "-")`),
 * tested by `TestGetActiveRevisionName` in controllers/istio/istio_controller_test.go:813-867.
 *
 * meshgen writes `spec.version` with a `v` (`sailVersion`), so the revision of topology version `1.30.3` is
 * `sailRevisionName('default', sailVersion('1.30.3'))` = `default-v1-30-3` (as Sail's docs show `default-v1-25-3`),
 * not `sailRevisionName('default', '1.30.3')` = `default-1-30-3`.
 */
export function sailRevisionName(istioName: string, version: string): string {
  return `${istioName}-${version.replaceAll('.', '-')}`;
}

/** The longest Sail tag whose Service `istiod-revision-tag-<tag>` is still a valid Service name (63 characters). */
export const SAIL_REVISION_TAG_MAX_LENGTH = 63 - 'istiod-revision-tag-'.length;

/** The name of the Sail `Istio` resource meshgen writes (Sail names its revisions after it). */
export const SAIL_ISTIO_NAME = 'default';

/** The IstioRevision Sail runs for a version under the RevisionBased strategy: `default-v1-30-3`. */
export function sailRevisionFor(version: string): string {
  return sailRevisionName(SAIL_ISTIO_NAME, sailVersion(version));
}
