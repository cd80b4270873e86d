import { Construct } from 'constructs';
import { SealedSecret } from '../../imports/bitnami.com';
import { toYaml } from '../output/render';
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
  /**
   * The whole kubeconfig ({@link remoteSecretKubeconfig}), sealed for `istio-system/istio-remote-secret-<peer>` under
   * the key `<peer>`.
   */
  readonly sealedKubeconfig: string;
}

/**
 * `istio-remote-secret-<peer>` as `istioctl create-remote-secret --name <peer>` writes it (label
 * `istio/multiCluster: "true"`, annotation `networking.istio.io/cluster`, one key `<peer>` holding a
 * kubeconfig), as a SealedSecret that seals the whole kubeconfig under the key `<peer>`.
 *
 * There is no `spec.template.data`: a template key equal to an `encryptedData` key unseals differently across
 * controller versions (up to v0.36 the rendered template overwrote the decrypted value; since bitnami-labs/sealed-secrets
 * PR #1940, `pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go`, the decrypted value wins), and istiod reads
 * every key of the Secret as a cluster's kubeconfig. With the kubeconfig itself sealed, every controller version
 * unseals the same one-key Secret.
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
        encryptedData: { [props.peer]: props.sealedKubeconfig },
        template: {
          metadata: {
            name,
            namespace: ISTIO_NAMESPACE,
            labels: { 'istio/multiCluster': 'true' },
            annotations: { 'networking.istio.io/cluster': props.peer },
          },
          type: 'Opaque',
        },
      },
    });
  }
}

/** The peer's connection data: what a remote secret's kubeconfig holds besides the token. */
export type RemoteSecretPeer = Pick<RemoteSecretProps, 'peer' | 'server' | 'certificateAuthorityData'>;

/** The kubeconfig sealed into a remote secret: {@link kubeconfigTemplate} with the peer's reader token. */
export function remoteSecretKubeconfig(props: RemoteSecretPeer, token: string): string {
  return kubeconfigTemplate(props, yamlScalar(token));
}

/**
 * The kubeconfig of `istioctl create-remote-secret` (cluster, context and user named after the peer), with the token
 * given as it goes into the file: a YAML scalar ({@link remoteSecretKubeconfig}), or the External Secrets template
 * expression `{{ .token }}`.
 */
export function kubeconfigTemplate(props: RemoteSecretPeer, tokenExpression: string): string {
  // Names such as "123" or "yes" must stay strings in the kubeconfig (client-go reads it as YAML).
  const p = yamlScalar(props.peer);
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
    `    token: ${tokenExpression}`,
    '',
  ].join('\n');
}

/** A string as a YAML scalar: plain when YAML (1.1, as client-go reads it) reads it back as the same string, else quoted. */
function yamlScalar(value: string): string {
  return toYaml(value).trimEnd();
}
