import { Construct } from 'constructs';
import { SealedSecret } from '../../imports/bitnami.com';
import { ISTIO_NAMESPACE } from '../topology/model';
import { SyncWave, syncWave } from './sync-waves';

/** The four files of a plugged-in CA, as keys of the `cacerts` Secret. */
export const CACERTS_KEYS = ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'] as const;
export type CaCertsKey = (typeof CACERTS_KEYS)[number];

/** Props of the sealed `cacerts` Secret. */
export interface CaCertsProps {
  /** The sealed value of each of the four keys, sealed for `istio-system/cacerts` (strict scope). */
  readonly encryptedData: Readonly<Record<CaCertsKey, string>>;
}

/**
 * `istio-system/cacerts` as a SealedSecret: the cluster's intermediate CA, its key, the chain and the
 * shared root. istiod must find it when it starts, so it is in an earlier sync wave than the control plane.
 *
 * @see https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/
 */
export class CaCerts extends Construct {
  public static readonly FILE = 'cacerts.yaml';
  public static readonly NAME = 'cacerts';

  constructor(scope: Construct, id: string, props: CaCertsProps) {
    super(scope, id);
    new SealedSecret(this, 'Resource', {
      metadata: { name: CaCerts.NAME, namespace: ISTIO_NAMESPACE, annotations: syncWave(SyncWave.SECRETS) },
      spec: {
        encryptedData: { ...props.encryptedData },
        template: {
          metadata: { name: CaCerts.NAME, namespace: ISTIO_NAMESPACE },
          type: 'Opaque',
        },
      },
    });
  }
}
