import { ApiObject, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { type ClusterHelmValues, type ClusterInstall, clusterInstall } from '../installers/cluster-install';
import { SAIL_CNI_NAMESPACE, SAIL_ZTUNNEL_NAMESPACE, SailAmbient, SailIstio, type SailIstioProps, SailRevisionTag } from '../installers/sail';
import { HEADER } from '../output/render';
import {
  type Cluster,
  ISTIO_NAMESPACE,
  isAmbient,
  isMultiNetwork,
  type Mesh,
  needsCrossNetworkGateway,
  needsEastWestGateway,
  remotesOf,
  SAIL_ISTIO_NAME,
  type SecretStore,
} from '../topology/model';
import { AmbientEastWestGateway } from './ambient-east-west-gateway';
import { CaCerts, type CaCertsKey } from './ca-certs';
import { ControlPlane, remoteInjectionPath } from './control-plane';
import { CrossNetworkGateway } from './cross-network-gateway';
import { EastWestGateway } from './east-west-gateway';
import { ExternalCaCerts, ExternalRemoteSecret, ReaderTokenPush } from './external-secrets';
import { IstioNamespace } from './istio-namespace';
import { IstiodExposure } from './istiod-exposure';
import { ReaderToken } from './reader-token';
import { RemoteSecret } from './remote-secret';
import { RevisionTags } from './revision-tags';
import { SYNC_WAVE_ANNOTATION, SyncWave, syncWave } from './sync-waves';

/** The Sail `Istio` resource, wrapped so that it is placed like the other constructs. */
class SailIstioConstruct extends Construct {
  constructor(scope: Construct, id: string, props: Omit<SailIstioProps, 'namespace'>) {
    super(scope, id);
    new SailIstio(this, 'Resource', { ...props, namespace: 'istio-system' });
  }
}

/**
 * The stages of a cluster directory, in apply order; each is a subdirectory with its own kustomization.yaml,
 * so Flux can order them with `dependsOn` (Argo CD applies the whole directory, ordered by sync waves).
 */
export enum Stage {
  /** The istio-system Namespace, cacerts and the remote secrets: istiod must find them when it starts. */
  SECRETS = 'secrets',
  /** The control plane install (IstioOperator or Sail `Istio`; with helm, Istio's charts are applied beside it). */
  CONTROL_PLANE = 'control-plane',
  /**
   * The reader token Secret (and its External Secrets PushSecret): only after the control plane, which creates the
   * ServiceAccount, and never behind anything that needs injection, so a remote's token reaches its primary.
   */
  READER_TOKEN = 'reader-token',
  /** Istio config that needs the control plane: the cross-network gateway, istiod's exposure (and, with the operator installer, the east-west gateway). */
  POST_INSTALL = 'post-install',
  /**
   * External Secrets remote secrets (sealed remote secrets are in `secrets/`): each is Ready only once its peer pushed
   * its token, so they come last and nothing waits on them.
   */
  REMOTE_SECRETS = 'remote-secrets',
}

/** The stages in apply order. */
export const STAGES: readonly Stage[] = [Stage.SECRETS, Stage.CONTROL_PLANE, Stage.READER_TOKEN, Stage.POST_INSTALL, Stage.REMOTE_SECRETS];

/**
 * Directory (in a cluster's directory) of the merged per-cluster IstioOperators: the exact input of
 * `istioctl install -f`, and what the Helm and Sail values are translated from. No kustomization lists them.
 */
export const ISTIOCTL_DIR = 'istioctl';

/** The header of the files in {@link ISTIOCTL_DIR}. */
export const ISTIOCTL_HEADER =
  HEADER +
  '# Not applied by Argo CD or Flux (no kustomization.yaml lists it): the merged IstioOperator of this cluster, the input of\n' +
  '# `istioctl install -f <this file>` and what the Helm and Sail values are translated from.\n';

/** A remote secret ready to be written: the peer's connection data and its sealed kubeconfig. */
export interface SealedRemoteSecret {
  readonly peer: Cluster;
  readonly server: string;
  readonly certificateAuthorityData: string;
  readonly sealedKubeconfig: string;
}

/** Props of everything applied to one cluster. */
export interface ClusterChartProps {
  readonly mesh: Mesh;
  readonly cluster: Cluster;
  /** `spec` of base.yaml. */
  readonly base: Record<string, unknown>;
  /** How `cacerts` and the remote secrets reach the cluster. */
  readonly secrets: ClusterSecrets;
  /**
   * A root CA rotation is under way: the control plane trusts several roots (`ISTIO_MULTIROOT_MESH`).
   * @default false
   */
  readonly multiRoot?: boolean;
  /**
   * What is installed (the IstioOperators and their Helm values), decided from the model.
   * @default - `clusterInstall(mesh, cluster, base, multiRoot)`
   */
  readonly install?: ClusterInstall;
}

/** The secrets of one cluster, by provider. */
export type ClusterSecrets =
  | {
      readonly provider: 'sealed-secrets';
      /** The sealed `cacerts` values. */
      readonly cacerts: Readonly<Record<CaCertsKey, string>>;
      /** The remote secrets this cluster holds (the model decides which peers; the caller drops those not sealed yet). */
      readonly remoteSecrets: readonly SealedRemoteSecret[];
    }
  | {
      readonly provider: 'external-secrets';
      /** The store this cluster reads from and pushes its reader token to. */
      readonly store: SecretStore;
      /** Key prefix in the store. */
      readonly prefix: string;
      /** The peers this cluster holds remote secrets for, with their API servers. */
      readonly remoteSecrets: readonly Omit<SealedRemoteSecret, 'sealedKubeconfig'>[];
    };

/**
 * Everything one cluster gets, grouped by output file: the Namespace, `cacerts`, remote secrets, the
 * control plane, the east-west and cross-network gateways, and the reader token Secret.
 */
export class ClusterChart extends Chart {
  /**
   * With the helm and sail installers: the Helm values of Istio's charts for this cluster (base and istiod for helm,
   * gateway where the cluster has an east-west gateway), and what could not be translated from the IstioOperator.
   */
  public readonly helm?: ClusterHelmValues;

  /**
   * The merged IstioOperators of this cluster by file (`istioctl/control-plane.yaml`, `istioctl/eastwest-gateway.yaml`):
   * written for every installer, applied by none (`istioctl install -f <file>`).
   */
  public readonly istioctl = new Map<string, Record<string, unknown>>();

  /** Output file of each direct child construct, in the order files are listed in kustomization.yaml. */
  private readonly placement: { stage: Stage; file: string; construct: Construct }[] = [];

  constructor(scope: Construct, id: string, props: ClusterChartProps) {
    super(scope, id, { disableResourceNameHashes: true });
    const { mesh, cluster } = props;
    const multiNetwork = isMultiNetwork(mesh);
    const ambient = isAmbient(mesh);

    const primary = cluster.role === 'remote' ? mesh.clusters.find((c) => c.name === cluster.primary) : undefined;
    const servesRemotes = cluster.role === 'primary' && remotesOf(mesh, cluster).length > 0;
    const revision = mesh.istio.revisions[0].name;
    this.place(
      Stage.SECRETS,
      IstioNamespace.FILE,
      new IstioNamespace(this, 'Namespace', {
        // In ambient mode the label is authoritative (istiod reads every cluster's network from it): always set.
        network: multiNetwork || ambient ? cluster.network : undefined,
        controlPlaneClusters: primary?.name,
        // The Sail ambient components live in namespaces of their own, which must exist.
        others: ambient && mesh.istio.installer === 'sail' ? [SAIL_CNI_NAMESPACE, SAIL_ZTUNNEL_NAMESPACE] : undefined,
      }),
    );
    const secrets = props.secrets;
    const byPeer = <T extends { peer: Cluster }>(list: readonly T[]) => [...list].sort((a, b) => cmp(a.peer.name, b.peer.name));
    if (secrets.provider === 'sealed-secrets') {
      this.place(Stage.SECRETS, CaCerts.FILE, new CaCerts(this, 'CaCerts', { encryptedData: secrets.cacerts }));
      for (const rs of byPeer(secrets.remoteSecrets)) {
        const { peer, server, certificateAuthorityData, sealedKubeconfig } = rs;
        this.place(
          Stage.SECRETS,
          RemoteSecret.FILE,
          new RemoteSecret(this, `RemoteSecret-${peer.name}`, { peer: peer.name, server, certificateAuthorityData, sealedKubeconfig }),
        );
      }
    } else {
      const { store, prefix } = secrets;
      this.place(Stage.SECRETS, CaCerts.FILE, new ExternalCaCerts(this, 'CaCerts', { store, prefix, cluster: cluster.name }));
      for (const { peer, server, certificateAuthorityData } of byPeer(secrets.remoteSecrets)) {
        this.place(
          Stage.REMOTE_SECRETS,
          RemoteSecret.FILE,
          new ExternalRemoteSecret(this, `RemoteSecret-${peer.name}`, { store, prefix, peer: peer.name, server, certificateAuthorityData }),
        );
      }
    }
    // What is installed comes decided from the model (values included); this chart only places it.
    const install = props.install ?? clusterInstall(mesh, cluster, props.base, props.multiRoot);
    const { controlPlane, gateway } = install;
    // Ambient: the HBONE east-west Gateway (a Gateway API object, every installer); no sidecar-style gateway.
    if (ambient && needsEastWestGateway(mesh, cluster)) {
      this.place(
        Stage.POST_INSTALL,
        AmbientEastWestGateway.FILE,
        new AmbientEastWestGateway(this, 'AmbientEastWestGateway', { network: cluster.network, revision }),
      );
    }
    const installer = mesh.istio.installer;
    const iop = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: 'install.istio.io/v1alpha1',
      kind: 'IstioOperator',
      metadata: { name, namespace: ISTIO_NAMESPACE },
      spec,
    });
    // One IstioOperator per revision (`istioctl install --revision`), each named after its revision, so adding or removing
    // a canary never renames the other.
    const iopName = ControlPlane.nameOf;
    for (const r of install.revisions) {
      const name = iopName(r.revision.name);
      this.istioctl.set(`${ISTIOCTL_DIR}/${name}.yaml`, iop(name, ControlPlane.spec(r.controlPlane)));
    }
    if (gateway) this.istioctl.set(`${ISTIOCTL_DIR}/${EastWestGateway.FILE}`, iop(EastWestGateway.NAME, EastWestGateway.spec(gateway)));
    this.helm = install.helm;
    if (installer === 'operator') {
      for (const r of install.revisions) {
        const id = r === install.revisions[0] ? 'ControlPlane' : `ControlPlane-${r.revision.name}`;
        this.place(Stage.CONTROL_PLANE, ControlPlane.FILE, new ControlPlane(this, id, { ...r.controlPlane, name: iopName(r.revision.name) }));
      }
      if (gateway) this.place(Stage.POST_INSTALL, EastWestGateway.FILE, new EastWestGateway(this, 'EastWestGateway', gateway));
    } else if (installer === 'sail') {
      // istio.revisions: one Istio running RevisionBased at the newest revision's version; Sail keeps the older revision
      // while a tag targets it. The shorthand: InPlace, named after the revision.
      const revisionBased = mesh.istio.revisionBased;
      const last = mesh.istio.revisions[mesh.istio.revisions.length - 1];
      const values = { ...(install.sailValues ?? {}) };
      if (revisionBased) delete values.revision;
      this.place(
        Stage.CONTROL_PLANE,
        SailIstio.FILE,
        new SailIstioConstruct(this, 'ControlPlane', {
          values,
          version: revisionBased ? last.version : mesh.istio.revisions[0].version,
          revision: revisionBased ? undefined : revision,
          name: revisionBased ? SAIL_ISTIO_NAME : undefined,
          updateStrategy: revisionBased ? { type: 'RevisionBased' } : undefined,
          annotations: syncWave(SyncWave.CONTROL_PLANE),
        }),
      );
      if (ambient) {
        this.place(
          Stage.CONTROL_PLANE,
          SailIstio.FILE,
          new SailAmbient(this, 'Ambient', {
            version: mesh.istio.revisions[0].version,
            clusterName: cluster.name,
            network: cluster.network,
            annotations: syncWave(SyncWave.CONTROL_PLANE),
          }),
        );
      }
    }
    // Revision tags: with Sail on a primary, IstioRevisionTags pinned to their revision (Sail renders the webhooks);
    // elsewhere webhooks of their own, moved in place (Sail refuses tags on a remote-profile revision).
    if (mesh.istio.tags.length > 0 && installer === 'sail' && cluster.role === 'primary') {
      for (const t of mesh.istio.tags) {
        this.place(
          Stage.POST_INSTALL,
          RevisionTags.FILE,
          new SailRevisionTag(this, `RevisionTag-${t.name}`, {
            tag: t.name,
            target: { kind: 'IstioRevision', name: t.revision },
            annotations: syncWave(SyncWave.AFTER_CONTROL_PLANE),
          }),
        );
      }
    } else if (mesh.istio.tags.length > 0) {
      const values = install.helm?.istiods?.[0]?.values;
      const injector = (values?.sidecarInjectorWebhook ?? {}) as { reinvocationPolicy?: string; enableNamespacesByDefault?: boolean };
      this.place(
        Stage.POST_INSTALL,
        RevisionTags.FILE,
        new RevisionTags(this, 'RevisionTags', {
          tags: mesh.istio.tags.map((t) => ({ tag: t.name, revision: t.revision })),
          injectionPath: controlPlane.remote ? remoteInjectionPath(cluster) : undefined,
          reinvocationPolicy: injector.reinvocationPolicy,
          enableNamespacesByDefault: injector.enableNamespacesByDefault,
        }),
      );
    }
    if (needsCrossNetworkGateway(mesh, cluster)) {
      this.place(Stage.POST_INSTALL, CrossNetworkGateway.FILE, new CrossNetworkGateway(this, 'CrossNetworkGateway'));
    }
    if (servesRemotes) {
      this.place(
        Stage.POST_INSTALL,
        IstiodExposure.FILE,
        new IstiodExposure(this, 'IstiodExposure', { revisions: mesh.istio.revisions.map((r) => r.name) }),
      );
    }
    this.place(Stage.READER_TOKEN, ReaderToken.FILE, new ReaderToken(this, 'ReaderToken'));
    if (secrets.provider === 'external-secrets') {
      this.place(
        Stage.READER_TOKEN,
        ReaderToken.FILE,
        new ReaderTokenPush(this, 'ReaderTokenPush', { store: secrets.store, prefix: secrets.prefix, cluster: cluster.name }),
      );
    }
  }

  /**
   * The manifests of this cluster as JSON objects grouped by file (`<stage>/<file>`), files in kustomization
   * order and objects in construction order. Every stage is present, even when empty.
   */
  public files(): Map<string, Record<string, unknown>[]> {
    const out = new Map<string, Record<string, unknown>[]>();
    const placed = new Set<Construct>();
    const add = (key: string, objs: readonly ApiObject[], wave?: SyncWave) => {
      const list = out.get(key) ?? [];
      for (const o of objs) {
        placed.add(o);
        const json = o.toJson() as { metadata?: { annotations?: Record<string, string> } };
        // A user object without a wave gets its stage's (meshgen's own objects all carry one).
        if (wave !== undefined && json.metadata && json.metadata.annotations?.[SYNC_WAVE_ANNOTATION] === undefined) {
          json.metadata.annotations = { ...json.metadata.annotations, ...syncWave(wave) };
        }
        list.push(json);
      }
      out.set(key, list);
    };
    for (const { stage, file, construct } of this.placement) add(`${stage}/${file}`, apiObjectsUnder(construct));
    // Every other ApiObject of the chart (a user's constructs: see `extensionScope`) is written too, never dropped:
    // under a stage scope in that stage, else in post-install; one file per stage.
    for (const o of apiObjectsUnder(this)) {
      if (placed.has(o)) continue;
      const stage = o.node.scopes.map((s) => (s instanceof StageScope ? s.stage : undefined)).find((x) => x !== undefined) ?? Stage.POST_INSTALL;
      add(`${stage}/${EXTENSIONS_FILE}`, [o], STAGE_WAVES[stage]);
    }
    return out;
  }

  /**
   * The scope for a user's constructs in a stage (`meshgen.config.ts`): what is built under it is written to
   * `<stage>/extensions.yaml` of this cluster, listed in its kustomization.yaml, with the stage's sync wave unless it sets
   * one. Constructs added to the chart itself land in post-install.
   */
  public extensionScope(stage: Stage = Stage.POST_INSTALL): Construct {
    const id = `Extensions-${stage}`;
    return (this.node.tryFindChild(id) as Construct | undefined) ?? new StageScope(this, id, stage);
  }

  /**
   * meshgen's own object of a kind and name (e.g. `('Gateway', 'cross-network-gateway')`), to override with
   * `addJsonPatch` (the escape hatch: patches apply when the chart is written).
   */
  public findApiObject(kind: string, name: string): ApiObject | undefined {
    return apiObjectsUnder(this).find((o) => o.kind === kind && o.metadata.name === name);
  }

  private place(stage: Stage, file: string, construct: Construct): void {
    this.placement.push({ stage, file, construct });
  }
}

/** The file of a stage that holds a user's objects. */
export const EXTENSIONS_FILE = 'extensions.yaml';

/** The sync wave each stage's objects get by default (see sync-waves.ts). */
const STAGE_WAVES: Readonly<Record<Stage, SyncWave>> = {
  [Stage.SECRETS]: SyncWave.SECRETS,
  [Stage.CONTROL_PLANE]: SyncWave.CONTROL_PLANE,
  [Stage.READER_TOKEN]: SyncWave.AFTER_CONTROL_PLANE,
  [Stage.POST_INSTALL]: SyncWave.AFTER_CONTROL_PLANE,
  [Stage.REMOTE_SECRETS]: SyncWave.REMOTE_SECRETS,
};

/** A construct whose ApiObjects belong to a stage (see `ClusterChart.extensionScope`). */
class StageScope extends Construct {
  constructor(
    scope: Construct,
    id: string,
    public readonly stage: Stage,
  ) {
    super(scope, id);
  }
}

function apiObjectsUnder(scope: Construct): ApiObject[] {
  return scope.node.findAll().filter((c): c is ApiObject => ApiObject.isApiObject(c));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
