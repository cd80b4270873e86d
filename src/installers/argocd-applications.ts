import { SYNC_WAVE_ANNOTATION, SyncWave } from '../charts/sync-waves';
import { HEADER, toYaml } from '../output/render';
import { ISTIO_CHARTS, type IstioChart } from './helm-releases';
import { type HelmValues, sortKeys } from './translate';

/**
 * The values file of a chart, relative to the cluster's directory (`helm/<chart>-values.yaml`; a revisioned istiod's is
 * `helm/istiod-<revision>-values.yaml`, one per revision). It is not a manifest: keep it out of kustomization.yaml.
 */
export function valuesFile(chart: IstioChart, revision?: string): string {
  return chart === 'istiod' && revision ? `helm/istiod-${revision}-values.yaml` : `helm/${chart}-values.yaml`;
}

/** The values of a cluster's charts: one values mapping per chart, istiod as one per revision. */
export type ClusterChartValues = Partial<Record<Exclude<IstioChart, 'istiod'>, HelmValues>> & {
  readonly istiods?: readonly { readonly revision?: string; readonly values: HelmValues }[];
};

/**
 * The Helm values files each cluster's Argo CD Application reads (`$values/<dist>/clusters/<cluster>/helm/<chart>-values.yaml`),
 * by path relative to the cluster's directory, each with the generated-by header and keys sorted. These are plain values
 * files, not Kubernetes manifests: they must not be listed in any kustomization.yaml.
 *
 * The gateway chart's values also carry `annotations` with the sync wave of the east-west gateway
 * ({@link SyncWave.GATEWAY}): the chart puts them on its Deployment, Service, Role and HPA
 * (`manifests/charts/gateway/templates/{deployment,service,role,hpa}.yaml`), so Argo CD applies the gateway after the
 * reader token. The base and istiod charts carry no annotation: wave 0, after the secrets' wave -1.
 */
export function helmValuesFiles(values: ClusterChartValues): Map<string, string> {
  const out = new Map<string, string>();
  for (const chart of ISTIO_CHARTS) {
    if (chart === 'istiod') {
      for (const r of values.istiods ?? []) out.set(valuesFile(chart, r.revision), HEADER + toYaml(sortKeys(r.values)));
      continue;
    }
    const v = values[chart];
    if (v === undefined) continue;
    const withWave =
      chart === 'gateway'
        ? {
            ...v,
            annotations: { ...((v.annotations as Record<string, string> | undefined) ?? {}), [SYNC_WAVE_ANNOTATION]: String(SyncWave.GATEWAY) },
          }
        : v;
    out.set(valuesFile(chart), HEADER + toYaml(sortKeys(withWave)));
  }
  return out;
}
