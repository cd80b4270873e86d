import { Construct } from 'constructs';
import { Gateway, GatewaySpecServersTlsMode, VirtualService } from '../../imports/networking.istio.io';
import { ISTIO_NAMESPACE } from '../topology/model';
import { EastWestGateway } from './east-west-gateway';
import { SyncWave, syncWave } from './sync-waves';

/** Props of the istiod exposure. */
export interface IstiodExposureProps {
  /**
   * The control plane's revision: the VirtualService routes to `istiod-<revision>` as Istio's
   * `expose-istiod-rev.yaml.tmpl`.
   * @default - no revision (`expose-istiod.yaml`)
   */
  readonly revision?: string;
  /**
   * Every revision the primary runs (a canary upgrade): one VirtualService `istiod-vs-<revision>` each, told apart by the
   * SNI the remotes' proxies and API server send (`istiod-<revision>.istio-system.svc`, the Service their istiod chart
   * points at this gateway). Overrides `revision`.
   * @default - [revision]
   */
  readonly revisions?: readonly (string | undefined)[];
}

/**
 * `Gateway istiod-gateway` and `VirtualService istiod-vs`: expose istiod (15012 xDS, 15017 webhook) through the
 * east-west gateway so the remote clusters of this primary reach it, as Istio's `samples/multicluster/expose-istiod.yaml`.
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/primary-remote/#expose-the-control-plane-in-cluster1
 */
export class IstiodExposure extends Construct {
  public static readonly FILE = 'istiod-exposure.yaml';

  constructor(scope: Construct, id: string, props: IstiodExposureProps = {}) {
    super(scope, id);
    const rev = props.revision;
    const metadata = (name: string) => ({ name, namespace: ISTIO_NAMESPACE, annotations: syncWave(SyncWave.AFTER_CONTROL_PLANE) });
    new Gateway(this, 'Gateway', {
      metadata: metadata('istiod-gateway'),
      spec: {
        selector: { istio: EastWestGateway.SELECTOR },
        servers: [
          { port: { name: 'tls-istiod', number: 15012, protocol: 'tls' }, tls: { mode: GatewaySpecServersTlsMode.PASSTHROUGH }, hosts: ['*'] },
          {
            port: { name: 'tls-istiodwebhook', number: 15017, protocol: 'tls' },
            tls: { mode: GatewaySpecServersTlsMode.PASSTHROUGH },
            hosts: ['*'],
          },
        ],
      },
    });
    const revisions = props.revisions ?? [rev];
    for (const r of revisions) {
      const istiod = r ? `istiod-${r}` : 'istiod';
      const host = `${istiod}.${ISTIO_NAMESPACE}.svc.cluster.local`;
      // A single unrevisioned istiod takes every SNI (expose-istiod.yaml); beside another revision, only its own.
      const sniHosts = r || revisions.length > 1 ? [`${istiod}.${ISTIO_NAMESPACE}.svc`, host] : ['*'];
      new VirtualService(this, r ? `VirtualService-${r}` : 'VirtualService', {
        metadata: metadata(r ? `istiod-vs-${r}` : 'istiod-vs'),
        spec: {
          hosts: ['*'],
          gateways: ['istiod-gateway'],
          tls: [
            { match: [{ port: 15012, sniHosts }], route: [{ destination: { host, port: { number: 15012 } } }] },
            { match: [{ port: 15017, sniHosts }], route: [{ destination: { host, port: { number: 443 } } }] },
          ],
        },
      });
    }
  }
}
