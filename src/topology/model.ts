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
    readonly version?: string;
    readonly revision?: string;
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
