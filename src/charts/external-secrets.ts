import { Construct } from 'constructs';
import {
  ExternalSecret,
  type ExternalSecretSpecData,
  ExternalSecretSpecSecretStoreRefKind,
  ExternalSecretSpecTargetCreationPolicy,
  type ExternalSecretSpecTargetTemplate,
  ExternalSecretSpecTargetTemplateEngineVersion,
  PushSecret,
  PushSecretSpecSecretStoreRefsKind,
  PushSecretSpecUpdatePolicy,
} from '../../imports/external-secrets.io';
import { ISTIO_NAMESPACE, READER_TOKEN_SECRET, remoteSecretName } from '../topology/model';
import { CACERTS_KEYS, CaCerts } from './ca-certs';
import { kubeconfigTemplate } from './remote-secret';
import { SyncWave, syncWave } from './sync-waves';

/** A (Cluster)SecretStore of the External Secrets Operator. */
export interface SecretStoreRef {
  readonly kind: 'ClusterSecretStore' | 'SecretStore';
  readonly name: string;
}

/** How often ESO refreshes what it reads or pushes. */
const REFRESH = '1h';

/** The key of a cluster's CA files in the external store. */
export function cacertsKey(prefix: string, cluster: string): string {
  return `${prefix}/${cluster}/cacerts`;
}

/** The key of a cluster's reader token in the external store. */
export function readerTokenKey(prefix: string, cluster: string): string {
  return `${prefix}/${cluster}/reader-token`;
}

/** Props of the ExternalSecret `cacerts`. */
export interface ExternalCaCertsProps {
  readonly store: SecretStoreRef;
  /** The key prefix in the store (`<prefix>/<cluster>/cacerts`). */
  readonly prefix: string;
  readonly cluster: string;
}

/**
 * `istio-system/cacerts` from an external secret store: an ExternalSecret reading the four CA files (properties of
 * `<prefix>/<cluster>/cacerts`, uploaded with `meshgen export-ca`). In the wave before the control plane.
 *
 * @see https://external-secrets.io/latest/api/externalsecret/
 */
export class ExternalCaCerts extends Construct {
  constructor(scope: Construct, id: string, props: ExternalCaCertsProps) {
    super(scope, id);
    istioExternalSecret(this, {
      name: CaCerts.NAME,
      wave: SyncWave.SECRETS,
      store: props.store,
      template: { type: 'Opaque', engineVersion: ExternalSecretSpecTargetTemplateEngineVersion.V2 },
      data: CACERTS_KEYS.map((k) => ({ secretKey: k, remoteRef: { key: cacertsKey(props.prefix, props.cluster), property: k } })),
    });
  }
}

/** Props of an ExternalSecret remote secret. */
export interface ExternalRemoteSecretProps {
  /** The store of the cluster holding the remote secret. */
  readonly store: SecretStoreRef;
  readonly prefix: string;
  /** The peer whose reader token (pushed by the peer to `<prefix>/<peer>/reader-token`) the kubeconfig carries. */
  readonly peer: string;
  readonly server: string;
  readonly certificateAuthorityData: string;
}

/**
 * `istio-remote-secret-<peer>` from an external secret store: the peer's reader token (which the peer pushed)
 * rendered by ESO's template into the same kubeconfig shape as `istioctl create-remote-secret` (label
 * `istio/multiCluster`, annotation `networking.istio.io/cluster`, one key `<peer>`).
 *
 * It is in the last wave ({@link SyncWave.REMOTE_SECRETS}, its own stage for Flux): the ExternalSecret is Degraded until
 * the peer pushed its token (argo-cd `resource_customizations/external-secrets.io/ExternalSecret/health.lua`), and the
 * peer pushes only after its own control plane; in an earlier wave two primaries would wait for each other forever.
 * istiod needs no remote secret at start: it watches Secrets labelled `istio/multiCluster` and adds clusters as they
 * come (`pkg/kube/multicluster/secretcontroller.go`).
 */
export class ExternalRemoteSecret extends Construct {
  constructor(scope: Construct, id: string, props: ExternalRemoteSecretProps) {
    super(scope, id);
    const name = remoteSecretName(props.peer);
    istioExternalSecret(this, {
      name,
      wave: SyncWave.REMOTE_SECRETS,
      store: props.store,
      template: {
        engineVersion: ExternalSecretSpecTargetTemplateEngineVersion.V2,
        type: 'Opaque',
        metadata: { labels: { 'istio/multiCluster': 'true' }, annotations: { 'networking.istio.io/cluster': props.peer } },
        data: { [props.peer]: kubeconfigTemplate(props, '{{ .token }}') },
      },
      data: [{ secretKey: 'token', remoteRef: { key: readerTokenKey(props.prefix, props.peer), property: 'token' } }],
    });
  }
}

/** Props of the PushSecret of a cluster's reader token. */
export interface ReaderTokenPushProps {
  readonly store: SecretStoreRef;
  readonly prefix: string;
  readonly cluster: string;
}

/**
 * Pushes the token the cluster minted (Secret `istio-reader-service-account-istio-remote-secret-token`) to
 * `<prefix>/<cluster>/reader-token`, where every primary's ExternalSecret reads it: no manual token step.
 *
 * @see https://external-secrets.io/latest/api/pushsecret/
 */
export class ReaderTokenPush extends Construct {
  public static readonly NAME = 'istio-reader-token';

  constructor(scope: Construct, id: string, props: ReaderTokenPushProps) {
    super(scope, id);
    new PushSecret(this, 'Resource', {
      metadata: { name: ReaderTokenPush.NAME, namespace: ISTIO_NAMESPACE, annotations: syncWave(SyncWave.AFTER_READER_TOKEN) },
      spec: {
        refreshInterval: REFRESH,
        updatePolicy: PushSecretSpecUpdatePolicy.REPLACE,
        secretStoreRefs: [
          {
            kind:
              props.store.kind === 'ClusterSecretStore'
                ? PushSecretSpecSecretStoreRefsKind.CLUSTER_SECRET_STORE
                : PushSecretSpecSecretStoreRefsKind.SECRET_STORE,
            name: props.store.name,
          },
        ],
        selector: { secret: { name: READER_TOKEN_SECRET } },
        data: [{ match: { secretKey: 'token', remoteRef: { remoteKey: readerTokenKey(props.prefix, props.cluster), property: 'token' } } }],
      },
    });
  }
}

/** An ExternalSecret in istio-system that owns the Secret of the same name, in the given wave, refreshed hourly from the store. */
function istioExternalSecret(
  scope: Construct,
  props: { name: string; wave: SyncWave; store: SecretStoreRef; template: ExternalSecretSpecTargetTemplate; data: ExternalSecretSpecData[] },
): ExternalSecret {
  return new ExternalSecret(scope, 'Resource', {
    metadata: { name: props.name, namespace: ISTIO_NAMESPACE, annotations: syncWave(props.wave) },
    spec: {
      refreshInterval: REFRESH,
      secretStoreRef: {
        kind:
          props.store.kind === 'ClusterSecretStore'
            ? ExternalSecretSpecSecretStoreRefKind.CLUSTER_SECRET_STORE
            : ExternalSecretSpecSecretStoreRefKind.SECRET_STORE,
        name: props.store.name,
      },
      target: { name: props.name, creationPolicy: ExternalSecretSpecTargetCreationPolicy.OWNER, template: props.template },
      data: props.data,
    },
  });
}
