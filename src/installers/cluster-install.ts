import { ControlPlane, type ControlPlaneProps } from '../charts/control-plane';
import { EastWestGateway, type EastWestGatewayProps } from '../charts/east-west-gateway';
import { type Cluster, isAmbient, type Mesh, needsEastWestGateway, remotesOf } from '../topology/model';
import { deepMerge } from '../util/records';
import { SAIL_ZTUNNEL_NAMESPACE } from './sail';
import { type HelmValues, type TranslationProblem, translateControlPlane, translateEastWestGateway } from './translate';

/** The Helm values of Istio's charts for one cluster (helm and sail installers), and what could not be translated. */
export interface ClusterHelmValues {
  /** `istio/base` (helm). */
  readonly base?: HelmValues;
  /** `istio/istiod` (helm). */
  readonly istiod?: HelmValues;
  /** `istio/cni` (helm, ambient). */
  readonly cni?: HelmValues;
  /** `istio/ztunnel` (helm, ambient). */
  readonly ztunnel?: HelmValues;
  /** `istio/gateway`, where the cluster has a (sidecar) east-west gateway. */
  readonly gateway?: HelmValues;
  readonly problems: readonly TranslationProblem[];
}

/** What is installed on one cluster, decided from the model: the merged IstioOperators and, with helm and sail, their values. */
export interface ClusterInstall {
  /** The control plane IstioOperator (base.yaml with the cluster's values merged over it). */
  readonly controlPlane: ControlPlaneProps;
  /** The sidecar east-west gateway IstioOperator (gen-eastwest-gateway.sh), where the cluster has one. */
  readonly gateway?: EastWestGatewayProps;
  /** helm and sail: the same install as values of Istio's charts. */
  readonly helm?: ClusterHelmValues;
  /** sail: the values of the Sail `Istio` (the istiod values, plus the trusted ztunnel namespace in ambient mode). */
  readonly sailValues?: HelmValues;
}

/**
 * The install of one cluster: the control plane and gateway IstioOperators as Istio's multicluster guides shape them,
 * translated into Helm values for the helm and sail installers (as `istioctl manifest translate` would). Charts receive
 * this; they do not compute it.
 */
export function clusterInstall(mesh: Mesh, cluster: Cluster, base: Record<string, unknown>, multiRoot = false): ClusterInstall {
  const ambient = isAmbient(mesh);
  const revision = mesh.istio.revision;
  const primary = cluster.role === 'remote' ? mesh.clusters.find((c) => c.name === cluster.primary) : undefined;
  const controlPlane: ControlPlaneProps = {
    base,
    meshID: mesh.meshId,
    clusterName: cluster.name,
    network: cluster.network,
    trustDomain: mesh.trustDomain,
    revision,
    externalIstiod: cluster.role === 'primary' && remotesOf(mesh, cluster).length > 0,
    remote: primary ? { remotePilotAddress: primary.eastWestGateway.address as string } : undefined,
    multiRoot,
    ambient,
  };
  // Ambient meshes use the HBONE Gateway API gateway instead (a manifest, not an IstioOperator).
  const gateway: EastWestGatewayProps | undefined =
    !ambient && needsEastWestGateway(mesh, cluster)
      ? { network: cluster.network, serviceType: cluster.eastWestGateway.serviceType, revision }
      : undefined;
  const installer = mesh.istio.installer;
  if (installer === 'operator') return { controlPlane, gateway };
  // The same install rendered for Istio's charts (helm) or the Sail Operator (sail); the east-west gateway is the gateway
  // chart in both cases (Sail does not manage gateways).
  const cp = translateControlPlane(ControlPlane.spec(controlPlane), { ambient });
  const gw = gateway ? translateEastWestGateway(EastWestGateway.spec(gateway)) : undefined;
  const helm = installer === 'helm';
  return {
    controlPlane,
    gateway,
    helm: {
      base: helm ? cp.base : undefined,
      istiod: helm ? cp.istiod : undefined,
      // Ambient: the CNI node agent and ztunnel, whose cluster name defaults to `Kubernetes` and must be istiod's.
      cni: helm && ambient ? { profile: 'ambient', ...(revision ? { revision } : {}) } : undefined,
      ztunnel:
        helm && ambient
          ? { multiCluster: { clusterName: cluster.name }, global: { network: cluster.network }, ...(revision ? { revision } : {}) }
          : undefined,
      gateway: gw?.gateway,
      problems: [...cp.problems, ...(gw?.problems ?? [])],
    },
    // Sail runs ztunnel in a namespace of its own, which istiod must trust (`trustedZtunnelNamespace`).
    sailValues:
      installer === 'sail' ? (ambient ? deepMerge(cp.istiod, { pilot: { trustedZtunnelNamespace: SAIL_ZTUNNEL_NAMESPACE } }) : cp.istiod) : undefined,
  };
}
