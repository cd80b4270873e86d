import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { type ISTIO_NAMESPACE, SAIL_REVISION_TAG_MAX_LENGTH, sailRevisionName, sailVersion } from '../topology/model';
import { type HelmValues, sortKeys } from './translate';

/**
 * How Sail moves the control plane to a new `spec.version`. The field names and limits are those of the Istio CRD of
 * sail-operator 1.30.3 (`spec.updateStrategy` in schemas/crds/sail-istio-crd.yaml; `api/v1/istio_types.go:70-99`).
 * @see https://github.com/istio-ecosystem/sail-operator/blob/1.30.3/docs/update-strategy/update-strategy.adoc
 */
export interface SailUpdateStrategy {
  /**
   * `InPlace` updates the control plane in place (the IstioRevision is named like the Istio); `RevisionBased` creates
   * an IstioRevision per version, named `<istio name>-<spec.version, dots as dashes>` (see {@link sailRevisionName}),
   * and keeps an old one while it is in use.
   *
   * An old revision is deleted once its `InUse` condition has been False for the grace period (pkg/revision/prune.go:32-86).
   * It is in use while an IstioRevisionTag's `status.istioRevision` names it, a namespace names it (`istio.io/rev`, or
   * `istio-injection=enabled` for a revision named `default`), or a pod that has not succeeded was injected by it
   * (annotation `istio.io/rev`) or asks for it by label (controllers/istiorevision/istiorevision_controller.go:483-548).
   * Sail prunes nothing for an Istio with `pilot.env.EXTERNAL_ISTIOD=true` (a primary serving remotes), whose
   * revisions may be used on other clusters (controllers/istio/istio_controller.go:93-97).
   * @default 'InPlace'
   */
  readonly type?: 'InPlace' | 'RevisionBased';
  /**
   * Seconds Sail waits, after an old revision's `InUse` condition turned False, before it deletes that IstioRevision
   * (RevisionBased). An integer, 0 or more (CRD `minimum: 0`, int64); Sail's default is 30
   * (`DefaultRevisionDeletionGracePeriodSeconds`, api/v1/istio_types.go:29; applied in `getPruningGracePeriod`,
   * controllers/istio/istio_controller.go:151-161).
   * @default 30 (Sail's)
   */
  readonly inactiveRevisionDeletionGracePeriodSeconds?: number;
  /**
   * Whether Sail should move workloads to the new revision itself (RevisionBased). The field is in the 1.30.3 API, but
   * no controller of sail-operator 1.30.3 reads it (`git grep UpdateWorkloads 1.30.3` finds only the type and its
   * deep copy): workloads move when their namespace or pod label (`istio.io/rev`) or a revision tag changes and the
   * pods restart.
   * @default false
   */
  readonly updateWorkloads?: boolean;
}

/** Re-exported from the model, where topology.yaml's checks use them too. */
export { SAIL_REVISION_TAG_MAX_LENGTH, sailRevisionName, sailVersion };

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
   * `spec.updateStrategy`. With `RevisionBased` the version is required (it names the revision) and no revision may be
   * passed (Sail names it).
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
 * name and is refused with `RevisionBased`, where Sail names each revision after the version ({@link sailRevisionName};
 * the revision of this object is {@link SailIstio.revisionName}). `values.profile` moves to `spec.profile`.
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

  /**
   * The IstioRevision Sail creates for this Istio, which becomes its `status.activeRevisionName`: the name with
   * `InPlace`, {@link sailRevisionName} of the name and `spec.version` with `RevisionBased`. Pods and namespaces name it
   * in `istio.io/rev`, and an {@link SailRevisionTag} can pin it.
   */
  public readonly revisionName: string;

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
    const revisionBased = props.updateStrategy?.type === 'RevisionBased';
    if (revisionBased && !props.version) {
      throw new Error(
        'SailIstio: the RevisionBased update strategy needs the version: Sail names the revision <name>-<spec.version>, and without it the ' +
          "API server's default version would name it",
      );
    }
    const grace = props.updateStrategy?.inactiveRevisionDeletionGracePeriodSeconds;
    if (grace !== undefined && !(Number.isSafeInteger(grace) && grace >= 0)) {
      throw new Error(
        `SailIstio: updateStrategy.inactiveRevisionDeletionGracePeriodSeconds must be a whole number of seconds, 0 or more; got ${grace}`,
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
    if (props.version) spec.version = sailVersion(props.version);
    const profile = props.profile ?? valuesProfile;
    if (profile) spec.profile = profile;
    if (props.updateStrategy) {
      const { type, inactiveRevisionDeletionGracePeriodSeconds, updateWorkloads } = props.updateStrategy;
      const strategy: Record<string, unknown> = {};
      if (type !== undefined) strategy.type = type;
      if (inactiveRevisionDeletionGracePeriodSeconds !== undefined)
        strategy.inactiveRevisionDeletionGracePeriodSeconds = inactiveRevisionDeletionGracePeriodSeconds;
      if (updateWorkloads !== undefined) strategy.updateWorkloads = updateWorkloads;
      spec.updateStrategy = strategy;
    }
    super(scope, id, {
      apiVersion: 'sailoperator.io/v1',
      kind: 'Istio',
      metadata: { name, annotations: props.annotations },
      spec,
    });
    this.revisionName = revisionBased ? sailRevisionName(name, spec.version as string) : name;
  }
}

/** The target of a Sail revision tag (`spec.targetRef`). */
export interface SailRevisionTagTarget {
  /**
   * `Istio`: the tag follows the Istio's active revision (`status.activeRevisionName`), so it moves to the new revision
   * when `spec.version` changes (RevisionBased). `IstioRevision`: the tag stays on that revision (pinned), and keeps it
   * in use, so Sail does not delete it.
   */
  readonly kind: 'Istio' | 'IstioRevision';
  /** The Istio's name, or the IstioRevision's name (e.g. `default-v1-29-2`, see {@link sailRevisionName}). */
  readonly name: string;
}

/** Props of a Sail `IstioRevisionTag`. */
export interface SailRevisionTagProps {
  /** The tag (`metadata.name`): what namespaces and pods put in `istio.io/rev`. */
  readonly tag: string;
  /** The revision it points to. */
  readonly target: SailRevisionTagTarget;
  /**
   * metadata.annotations (e.g. an Argo CD sync wave after the control plane's).
   * @default - none
   */
  readonly annotations?: Record<string, string>;
}

/**
 * A Sail Operator `IstioRevisionTag` (`sailoperator.io/v1`, cluster-scoped): a stable name for sidecar injection
 * (`istio.io/rev=<tag>`) that points at an Istio (its active revision) or at one IstioRevision. Checked against
 * schemas/crds/sail-istiorevisiontag-crd.yaml (sail-operator 1.30.3), which has no CEL rules: `targetRef.kind` is
 * `Istio` or `IstioRevision`, `targetRef.name` 1 to 253 characters.
 *
 * What Sail does with it (sail-operator 1.30.3, controllers/istiorevisiontag/istiorevisiontag_controller.go):
 * - installs its `revisiontags` chart into the revision's namespace with `revisionTags: [<tag>]` (lines 159-187): a
 *   MutatingWebhookConfiguration `istio-revision-tag-<tag>` (`istio-revision-tag-<tag>-<namespace>` outside
 *   istio-system) and a Service `istiod-revision-tag-<tag>` (resources/v1.30.3/charts/revisiontags/templates/
 *   revision-tags-mwc.yaml:43-47, revision-tags-svc.yaml:7);
 * - the tag `default` is special: its webhook also serves `istio-injection=enabled` namespaces and
 *   `sidecar.istio.io/inject=true` pods (revision-tags-mwc.yaml:94-150), and Sail installs the `base` chart for it
 *   (the `istiod-default-validator` ValidatingWebhookConfiguration; controller lines 179-185);
 * - a target that does not exist (yet) is not an error of the object: `Reconciled` is False with reason `RefNotFound`
 *   and Sail retries until it appears (lines 140-155; the NotFound is requeued by pkg/reconciler/reconciler.go:102-104);
 * - a tag named like an existing IstioRevision is refused (`NameAlreadyExists`; the older object wins,
 *   pkg/validation/validation.go:45-53), as is a tag on a `remote`-profile revision (lines 109-111);
 * - status conditions `Reconciled` and `InUse` (no `Ready`), `status.istioRevision` the revision it resolved to
 *   (api/v1/istiorevisiontags_types.go:88-120).
 *
 * The tag keeps its revision in use: Sail never prunes an IstioRevision that a tag's `status.istioRevision` names
 * (controllers/istiorevision/istiorevision_controller.go:487-497).
 */
export class SailRevisionTag extends ApiObject {
  constructor(scope: Construct, id: string, props: SailRevisionTagProps) {
    const { tag, target } = props;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(tag) || tag.length > SAIL_REVISION_TAG_MAX_LENGTH) {
      throw new Error(
        `SailRevisionTag: tag "${tag}" must be lower-case letters, digits and inner dashes, at most ${SAIL_REVISION_TAG_MAX_LENGTH} characters ` +
          '(it is an istio.io/rev label value and names the Service istiod-revision-tag-<tag>)',
      );
    }
    if (target.kind !== 'Istio' && target.kind !== 'IstioRevision') {
      throw new Error(`SailRevisionTag: target kind "${target.kind}" must be Istio or IstioRevision`);
    }
    if (target.name === '' || target.name.length > 253) {
      throw new Error(`SailRevisionTag: target name "${target.name}" must be 1 to 253 characters`);
    }
    if (target.kind === 'IstioRevision' && target.name === tag) {
      throw new Error(`SailRevisionTag: tag "${tag}" has the name of the IstioRevision it targets; Sail refuses a tag named like a revision`);
    }
    super(scope, id, {
      apiVersion: 'sailoperator.io/v1',
      kind: 'IstioRevisionTag',
      metadata: { name: tag, annotations: props.annotations },
      spec: { targetRef: { kind: target.kind, name: target.name } },
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
    const version = props.version ? sailVersion(props.version) : undefined;
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
