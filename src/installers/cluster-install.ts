import { ControlPlane, type ControlPlaneProps } from '../charts/control-plane';
import { EastWestGateway, type EastWestGatewayProps } from '../charts/east-west-gateway';
import {
  type Cluster,
  defaultRevisionOf,
  gatewayRevisionOf,
  type IstioRevision,
  isAmbient,
  type Mesh,
  needsEastWestGateway,
  newestVersion,
  remotesOf,
} from '../topology/model';
import { deepMerge } from '../util/records';
import { SAIL_ZTUNNEL_NAMESPACE } from './sail';
import { type HelmValues, type TranslationProblem, translateControlPlane, translateEastWestGateway } from './translate';

/** The values of one istiod release (one control plane revision) and the chart version it takes. */
export interface IstiodValues {
  /** The revision (`istiod-<revision>` release), or undefined for the unrevisioned `istiod`. */
  readonly revision?: string;
  /** The chart version; undefined: not pinned. */
  readonly version?: string;
  readonly values: HelmValues;
}

/** The Helm values of Istio's charts for one cluster (helm and sail installers), and what could not be translated. */
export interface ClusterHelmValues {
  /** `istio/base` (helm), whose `defaultRevision` is the `default` tag's revision. */
  readonly base?: HelmValues;
  /** The base chart's version: the newest of the revisions (its CRDs serve every revision). */
  readonly baseVersion?: string;
  /** `istio/istiod` (helm): one release per revision, in topology order. */
  readonly istiods?: readonly IstiodValues[];
  /** `istio/cni` (helm, ambient). */
  readonly cni?: HelmValues;
  /** `istio/ztunnel` (helm, ambient). */
  readonly ztunnel?: HelmValues;
  /** `istio/gateway`, where the cluster has a (sidecar) east-west gateway. */
  readonly gateway?: HelmValues;
  /** The gateway chart's version: the version of the revision its tag or revision resolves to. */
  readonly gatewayVersion?: string;
  /** The istiod release the gateway waits for (Flux `dependsOn`): that of the revision it resolves to. */
  readonly gatewayRevision?: string;
  readonly problems: readonly TranslationProblem[];
}

/** The control plane of one revision on one cluster. */
export interface RevisionInstall {
  readonly revision: IstioRevision;
  /** The control plane IstioOperator of this revision (base.yaml with the cluster's values merged over it). */
  readonly controlPlane: ControlPlaneProps;
}

/** What is installed on one cluster, decided from the model: the merged IstioOperators and, with helm and sail, their values. */
export interface ClusterInstall {
  /** The control plane IstioOperator of the first (current) revision. */
  readonly controlPlane: ControlPlaneProps;
  /** One control plane per revision, in topology order (the first is {@link controlPlane}). */
  readonly revisions: readonly RevisionInstall[];
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
  const primary = cluster.role === 'remote' ? mesh.clusters.find((c) => c.name === cluster.primary) : undefined;
  const controlPlaneOf = (revision: string | undefined): ControlPlaneProps => ({
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
  });
  const revisions = mesh.istio.revisions.map((revision): RevisionInstall => ({ revision, controlPlane: controlPlaneOf(revision.name) }));
  const controlPlane = revisions[0].controlPlane;
  // The gateways run on a tag or a revision (their pods' istio.io/rev) and take the version of the revision it resolves to.
  const onGateway = gatewayRevisionOf(mesh);
  // Ambient meshes use the HBONE Gateway API gateway instead (a manifest, not an IstioOperator).
  const gateway: EastWestGatewayProps | undefined =
    !ambient && needsEastWestGateway(mesh, cluster)
      ? { network: cluster.network, serviceType: cluster.eastWestGateway.serviceType, revision: onGateway.label }
      : undefined;
  const installer = mesh.istio.installer;
  if (installer === 'operator') return { controlPlane, revisions, gateway };
  // The same install rendered for Istio's charts (helm) or the Sail Operator (sail); the east-west gateway is the gateway
  // chart in both cases (Sail does not manage gateways).
  const translations = revisions.map((r) => ({ r, cp: translateControlPlane(ControlPlane.spec(r.controlPlane), { ambient }) }));
  const cp = translations[0].cp;
  const gw = gateway ? translateEastWestGateway(EastWestGateway.spec(gateway)) : undefined;
  const helm = installer === 'helm';
  const revision = revisions[0].revision.name;
  // One base chart for every revision: its default validating webhook goes to the default tag's revision.
  const defaultRevision = defaultRevisionOf(mesh);
  const baseValues = helm ? (defaultRevision ? { ...cp.base, defaultRevision } : cp.base) : undefined;
  return {
    controlPlane,
    revisions,
    gateway,
    helm: {
      base: baseValues,
      baseVersion: newestVersion(mesh),
      istiods: helm ? translations.map(({ r, cp: t }) => ({ revision: r.revision.name, version: r.revision.version, values: t.istiod })) : undefined,
      // Ambient: the CNI node agent and ztunnel, whose cluster name defaults to `Kubernetes` and must be istiod's.
      cni: helm && ambient ? { profile: 'ambient', ...(revision ? { revision } : {}) } : undefined,
      ztunnel:
        helm && ambient
          ? { multiCluster: { clusterName: cluster.name }, global: { network: cluster.network }, ...(revision ? { revision } : {}) }
          : undefined,
      gateway: gw?.gateway,
      gatewayVersion: gw ? onGateway.revision.version : undefined,
      gatewayRevision: gw ? onGateway.revision.name : undefined,
      problems: [...translations.flatMap((t) => t.cp.problems), ...(gw?.problems ?? [])],
    },
    // Sail runs ztunnel in a namespace of its own, which istiod must trust (`trustedZtunnelNamespace`).
    sailValues:
      installer === 'sail' ? (ambient ? deepMerge(cp.istiod, { pilot: { trustedZtunnelNamespace: SAIL_ZTUNNEL_NAMESPACE } }) : cp.istiod) : undefined,
  };
}
