import { Construct } from 'constructs';
import { ISTIO_NAMESPACE } from '../topology/model';
import { deepMerge, isRecord } from '../util/records';
import { IstioOperator } from './istio-operator';
import { SyncWave, syncWave } from './sync-waves';

/** Props of a cluster's control plane install. */
export interface ControlPlaneProps {
  /** `spec` of base.yaml, shared by every cluster. */
  readonly base: Record<string, unknown>;
  /** `values.global.meshID`. */
  readonly meshID: string;
  /** `values.global.multiCluster.clusterName`. */
  readonly clusterName: string;
  /** `values.global.network`. */
  readonly network: string;
  /**
   * `meshConfig.trustDomain`: the mesh trust domain (topology.yaml `trustDomain`).
   * @default - Istio's default, cluster.local
   */
  readonly trustDomain?: string;
  /**
   * `spec.revision`: the control plane's revision.
   * @default - no revision
   */
  readonly revision?: string;
  /**
   * A primary that runs the control plane of remote clusters: `values.global.externalIstiod: true`.
   * @default false
   */
  readonly externalIstiod?: boolean;
  /**
   * A root CA rotation is under way: `values.pilot.env.ISTIO_MULTIROOT_MESH` and the proxies' `PROXY_CONFIG_XDS_AGENT`,
   * so istiod and the proxies trust every root of `root-cert.pem`.
   * @default false
   * @see https://istio.io/latest/docs/reference/commands/pilot-discovery/#envvars
   */
  readonly multiRoot?: boolean;
  /**
   * Istio's ambient data plane: `profile: ambient`, `AMBIENT_ENABLE_MULTI_NETWORK` on istiod, and the profile's rule that
   * makes services labelled `istio.io/global: "true"` global kept in `meshConfig.serviceScopeConfigs`.
   * @default false
   */
  readonly ambient?: boolean;
  /**
   * metadata.name of the IstioOperator.
   * @default ControlPlane.nameOf(revision)
   */
  readonly name?: string;
  /**
   * For a remote cluster: `profile: remote`, with the address of its primary's istiod.
   * @default - a primary
   */
  readonly remote?: {
    /** `values.global.remotePilotAddress`: the primary's east-west gateway address. */
    readonly remotePilotAddress: string;
  };
}

/**
 * The control plane IstioOperator of one cluster: base.yaml with the cluster's meshID, clusterName and
 * network merged over it (the generated values win). A primary serving remotes sets `externalIstiod`; a remote
 * uses `profile: remote`, the injection path of its cluster and network, and its primary's address.
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/multi-primary_multi-network/
 * @see https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/
 */
export class ControlPlane extends Construct {
  public static readonly FILE = 'control-plane.yaml';
  /** metadata.name of the IstioOperator. */
  public static readonly NAME = 'control-plane';

  /** The IstioOperator of a revision: `control-plane-<revision>`, or `control-plane` for the unrevisioned control plane. */
  public static nameOf(this: void, revision: string | undefined): string {
    return revision ? `${ControlPlane.NAME}-${revision}` : ControlPlane.NAME;
  }

  /** The IstioOperator spec of the control plane: base.yaml with the cluster's values merged over it. */
  public static spec(props: ControlPlaneProps): Record<string, unknown> {
    const global: Record<string, unknown> = {
      meshID: props.meshID,
      multiCluster: { clusterName: props.clusterName },
      network: props.network,
    };
    const values: Record<string, unknown> = { global };
    const overlay: Record<string, unknown> = { values };
    if (props.revision) overlay.revision = props.revision;
    if (props.trustDomain) overlay.meshConfig = { trustDomain: props.trustDomain };
    if (props.externalIstiod) global.externalIstiod = true;
    if (props.multiRoot) {
      values.pilot = { env: { ISTIO_MULTIROOT_MESH: 'true' } };
      overlay.meshConfig = { ...(overlay.meshConfig as object), defaultConfig: { proxyMetadata: { PROXY_CONFIG_XDS_AGENT: 'true' } } };
    }
    if (props.remote) {
      overlay.profile = 'remote';
      global.remotePilotAddress = props.remote.remotePilotAddress;
      values.istiodRemote = { injectionPath: remoteInjectionPath({ name: props.clusterName, network: props.network }) };
    }
    if (props.ambient) overlay.profile = 'ambient';
    const merged = deepMerge(props.base, overlay);
    return props.ambient ? withAmbient(merged) : merged;
  }

  constructor(scope: Construct, id: string, props: ControlPlaneProps) {
    super(scope, id);
    new IstioOperator(this, 'Resource', {
      name: props.name ?? ControlPlane.nameOf(props.revision),
      namespace: ISTIO_NAMESPACE,
      annotations: syncWave(SyncWave.CONTROL_PLANE),
      spec: ControlPlane.spec(props),
    });
  }
}

/** The path a remote cluster's injection webhook calls on its primary's istiod (`istiodRemote.injectionPath`). */
export function remoteInjectionPath(cluster: { readonly name: string; readonly network: string }): string {
  return `/inject/cluster/${cluster.name}/net/${cluster.network}`;
}

/** The env var istiod needs for any ambient multicluster mesh (`pilot/pkg/features/ambient.go`). */
export const AMBIENT_MULTI_NETWORK_ENV = 'AMBIENT_ENABLE_MULTI_NETWORK';

/**
 * The rule of Istio's ambient profile (`manifests/helm-profiles/ambient.yaml`) that makes a Service global when it is
 * labelled `istio.io/global: "true"`; unmatched services stay local to their cluster.
 */
export const AMBIENT_GLOBAL_SERVICE_RULE = {
  servicesSelector: { matchExpressions: [{ key: 'istio.io/global', operator: 'In', values: ['true'] }] },
  scope: 'GLOBAL',
} as const;

/**
 * An IstioOperator spec made ambient-multicluster: `AMBIENT_ENABLE_MULTI_NETWORK=true` added to istiod's env (as the
 * ambient multicluster guide's `components.pilot.k8s.env`; base.yaml's other env vars kept), and the global-service
 * rule in `meshConfig.serviceScopeConfigs`: Helm replaces lists, so a list set in base.yaml would drop the profile's
 * rule; it is appended unless base.yaml has it already.
 *
 * @see https://istio.io/latest/docs/ambient/install/multicluster/multi-primary_multi-network/
 */
function withAmbient(spec: Record<string, unknown>): Record<string, unknown> {
  const rec = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});
  const components = rec(spec.components);
  const pilot = rec(components.pilot);
  const k8s = rec(pilot.k8s);
  const env = (Array.isArray(k8s.env) ? k8s.env : []).filter((e) => rec(e).name !== AMBIENT_MULTI_NETWORK_ENV);
  const meshConfig = rec(spec.meshConfig);
  const rules = Array.isArray(meshConfig.serviceScopeConfigs) ? meshConfig.serviceScopeConfigs : undefined;
  const hasRule = rules?.some((r) => JSON.stringify(r) === JSON.stringify(AMBIENT_GLOBAL_SERVICE_RULE));
  return {
    ...spec,
    components: { ...components, pilot: { ...pilot, k8s: { ...k8s, env: [...env, { name: AMBIENT_MULTI_NETWORK_ENV, value: 'true' }] } } },
    meshConfig: {
      ...meshConfig,
      serviceScopeConfigs: hasRule ? rules : [...(rules ?? []), structuredClone(AMBIENT_GLOBAL_SERVICE_RULE)],
    },
  };
}
