import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { type Cluster, isMultiNetwork, type Mesh, needsCrossNetworkGateway, needsEastWestGateway } from '../topology/model';
import { CaCerts, type CaCertsKey } from './ca-certs';
import { ControlPlane } from './control-plane';
import { CrossNetworkGateway } from './cross-network-gateway';
import { EastWestGateway } from './east-west-gateway';
import { IstioNamespace } from './istio-namespace';
import { ReaderToken } from './reader-token';
import { RemoteSecret } from './remote-secret';

/** A remote secret ready to be written: the peer's connection data and its sealed token. */
export interface SealedRemoteSecret {
  readonly peer: Cluster;
  readonly server: string;
  readonly certificateAuthorityData: string;
  readonly sealedToken: string;
}

/** Props of everything applied to one cluster. */
export interface ClusterChartProps {
  readonly mesh: Mesh;
  readonly cluster: Cluster;
  /** `spec` of base.yaml. */
  readonly base: Record<string, unknown>;
  /** The sealed `cacerts` values. */
  readonly cacerts: Readonly<Record<CaCertsKey, string>>;
  /** The remote secrets this cluster holds (the model decides which peers; the caller drops those not sealed yet). */
  readonly remoteSecrets: readonly SealedRemoteSecret[];
}

/**
 * Everything one cluster gets, grouped by output file: the Namespace, `cacerts`, remote secrets, the
 * control plane, the east-west and cross-network gateways, and the reader token Secret.
 */
export class ClusterChart extends Chart {
  /** Output file of each direct child construct, in the order files are listed in kustomization.yaml. */
  private readonly placement: { file: string; construct: Construct }[] = [];

  constructor(scope: Construct, id: string, props: ClusterChartProps) {
    super(scope, id, { disableResourceNameHashes: true });
    const { mesh, cluster } = props;
    const multiNetwork = isMultiNetwork(mesh);

    this.place(IstioNamespace.FILE, new IstioNamespace(this, 'Namespace', { network: multiNetwork ? cluster.network : undefined }));
    this.place(CaCerts.FILE, new CaCerts(this, 'CaCerts', { encryptedData: props.cacerts }));
    for (const rs of [...props.remoteSecrets].sort((a, b) => cmp(a.peer.name, b.peer.name))) {
      this.place(
        RemoteSecret.FILE,
        new RemoteSecret(this, `RemoteSecret-${rs.peer.name}`, {
          peer: rs.peer.name,
          server: rs.server,
          certificateAuthorityData: rs.certificateAuthorityData,
          sealedToken: rs.sealedToken,
        }),
      );
    }
    this.place(
      ControlPlane.FILE,
      new ControlPlane(this, 'ControlPlane', { base: props.base, meshID: mesh.meshId, clusterName: cluster.name, network: cluster.network }),
    );
    if (needsEastWestGateway(mesh, cluster)) {
      this.place(
        EastWestGateway.FILE,
        new EastWestGateway(this, 'EastWestGateway', { network: cluster.network, serviceType: cluster.eastWestGateway.serviceType }),
      );
    }
    if (needsCrossNetworkGateway(mesh, cluster)) {
      this.place(CrossNetworkGateway.FILE, new CrossNetworkGateway(this, 'CrossNetworkGateway'));
    }
    this.place(ReaderToken.FILE, new ReaderToken(this, 'ReaderToken'));
  }

  /**
   * The manifests of this cluster, as JSON objects grouped by file name, files in kustomization order and
   * objects in construction order.
   */
  public files(): Map<string, Record<string, unknown>[]> {
    const out = new Map<string, Record<string, unknown>[]>();
    for (const { file, construct } of this.placement) {
      const objs = construct.node.findAll().filter((c): c is ApiObject => ApiObject.isApiObject(c));
      const list = out.get(file) ?? [];
      for (const o of objs) list.push(o.toJson());
      out.set(file, list);
    }
    return out;
  }

  private place(file: string, construct: Construct): void {
    this.placement.push({ file, construct });
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
