/**
 * meshgen as a library: the constructs of a cluster directory, the pipeline that writes `dist/`, and the model types.
 * The CLI (`bin/meshgen`) is built on the same functions.
 *
 * @example
 * // meshgen.config.ts in the work directory: every cluster gets a mesh-wide STRICT PeerAuthentication.
 * import { ApiObject } from 'cdk8s';
 * import type { ExtendFunction } from 'meshgen';
 * const extend: ExtendFunction = (chart) => {
 *   new ApiObject(chart, 'Strict', { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication',
 *     metadata: { name: 'default', namespace: 'istio-system' }, spec: { mtls: { mode: 'STRICT' } } });
 * };
 * export default extend;
 */
export { AmbientEastWestGateway, type AmbientEastWestGatewayProps } from './charts/ambient-east-west-gateway';
export { CaCerts } from './charts/ca-certs';
export {
  ClusterChart,
  type ClusterChartProps,
  type ClusterSecrets,
  EXTENSIONS_FILE,
  ISTIOCTL_DIR,
  type SealedRemoteSecret,
  STAGES,
  Stage,
} from './charts/cluster-chart';
export { ControlPlane, type ControlPlaneProps } from './charts/control-plane';
export { CrossNetworkGateway } from './charts/cross-network-gateway';
export { EastWestGateway, type EastWestGatewayProps } from './charts/east-west-gateway';
export { ExternalCaCerts, ExternalRemoteSecret, ReaderTokenPush } from './charts/external-secrets';
export { IstioNamespace, type IstioNamespaceProps } from './charts/istio-namespace';
export { IstiodExposure, type IstiodExposureProps } from './charts/istiod-exposure';
export { ReaderToken } from './charts/reader-token';
export { kubeconfigTemplate, RemoteSecret, type RemoteSecretProps, remoteSecretKubeconfig } from './charts/remote-secret';
export { RevisionTags, type RevisionTagsProps, type RevisionTagWebhook } from './charts/revision-tags';
export { SYNC_WAVE_ANNOTATION, SyncWave, syncWave } from './charts/sync-waves';
export { DIST_DIR, type SynthOptions, type SynthResult, synth } from './commands/synth';
export { type ValidateOptions, type ValidateResult, validate } from './commands/validate';
export { CheckFailed, InputError, type Problem } from './errors';
export { type ExtendContext, type ExtendFunction, loadExtension } from './extend';
export { FluxKustomizations, type FluxKustomizationsProps, type FluxStage } from './gitops/flux-kustomizations';
export { type ApplicationSetCharts, MeshApplicationSet, type MeshApplicationSetProps } from './gitops/mesh-application-set';
export { helmValuesFiles } from './installers/argocd-applications';
export { type IstioChart, IstioControlPlaneReleases, IstioGatewayRelease, IstioHelmReleases } from './installers/helm-releases';
export {
  SailAmbient,
  SailIstio,
  type SailIstioProps,
  SailRevisionTag,
  type SailRevisionTagProps,
  type SailRevisionTagTarget,
  type SailUpdateStrategy,
  sailRevisionName,
  sailVersion,
} from './installers/sail';
export { translateControlPlane, translateEastWestGateway } from './installers/translate';
export { loadBase, loadTopology, parseBase, parseTopology } from './topology/load';
export type { Cluster, Dataplane, GitOps, Installer, IstioRevision, Mesh, RevisionTag, Role, SecretStore, SecretsProvider } from './topology/model';
