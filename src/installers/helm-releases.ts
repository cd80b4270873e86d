import { Construct } from 'constructs';
import {
  HelmRelease,
  HelmReleaseSpecChartSpecSourceRefKind,
  HelmReleaseSpecInstallCrds,
  HelmReleaseSpecUpgradeCrds,
} from '../../imports/helm.toolkit.fluxcd.io';
import { HelmRepository } from '../../imports/source.toolkit.fluxcd.io';
import { ISTIO_NAMESPACE } from '../topology/model';
import { type HelmValues, sortKeys } from './translate';

/** Istio's Helm repository. @see https://istio.io/latest/docs/setup/install/helm/ */
export const ISTIO_HELM_REPOSITORY_URL = 'https://istio-release.storage.googleapis.com/charts';

/** The Istio charts meshgen installs: `istio/base`, `istio/istiod`, `istio/cni` and `istio/ztunnel` (ambient), `istio/gateway`. */
export type IstioChart = 'base' | 'istiod' | 'cni' | 'ztunnel' | 'gateway';

/** The charts in install order. */
export const ISTIO_CHARTS: readonly IstioChart[] = ['base', 'istiod', 'cni', 'ztunnel', 'gateway'];

/**
 * The Helm release name of a chart, as Istio's guides name them: `istio-base`, `istiod` (`istiod-<revision>` for a
 * revisioned control plane, as in the canary upgrade guide) and `istio-eastwestgateway`.
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/multi-primary_multi-network/
 * @see https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended
 */
export function istioReleaseName(chart: IstioChart, revision?: string): string {
  switch (chart) {
    case 'base':
      return 'istio-base';
    case 'istiod':
      return revision ? `istiod-${revision}` : 'istiod';
    case 'cni':
      return 'istio-cni';
    case 'ztunnel':
      return 'ztunnel';
    case 'gateway':
      return 'istio-eastwestgateway';
  }
}

/** The chart version of an Istio version: Istio's charts are versioned `1.30.3`, so a leading `v` is dropped. */
export function istioChartVersion(version: string | undefined): string | undefined {
  if (version === undefined || version === '') return undefined;
  return version.startsWith('v') ? version.slice(1) : version;
}

/** The revision the values carry, checked against the one given; throws when they differ. */
export function resolveRevision(revision: string | undefined, values: HelmValues, what: string): string | undefined {
  const fromValues = typeof values.revision === 'string' && values.revision !== '' ? values.revision : undefined;
  if (revision !== undefined && revision !== '' && fromValues !== undefined && fromValues !== revision) {
    throw new Error(`${what}: revision "${revision}" differs from the values' revision "${fromValues}"; pass the same revision to both`);
  }
  return revision || fromValues;
}

/** Props shared by the Flux objects of an Istio Helm install. */
export interface IstioHelmReleaseOptions {
  /**
   * The chart version (`istio.version` of topology.yaml; a leading `v` is dropped).
   * @default - the latest chart in the repository
   */
  readonly version?: string;
  /**
   * The control plane revision; names the istiod release `istiod-<revision>`.
   * @default - the `revision` in the istiod (or gateway) values, else none
   */
  readonly revision?: string;
}

/** Props of the control plane releases. */
export interface IstioControlPlaneReleasesProps extends IstioHelmReleaseOptions {
  /** Values of the `base` chart (from `translateControlPlane`). */
  readonly base: HelmValues;
  /**
   * Values of the `istiod` chart (from `translateControlPlane`), for one revision.
   * @default - `istiods`
   */
  readonly istiod?: HelmValues;
  /**
   * One istiod release per revision (a canary upgrade), each with its own chart version. Overrides `istiod`.
   * @default - [{ values: istiod, revision, version }]
   */
  readonly istiods?: readonly IstiodRelease[];
  /**
   * The base chart's version: the newest revision's, as its CRDs serve every revision.
   * @default - version
   */
  readonly baseVersion?: string;
  /**
   * Ambient: values of the `cni` chart.
   * @default - no CNI release (sidecar data plane)
   */
  readonly cni?: HelmValues;
  /**
   * Ambient: values of the `ztunnel` chart.
   * @default - no ztunnel release (sidecar data plane)
   */
  readonly ztunnel?: HelmValues;
}

/** The istiod release of one revision. */
export interface IstiodRelease {
  /** The revision (`istiod-<revision>`); undefined for `istiod`. */
  readonly revision?: string;
  /** The chart version. @default - the latest chart */
  readonly version?: string;
  readonly values: HelmValues;
}

/** Props of the east-west gateway release. */
export interface IstioGatewayReleaseProps extends IstioHelmReleaseOptions {
  /** Values of the `gateway` chart (from `translateEastWestGateway`). */
  readonly gateway: HelmValues;
  /**
   * The control plane is not a HelmRelease (the Sail Operator installs it): bring the HelmRepository along and do
   * not depend on an istiod release (the Flux Kustomizations order the stages instead).
   * @default false
   */
  readonly withoutIstiodRelease?: boolean;
  /**
   * The revision whose istiod release the gateway waits for (`dependsOn`), when the gateway runs on a tag.
   * @default - the revision (or the gateway values' revision)
   */
  readonly istiodRevision?: string;
}

/** Props of all the Flux objects of an Istio Helm install. */
export interface IstioHelmReleasesProps extends IstioHelmReleaseOptions {
  /**
   * Values of the `base` chart (with `istiod`).
   * @default - no control plane release: it is installed otherwise (the Sail Operator)
   */
  readonly base?: HelmValues;
  /**
   * Values of the `istiod` chart (with `base`).
   * @default - no control plane release
   */
  readonly istiod?: HelmValues;
  /**
   * Values of the `gateway` chart, for a cluster that gets the east-west gateway.
   * @default - no gateway release
   */
  readonly gateway?: HelmValues;
}

/** Name of the Flux HelmRepository of Istio's charts. */
export const ISTIO_HELM_REPOSITORY = 'istio';
const INTERVAL = '10m';

/**
 * The `control-plane/` stage of a cluster installed with Helm through Flux: the `HelmRepository` of Istio's charts and the
 * `HelmRelease`s `istio-base` and `istiod` (which `dependsOn` istio-base), with the translated values inline.
 *
 * Every object lives in `istio-system`, like everything else meshgen writes: the releases are stored where
 * `helm install -n istio-system` stores them (`helm list -n istio-system` shows them), and no object refers to another
 * namespace, so it works with Flux's multi-tenancy lockdown (`--no-cross-namespace-refs`). The namespace exists by then: it
 * is created in the `secrets/` stage, on which this stage `dependsOn`.
 *
 * The base chart templates its CRDs since 1.24 (`base.enableCRDTemplates`); `install.crds: Create` and
 * `upgrade.crds: CreateReplace` also keep CRDs of older charts (shipped in `crds/`) up to date. Flux drift detection stays
 * off (its default), as istiod patches its own webhook configurations (failurePolicy, caBundle).
 *
 * @see https://fluxcd.io/flux/components/helm/helmreleases/
 * @see https://istio.io/latest/docs/setup/install/helm/
 */
export class IstioControlPlaneReleases extends Construct {
  /** Output file in the `control-plane/` stage (the same name the `operator` installer uses). */
  public static readonly FILE = 'control-plane.yaml';

  /** The istiod HelmRelease name (`istiod` or `istiod-<revision>`), for `dependsOn`. */
  public readonly istiodReleaseName: string;

  constructor(scope: Construct, id: string, props: IstioControlPlaneReleasesProps) {
    super(scope, id);
    const istiods = props.istiods ?? (props.istiod ? [{ values: props.istiod, revision: props.revision, version: props.version }] : []);
    if (istiods.length === 0) throw new Error('IstioControlPlaneReleases: pass istiod values (or istiods)');
    const names = istiods.map((r) => istioReleaseName('istiod', resolveRevision(r.revision, r.values, 'IstioControlPlaneReleases')));
    this.istiodReleaseName = names[0];
    istioHelmRepository(this);
    istioHelmRelease(this, 'Base', {
      chart: 'base',
      name: istioReleaseName('base'),
      values: props.base,
      version: props.baseVersion ?? props.version,
    });
    // One release per revision; each waits for the base chart, whose CRDs are the newest revision's.
    istiods.forEach((r, i) => {
      istioHelmRelease(this, i === 0 ? 'Istiod' : `Istiod-${names[i]}`, {
        chart: 'istiod',
        name: names[i],
        values: r.values,
        version: r.version,
        dependsOn: istioReleaseName('base'),
      });
    });
    // Ambient: the CNI node agent and ztunnel after the base chart (Istio's ambient Helm guide installs them after it).
    for (const chart of ['cni', 'ztunnel'] as const) {
      const values = props[chart];
      if (values)
        istioHelmRelease(this, chart, { chart, name: istioReleaseName(chart), values, version: props.version, dependsOn: istioReleaseName('base') });
    }
  }
}

/**
 * The `post-install/` stage's east-west gateway installed with Helm through Flux: the `HelmRelease`
 * `istio-eastwestgateway` of the `gateway` chart (`dependsOn` istiod, whose injector renders the gateway pods), in
 * `istio-system`, using the HelmRepository of {@link IstioControlPlaneReleases}.
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/multi-primary_multi-network/#install-the-east-west-gateway-in-cluster1
 */
export class IstioGatewayRelease extends Construct {
  /** Output file in the `post-install/` stage (the same name the `operator` installer uses). */
  public static readonly FILE = 'eastwest-gateway.yaml';

  constructor(scope: Construct, id: string, props: IstioGatewayReleaseProps) {
    super(scope, id);
    const revision = resolveRevision(props.revision, props.gateway, 'IstioGatewayRelease');
    if (props.withoutIstiodRelease) istioHelmRepository(this);
    istioHelmRelease(this, 'Resource', {
      chart: 'gateway',
      name: istioReleaseName('gateway'),
      values: props.gateway,
      version: props.version,
      dependsOn: props.withoutIstiodRelease ? undefined : istioReleaseName('istiod', props.istiodRevision ?? revision),
    });
  }
}

/**
 * Every Flux object of a cluster's Istio Helm install, in one directory that a Flux Kustomization applies after the
 * secrets: the HelmRepository, `istio-base` and `istiod` (helm installer), and `istio-eastwestgateway` (which
 * `dependsOn` istiod, or stands alone when the Sail Operator installs the control plane).
 */
export class IstioHelmReleases extends Construct {
  /** HelmRepository, `istio-base` and `istiod`; undefined without base and istiod values. */
  public readonly controlPlane?: IstioControlPlaneReleases;
  /** `istio-eastwestgateway`; undefined without gateway values. */
  public readonly gateway?: IstioGatewayRelease;

  constructor(scope: Construct, id: string, props: IstioHelmReleasesProps) {
    super(scope, id);
    const { base, istiod, gateway, version } = props;
    if ((base === undefined) !== (istiod === undefined)) throw new Error('IstioHelmReleases: pass both base and istiod values, or neither');
    const revision = istiod ? resolveRevision(props.revision, istiod, 'IstioHelmReleases') : props.revision;
    if (base && istiod) this.controlPlane = new IstioControlPlaneReleases(this, 'ControlPlane', { base, istiod, version, revision });
    if (gateway) {
      this.gateway = new IstioGatewayRelease(this, 'Gateway', { gateway, version, revision, withoutIstiodRelease: this.controlPlane === undefined });
    }
  }
}

interface ReleaseOptions {
  readonly chart: IstioChart;
  readonly name: string;
  readonly values: HelmValues;
  readonly version?: string;
  readonly dependsOn?: string;
}

function istioHelmRelease(scope: Construct, id: string, o: ReleaseOptions): HelmRelease {
  const crds = o.chart === 'base';
  const values = sortKeys(o.values);
  return new HelmRelease(scope, id, {
    metadata: { name: o.name, namespace: ISTIO_NAMESPACE },
    spec: {
      interval: INTERVAL,
      releaseName: o.name,
      chart: {
        spec: {
          chart: o.chart,
          version: istioChartVersion(o.version),
          sourceRef: { kind: HelmReleaseSpecChartSpecSourceRefKind.HELM_REPOSITORY, name: ISTIO_HELM_REPOSITORY },
        },
      },
      dependsOn: o.dependsOn ? [{ name: o.dependsOn }] : undefined,
      install: { crds: crds ? HelmReleaseSpecInstallCrds.CREATE : undefined, remediation: { retries: 3 } },
      upgrade: { crds: crds ? HelmReleaseSpecUpgradeCrds.CREATE_REPLACE : undefined, remediation: { retries: 3 } },
      values: Object.keys(values).length > 0 ? values : undefined,
    },
  });
}

/** The HelmRepository `istio` of Istio's charts, in istio-system. */
function istioHelmRepository(scope: Construct): HelmRepository {
  return new HelmRepository(scope, 'Repository', {
    metadata: { name: ISTIO_HELM_REPOSITORY, namespace: ISTIO_NAMESPACE },
    spec: { url: ISTIO_HELM_REPOSITORY_URL, interval: '1h' },
  });
}
