import { Construct } from 'constructs';
import { SealedSecret } from '../../imports/bitnami.com';
import { ISTIO_NAMESPACE, remoteSecretName } from '../topology/model';
import { SyncWave, syncWave } from './sync-waves';

/** Props of one remote secret. */
export interface RemoteSecretProps {
  /** The peer cluster's name: the Secret's data key, annotation and kubeconfig names. */
  readonly peer: string;
  /** The peer's API server URL. */
  readonly server: string;
  /** Base64 PEM of the peer's API server CA. */
  readonly certificateAuthorityData: string;
  /** The peer's reader token, sealed for `istio-system/istio-remote-secret-<peer>` under the key `<peer>`. */
  readonly sealedToken: string;
}

/**
 * `istio-remote-secret-<peer>` as `istioctl create-remote-secret --name <peer>` writes it (label
 * `istio/multiCluster: "true"`, annotation `networking.istio.io/cluster`, one key `<peer>` holding a
 * kubeconfig), as a SealedSecret that seals only the token.
 *
 * The sealed token sits under the key `<peer>`; `spec.template.data.<peer>` renders the kubeconfig from it.
 * The controller first decrypts every `encryptedData` key into the Secret, then renders each template key
 * over it, so the rendered kubeconfig replaces the bare token and the Secret has exactly one key, as
 * istiod expects (it reads every key as a cluster's kubeconfig).
 *
 * @see https://istio.io/latest/docs/reference/commands/istioctl/#istioctl-create-remote-secret
 */
export class RemoteSecret extends Construct {
  public static readonly FILE = 'remote-secrets.yaml';

  constructor(scope: Construct, id: string, props: RemoteSecretProps) {
    super(scope, id);
    const name = remoteSecretName(props.peer);
    new SealedSecret(this, 'Resource', {
      metadata: { name, namespace: ISTIO_NAMESPACE, annotations: syncWave(SyncWave.SECRETS) },
      spec: {
        encryptedData: { [props.peer]: props.sealedToken },
        template: {
          metadata: {
            name,
            namespace: ISTIO_NAMESPACE,
            labels: { 'istio/multiCluster': 'true' },
            annotations: { 'networking.istio.io/cluster': props.peer },
          },
          type: 'Opaque',
          data: { [props.peer]: kubeconfigTemplate(props) },
        },
      },
    });
  }
}

/**
 * The kubeconfig of `istioctl create-remote-secret` (cluster, context and user named after the peer),
 * with the token taken from the decrypted key `<peer>` by the Sealed Secrets template engine.
 */
export function kubeconfigTemplate(props: Pick<RemoteSecretProps, 'peer' | 'server' | 'certificateAuthorityData'>): string {
  const p = props.peer;
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${props.certificateAuthorityData}`,
    `    server: ${props.server}`,
    `  name: ${p}`,
    'contexts:',
    '- context:',
    `    cluster: ${p}`,
    `    user: ${p}`,
    `  name: ${p}`,
    `current-context: ${p}`,
    'kind: Config',
    'users:',
    `- name: ${p}`,
    '  user:',
    `    token: {{ index . "${p}" }}`,
    '',
  ].join('\n');
}
