import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { ISTIO_NAMESPACE } from '../topology/model';
import { type HelmValues, sortKeys } from './translate';

/** How Sail moves the control plane to a new `spec.version`. @see https://github.com/istio-ecosystem/sail-operator/blob/main/docs/update-strategy/update-strategy.md */
export interface SailUpdateStrategy {
  /**
   * `InPlace` updates the control plane in place; `RevisionBased` creates a revision per version.
   * @default 'InPlace'
   */
  readonly type?: 'InPlace' | 'RevisionBased';
  /**
   * Seconds before an unused revision is removed (RevisionBased).
   * @default 30
   */
  readonly inactiveRevisionDeletionGracePeriodSeconds?: number;
  /**
   * Whether Sail moves workloads to the new revision itself (RevisionBased).
   * @default false
   */
  readonly updateWorkloads?: boolean;
}

/** Props of a Sail `Istio`. */
export interface SailIstioProps {
  /**
   * `metadata.name`. With the `InPlace` strategy Sail names the control plane revision after it (`default` = no revision).
   * @default - the revision, else 'default'
   */
  readonly name?: string;
  /**
   * The Istio version (`istio.version` of topology.yaml); written `v1.30.3` (a missing `v` is added). The CRD requires it
   * (the API server fills in the operator's default), so leave it out only knowingly: the install then follows the
   * operator's upgrades, and schema checks report the field as missing.
   * @default - the operator's default version
   */
  readonly version?: string;
  /** Where the control plane runs (`spec.namespace`, immutable). */
  readonly namespace: typeof ISTIO_NAMESPACE;
  /**
   * `spec.profile`.
   * @default - the `profile` in the values, else none (Sail's default profile)
   */
  readonly profile?: string;
  /** The istiod chart values (from `translateControlPlane`); `profile` and `revision` in them move to the spec and name. */
  readonly values: HelmValues;
  /**
   * The control plane revision. Sail derives it from the resource name, so it becomes the name.
   * @default - the `revision` in the values, else none
   */
  readonly revision?: string;
  /**
   * `spec.updateStrategy`.
   * @default - Sail's default (InPlace)
   */
  readonly updateStrategy?: SailUpdateStrategy;
  /**
   * metadata.annotations (e.g. the control plane's Argo CD sync wave).
   * @default - none
   */
  readonly annotations?: Record<string, string>;
}

/**
 * A Sail Operator `Istio` (`sailoperator.io/v1`, cluster-scoped): the control plane installed by the Sail Operator from the
 * same istiod chart values as the `helm` installer.
 *
 * Sail computes `values.revision` from the resource name (InPlace: the name, `default` meaning none; RevisionBased:
 * `<name>-<version>`) and overrides whatever the values say (`pkg/istiovalues/overrides.go`), so a revision becomes the
 * name and is refused with `RevisionBased`, where the gateway could not know the revision name. `values.profile` moves to
 * `spec.profile`.
 *
 * Sail installs no gateways ("The Sail Operator does not deploy or manage Gateways"; `spec.components` and
 * `spec.values.gateways` do not work), and recommends gateway injection: a Deployment with `sidecar.istio.io/inject` and
 * `inject.istio.io/templates: gateway`, which is exactly what Istio's `gateway` chart renders. So with `sail` the east-west
 * gateway is the same `gateway` chart release as with `helm` (`IstioGatewayRelease` for Flux,
 * `IstioArgoApplications` with `charts: ['gateway']` for Argo CD), not an IstioOperator (inert without a controller).
 *
 * A plain ApiObject: the class `cdk8s import` generates for this CRD (22k lines) maps the values to camelCase properties
 * and drops every key it does not know (e.g. `global.proxy_init` would vanish), so it cannot carry Helm values through.
 *
 * @see https://github.com/istio-ecosystem/sail-operator/blob/main/docs/deployment-models/multicluster.md
 * @see https://github.com/istio-ecosystem/sail-operator/blob/main/docs/common/create-and-configure-gateways.md
 */
export class SailIstio extends ApiObject {
  /** Output file in the `control-plane/` stage (the same name the `operator` installer uses). */
  public static readonly FILE = 'control-plane.yaml';

  constructor(scope: Construct, id: string, props: SailIstioProps) {
    const values = sortKeys(props.values);
    const valuesRevision = typeof values.revision === 'string' && values.revision !== '' ? values.revision : undefined;
    const valuesProfile = typeof values.profile === 'string' && values.profile !== '' ? values.profile : undefined;
    delete values.revision;
    delete values.profile;
    if (props.revision && valuesRevision && props.revision !== valuesRevision) {
      throw new Error(`SailIstio: revision "${props.revision}" differs from values.revision "${valuesRevision}"; pass the same revision to both`);
    }
    if (props.profile && valuesProfile && props.profile !== valuesProfile) {
      throw new Error(`SailIstio: profile "${props.profile}" differs from values.profile "${valuesProfile}"; pass the same profile to both`);
    }
    const revision = props.revision || valuesRevision;
    const name = props.name ?? revision ?? 'default';
    if (revision && props.updateStrategy?.type === 'RevisionBased') {
      throw new Error(
        `SailIstio: revision "${revision}" cannot be kept with the RevisionBased update strategy, which names revisions <name>-<version>; ` +
          'remove istio.revision from topology.yaml or use InPlace',
      );
    }
    if (revision && name !== revision) {
      throw new Error(`SailIstio: name "${name}" would make Sail use revision "${name}", not "${revision}"; name the Istio resource "${revision}"`);
    }
    const global = values.global as Record<string, unknown> | undefined;
    if (global?.istioNamespace !== undefined && global.istioNamespace !== props.namespace) {
      throw new Error(
        `SailIstio: values.global.istioNamespace "${global.istioNamespace}" must be the namespace "${props.namespace}" (a CEL rule of the CRD)`,
      );
    }
    const spec: Record<string, unknown> = {
      namespace: props.namespace,
      values,
    };
    if (props.version) spec.version = props.version.startsWith('v') ? props.version : `v${props.version}`;
    const profile = props.profile ?? valuesProfile;
    if (profile) spec.profile = profile;
    if (props.updateStrategy) spec.updateStrategy = { ...props.updateStrategy };
    super(scope, id, {
      apiVersion: 'sailoperator.io/v1',
      kind: 'Istio',
      metadata: { name, annotations: props.annotations },
      spec,
    });
  }
}

/** Namespace of the Sail `IstioCNI` (its default; immutable). */
export const SAIL_CNI_NAMESPACE = 'istio-cni';
/** Namespace of the Sail `ZTunnel` (its default); istiod trusts ztunnel from it (`trustedZtunnelNamespace`). */
export const SAIL_ZTUNNEL_NAMESPACE = 'ztunnel';

/** Props of the Sail ambient components. */
export interface SailAmbientProps {
  /** Istio version (`istio.version`). */
  readonly version?: string;
  /** The cluster name (`ztunnel.multiCluster.clusterName`, which defaults to `Kubernetes` and must equal istiod's). */
  readonly clusterName: string;
  /** The cluster's network (`ztunnel.network`). */
  readonly network: string;
  /** Metadata annotations (the Argo CD sync wave). */
  readonly annotations?: Record<string, string>;
}

/**
 * The Sail `IstioCNI` and `ZTunnel` of an ambient cluster (cluster-scoped, each named `default` as the CRDs require):
 * the CNI node agent with the ambient profile in `istio-cni`, and ztunnel in `ztunnel` with the cluster name and network
 * (`spec.values.ztunnel`; `spec.values.global` has neither in the ZTunnel API).
 *
 * @see https://github.com/istio-ecosystem/sail-operator/blob/main/docs/deployment-models/multicluster.adoc
 */
export class SailAmbient extends Construct {
  constructor(scope: Construct, id: string, props: SailAmbientProps) {
    super(scope, id);
    const version = props.version ? (props.version.startsWith('v') ? props.version : `v${props.version}`) : undefined;
    new ApiObject(this, 'IstioCNI', {
      apiVersion: 'sailoperator.io/v1',
      kind: 'IstioCNI',
      metadata: { name: 'default', annotations: props.annotations },
      spec: { ...(version ? { version } : {}), profile: 'ambient', namespace: SAIL_CNI_NAMESPACE },
    });
    new ApiObject(this, 'ZTunnel', {
      apiVersion: 'sailoperator.io/v1',
      kind: 'ZTunnel',
      metadata: { name: 'default', annotations: props.annotations },
      spec: {
        ...(version ? { version } : {}),
        namespace: SAIL_ZTUNNEL_NAMESPACE,
        values: { ztunnel: { multiCluster: { clusterName: props.clusterName }, network: props.network } },
      },
    });
  }
}
