/**
 * IstioOperator → Helm values, as `istioctl manifest translate` does it (Istio 1.24+), so that the `helm` and `sail`
 * installers render the same control plane as the `operator` one.
 *
 * What istioctl does (`operator/pkg/render/manifest.go`, `translateIstioOperatorToHelm` and
 * `applyComponentValuesToHelmValues`): `spec.values` is passed to the charts as is (it is the Helm values schema);
 * `spec.hub`, `spec.tag`, `spec.revision`, `spec.meshConfig`, `spec.compatibilityVersion` become `global.hub`,
 * `global.tag`, `revision`, `meshConfig`, `compatibilityVersion`; `components.pilot.enabled` becomes `pilot.enabled`,
 * `components.cni.enabled` becomes `pilot.cni.enabled`, `components.pilot.{hub,tag}` become `pilot.{hub,tag}`; the user's
 * `spec.values` win over the top-level fields. `components.*.k8s` settings are *not* values in istioctl: they are patches
 * applied to the rendered manifests (`postprocess.go`), which Helm has no place for. Where the chart has a value with the
 * same effect (`k8s.env` → `pilot.env`, `k8s.resources` → `pilot.resources`, `k8s.hpaSpec.minReplicas` →
 * `pilot.autoscaleMin`, ...) it is used, and the component setting wins over `spec.values` as the patch would; every
 * other field is reported as a {@link TranslationProblem}, never dropped silently.
 *
 * On top of the translation, the settings Istio's Helm multicluster guides add for the same topology are applied (only
 * where the input does not set them) and listed in `additions`, so a reader can tell them from the translated values:
 * a primary serving remotes gets istiod `pilot.env.EXTERNAL_ISTIOD`; a remote gets `profile: remote` on both charts,
 * base `global.externalIstiod`, istiod `global.configCluster`, `pilot.env.EXTERNAL_ISTIOD` and `pilot.enabled: false`.
 *
 * @see https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/ (Helm tabs)
 * @see https://istio.io/latest/news/releases/1.24.x/announcing-1.24/upgrade-notes/
 * @see https://github.com/istio/istio/blob/1.30.3/operator/pkg/render/manifest.go
 */

import { ISTIO_NAMESPACE } from '../topology/model';
import { deepMerge, isRecord as isObject } from '../util/records';

/** Values of a Helm chart (a YAML mapping). */
export type HelmValues = Record<string, unknown>;

/** An IstioOperator field that has no equivalent in the Helm values; the rendering would differ from the operator's. */
export interface TranslationProblem {
  /** YAML path of the field in the IstioOperator, e.g. `spec.components.cni`. */
  readonly path: string;
  /** What is not translated and why. */
  readonly message: string;
  /** How to get the same effect, or to silence the problem. */
  readonly fix: string;
}

/** A value that is not in the IstioOperator but that Istio's Helm guides set for the same install. */
export interface HelmAddition {
  /** The chart whose values get it. */
  readonly chart: 'base' | 'istiod';
  /** Dotted path in the chart's values, e.g. `pilot.env.EXTERNAL_ISTIOD`. */
  readonly path: string;
  readonly value: unknown;
  /** Why, with the source. */
  readonly reason: string;
}

/** The Helm values of the `base` and `istiod` charts for one control plane IstioOperator. */
export interface ControlPlaneTranslation {
  /** Values of the `base` chart (release `istio-base`). */
  readonly base: HelmValues;
  /** Values of the `istiod` chart (release `istiod`); also the `spec.values` of a Sail `Istio`. */
  readonly istiod: HelmValues;
  /** Fields of the IstioOperator that have no Helm equivalent. */
  readonly problems: readonly TranslationProblem[];
  /** Values added for Helm, each also present in `base` or `istiod`. */
  readonly additions: readonly HelmAddition[];
}

/** The Helm values of the `gateway` chart for the east-west gateway IstioOperator. */
export interface EastWestGatewayTranslation {
  /** Values of the `gateway` chart (release `istio-eastwestgateway`). */
  readonly gateway: HelmValues;
  /** Fields of the IstioOperator that have no Helm equivalent. */
  readonly problems: readonly TranslationProblem[];
}

/**
 * Profiles the `base`/`istiod` charts ship (`manifests/helm-profiles/`, copied to each chart's `files/profile-*.yaml`).
 * `default` and `minimal` need none: the charts never install an ingress gateway, which is all `minimal` removes.
 */
const HELM_PROFILES = ['ambient', 'demo', 'openshift', 'openshift-ambient', 'preview', 'remote', 'stable'];

/** Top-level keys of the istiod chart values (`values_types.proto`, as embedded in the Sail `Istio` CRD, plus two chart-only ones). */
const ISTIOD_VALUE_KEYS = new Set([
  'base',
  'compatibilityVersion',
  'defaultRevision',
  'experimental',
  'gatewayClasses',
  'global',
  'istiodRemote',
  'meshConfig',
  'ownerName',
  'pilot',
  'profile',
  'revision',
  'revisionTags',
  'sidecarInjectorWebhook',
  'telemetry',
]);

/** `spec.values` keys that configure other charts, which meshgen does not install. */
const OTHER_CHART_VALUES: Record<string, string> = {
  gateways: 'the IstioOperator ingress/egress gateways (install gateways with the `gateway` chart)',
  cni: 'the `cni` chart',
  istio_cni: 'the `cni` chart',
  ztunnel: 'the `ztunnel` chart',
};

/** `global.*` values the `base` chart reads (`manifests/charts/base/values.yaml`, 1.24+). */
const BASE_GLOBAL_KEYS = ['externalIstiod', 'imagePullSecrets', 'ipFamilies', 'ipFamilyPolicy', 'istioNamespace', 'platform'];
/** Top-level values the `base` chart reads besides `global` and `profile`. */
const BASE_KEYS = ['base', 'defaultRevision', 'experimental'];

const HELM_GUIDE = 'https://istio.io/latest/docs/setup/install/multicluster/primary-remote_multi-network/ (Helm)';

/**
 * Translates the `spec` of a control plane IstioOperator (base.yaml merged with the cluster's settings, as `ControlPlane`
 * renders it) into the values of Istio's `base` and `istiod` charts.
 *
 * Pure: the input is not modified and the output shares nothing with it.
 */
export function translateControlPlane(iopSpec: Record<string, unknown>, opts: { readonly ambient?: boolean } = {}): ControlPlaneTranslation {
  const spec = structuredClone(iopSpec);
  const problems: TranslationProblem[] = [];
  const additions: HelmAddition[] = [];
  const problem = (path: string, message: string, fix: string) => problems.push({ path, message, fix });

  // 1. Top-level IstioOperator fields (translateIstioOperatorToHelm).
  const top: HelmValues = {};
  let values: HelmValues = {};
  let unvalidated: HelmValues = {};
  let components: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(spec)) {
    const path = `spec.${key}`;
    switch (key) {
      case 'profile':
      case 'values':
      case 'unvalidatedValues':
      case 'components':
        if (value !== undefined && value !== null && (key === 'profile' ? typeof value !== 'string' : !isObject(value))) {
          problem(path, `must be ${key === 'profile' ? 'a string' : 'a mapping'}, got ${describe(value)}`, `fix ${path} in base.yaml`);
        } else if (key === 'values') values = (value as HelmValues) ?? {};
        else if (key === 'unvalidatedValues') unvalidated = (value as HelmValues) ?? {};
        else if (key === 'components') components = (value as Record<string, unknown>) ?? {};
        break;
      case 'hub':
        if (isSet(value)) setPath(top, ['global', 'hub'], String(value));
        break;
      case 'tag':
        if (isSet(value)) setPath(top, ['global', 'tag'], String(value));
        break;
      case 'revision':
        if (isSet(value)) top.revision = String(value);
        break;
      case 'compatibilityVersion':
        if (isSet(value)) top.compatibilityVersion = String(value);
        break;
      case 'meshConfig':
        if (isObject(value)) top.meshConfig = value;
        else if (isSet(value)) problem(path, `must be a mapping, got ${describe(value)}`, `fix ${path} in base.yaml`);
        break;
      case 'namespace':
        if (isSet(value) && value !== ISTIO_NAMESPACE) {
          problem(path, `"${value}": meshgen installs the control plane in ${ISTIO_NAMESPACE} only`, `remove ${path} from base.yaml`);
        }
        break;
      case 'installPackagePath':
        if (isSet(value)) {
          problem(path, 'has no Helm equivalent: the charts come from the Helm repository', `remove ${path}; set istio.version in topology.yaml`);
        }
        break;
      default:
        problem(path, 'is not an IstioOperator field and has no Helm equivalent', `remove ${path} from base.yaml`);
    }
  }

  // 2. spec.values (and unvalidatedValues, which istioctl merges into them): the istiod chart's values as they are.
  const userValues: HelmValues = {};
  for (const [key, value] of Object.entries(deepMerge(values, unvalidated))) {
    const path = `spec.values.${key}`;
    if (Object.hasOwn(OTHER_CHART_VALUES, key)) {
      problem(path, `configures ${OTHER_CHART_VALUES[key]}, which meshgen does not install`, `remove ${path} from base.yaml`);
    } else if (!ISTIOD_VALUE_KEYS.has(key)) {
      problem(
        path,
        'is not a value of the istiod chart',
        `remove ${path} from base.yaml (values: https://istio.io/latest/docs/reference/config/istio.operator.v1alpha1/)`,
      );
    } else {
      userValues[key] = value;
    }
  }

  // 3. spec.components: enablement, hub/tag and the Kubernetes settings that have a chart value.
  const fromComponents: HelmValues = {};
  for (const [name, comp] of Object.entries(components)) {
    const path = `spec.components.${name}`;
    if (comp === null || comp === undefined) continue;
    switch (name) {
      case 'pilot':
        translatePilot(comp, path, fromComponents, problem);
        break;
      case 'base':
        if (!isObject(comp)) problem(path, `must be a mapping, got ${describe(comp)}`, `fix ${path}`);
        else {
          for (const [k, v] of Object.entries(comp)) {
            if (k === 'enabled' && v === false) {
              problem(
                `${path}.enabled`,
                'is false, but the base chart is always installed (required on every cluster since 1.24)',
                `remove ${path}.enabled`,
              );
            } else if (k !== 'enabled') {
              problem(`${path}.${k}`, 'has no equivalent in the base chart values', `remove ${path}.${k}`);
            }
          }
        }
        break;
      case 'cni':
        if (isObject(comp) && typeof comp.enabled === 'boolean') setPath(fromComponents, ['pilot', 'cni', 'enabled'], comp.enabled);
        if (enabled(comp, false))
          problem(path, 'the CNI node agent is the `cni` chart, which meshgen does not install', `install the cni chart yourself, or remove ${path}`);
        break;
      case 'ingressGateways':
      case 'egressGateways':
        if (!Array.isArray(comp)) problem(path, `must be a list, got ${describe(comp)}`, `fix ${path}`);
        else {
          comp.forEach((g, i) => {
            if (enabled(g)) {
              const gwName = isObject(g) && typeof g.name === 'string' ? ` ${g.name}` : '';
              problem(
                `${path}[${i}]`,
                `gateway${gwName} has no equivalent in the base/istiod charts`,
                `install it with Istio's gateway chart, or set ${path}[${i}].enabled: false`,
              );
            }
          });
        }
        break;
      default:
        // Settings of a disabled component have no effect in either rendering.
        if (enabled(comp, false)) {
          problem(path, `component ${name} has no equivalent in the base/istiod charts`, `install its chart yourself, or remove ${path}`);
        }
    }
  }

  // 4. Profile: a Helm profile of the same name where the charts have one.
  const profile = typeof spec.profile === 'string' ? spec.profile : '';
  const helmProfile: HelmValues = {};
  if (profile !== '' && profile !== 'default' && profile !== 'minimal') {
    if (HELM_PROFILES.includes(profile)) {
      helmProfile.profile = profile;
      if (profile.includes('ambient') && !opts.ambient) {
        problem(
          'spec.profile',
          `"${profile}" also installs the cni and ztunnel charts, which meshgen installs only for an ambient data plane`,
          'set istio.dataplane: ambient in topology.yaml (meshgen then installs cni and ztunnel), or install those charts yourself',
        );
      }
    } else {
      problem('spec.profile', `"${profile}" has no Helm profile`, `use one of default, minimal, ${HELM_PROFILES.join(', ')}`);
    }
  }

  // Precedence as in istioctl: top-level fields < spec.values < component settings (post-render patches win).
  const istiod = deepMerge(deepMerge(deepMerge(helmProfile, top), structuredClone(userValues)), fromComponents);
  const base: HelmValues = {};
  if (istiod.profile === 'remote') base.profile = 'remote';
  const userGlobal = isObject(userValues.global) ? userValues.global : {};
  for (const k of BASE_GLOBAL_KEYS) if (k in userGlobal) setPath(base, ['global', k], structuredClone(userGlobal[k]));
  for (const k of BASE_KEYS) if (k in userValues) base[k] = structuredClone(userValues[k]);

  // 5. What Istio's Helm guides add for the same topology.
  const add = (chart: 'base' | 'istiod', path: string, value: unknown, reason: string) => {
    const target = chart === 'base' ? base : istiod;
    const keys = path.split('.');
    if (getPath(target, keys) !== undefined) return;
    setPath(target, keys, value);
    additions.push({ chart, path, value, reason });
  };
  const remote = istiod.profile === 'remote';
  if (remote) {
    const why = `a remote's Helm install per ${HELM_GUIDE}`;
    add('base', 'global.externalIstiod', true, why);
    add('istiod', 'global.configCluster', true, why);
    add('istiod', 'pilot.enabled', false, why);
    add('istiod', 'pilot.env.EXTERNAL_ISTIOD', 'true', why);
  } else if (getPath(istiod, ['global', 'externalIstiod']) === true) {
    add('istiod', 'pilot.env.EXTERNAL_ISTIOD', 'true', `a primary serving remotes per ${HELM_GUIDE} and the Sail multicluster guide`);
  }
  if (typeof istiod.revision === 'string' && istiod.revision !== '') {
    add(
      'base',
      'defaultRevision',
      istiod.revision,
      "the base chart's default validating webhook must point at the revisioned istiod (https://istio.io/latest/docs/setup/upgrade/helm/#canary-upgrade-recommended)",
    );
  }
  return { base: sortKeys(base), istiod: sortKeys(istiod), problems, additions };
}

/**
 * Translates the east-west gateway IstioOperator (as `EastWestGateway` and `gen-eastwest-gateway.sh` write it: profile
 * `empty`, one ingress gateway) into the values of Istio's `gateway` chart, as the multicluster guides' Helm tab installs it:
 * `name: istio-eastwestgateway`, `networkGateway: <network>` (+ `revision`).
 *
 * `networkGateway` makes the chart add the `topology.istio.io/network` label to the pods and Service, the
 * `ISTIO_META_REQUESTED_NETWORK_VIEW` env var and the four ports 15021/15443/15012/15017; those are not repeated (a
 * repeated label would be a duplicate key in the rendered YAML). The chart always uses the `gateway` injection template.
 *
 * @see https://github.com/istio/istio/tree/1.30.3/manifests/charts/gateway/templates
 */
export function translateEastWestGateway(iopSpec: Record<string, unknown>): EastWestGatewayTranslation {
  const spec = structuredClone(iopSpec);
  const problems: TranslationProblem[] = [];
  const problem = (path: string, message: string, fix: string) => problems.push({ path, message, fix });
  const gateway: HelmValues = {};

  let network: string | undefined;
  const values = isObject(spec.values) ? spec.values : {};
  for (const [key, value] of Object.entries(values)) {
    const path = `spec.values.${key}`;
    if (key === 'global' && isObject(value)) {
      for (const [gk, gv] of Object.entries(value)) {
        if (gk === 'network' && typeof gv === 'string') network = gv;
        else problem(`${path}.${gk}`, 'has no equivalent in the gateway chart values', `remove ${path}.${gk}`);
      }
    } else if (key === 'gateways' && isObject(value)) {
      for (const [name, gw] of Object.entries(value)) {
        for (const [k, v] of Object.entries(isObject(gw) ? gw : {})) {
          // The gateway chart's pods always carry inject.istio.io/templates: gateway.
          if (name === 'istio-ingressgateway' && k === 'injectionTemplate' && v === 'gateway') continue;
          problem(`${path}.${name}.${k}`, 'has no equivalent in the gateway chart values', `remove ${path}.${name}.${k}`);
        }
      }
    } else {
      problem(path, 'has no equivalent in the gateway chart values', `remove ${path}`);
    }
  }

  let gw: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(spec)) {
    const path = `spec.${key}`;
    switch (key) {
      case 'values':
        break;
      case 'profile':
        // `empty` = install only the components listed, which is what a gateway release is.
        if (isSet(value) && value !== 'empty') problem(path, `"${value}" would also install a control plane`, 'use profile: empty');
        break;
      case 'revision':
        if (isSet(value)) gateway.revision = String(value);
        break;
      case 'components':
        gw = eastWestComponent(value, problem);
        break;
      default:
        if (isSet(value)) problem(path, 'has no equivalent in the gateway chart values', `remove ${path}`);
    }
  }
  if (gw === undefined) {
    problem('spec.components.ingressGateways', 'no enabled ingress gateway', 'list the east-west gateway under spec.components.ingressGateways');
    return { gateway: sortKeys(gateway), problems };
  }

  const path = 'spec.components.ingressGateways[0]';
  const label = isObject(gw.label) ? (gw.label as Record<string, unknown>) : {};
  const labelNetwork = label['topology.istio.io/network'];
  if (typeof labelNetwork === 'string') {
    if (network !== undefined && network !== labelNetwork) {
      problem(
        `${path}.label`,
        `topology.istio.io/network "${labelNetwork}" differs from values.global.network "${network}"`,
        'use the same network in both',
      );
    }
    network = labelNetwork;
  }
  for (const [k, v] of Object.entries(gw)) {
    const p = `${path}.${k}`;
    switch (k) {
      case 'name':
        gateway.name = String(v);
        break;
      case 'enabled':
        break;
      case 'namespace':
        if (isSet(v) && v !== ISTIO_NAMESPACE) problem(p, `"${v}": meshgen installs the gateway in ${ISTIO_NAMESPACE}`, `remove ${p}`);
        break;
      case 'label': {
        const labels: Record<string, unknown> = {};
        for (const [lk, lv] of Object.entries(label)) if (lk !== 'topology.istio.io/network') labels[lk] = lv;
        if (Object.keys(labels).length > 0) gateway.labels = labels;
        break;
      }
      case 'k8s':
        translateGatewayK8s(v, p, network, gateway, problem);
        break;
      default:
        if (isSet(v)) problem(p, 'has no equivalent in the gateway chart values (its image is injected by istiod)', `remove ${p}`);
    }
  }
  if (network !== undefined && network !== '') gateway.networkGateway = network;
  return { gateway: sortKeys(gateway), problems };
}

/** A deep copy with mapping keys sorted, so rendered values do not depend on construction order. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]);
  return out as T;
}

// ---------------------------------------------------------------------------------------------------------------

type Report = (path: string, message: string, fix: string) => void;

function translatePilot(comp: unknown, path: string, out: HelmValues, problem: Report): void {
  if (!isObject(comp)) {
    problem(path, `must be a mapping, got ${describe(comp)}`, `fix ${path}`);
    return;
  }
  for (const [k, v] of Object.entries(comp)) {
    const p = `${path}.${k}`;
    switch (k) {
      case 'enabled':
        if (typeof v === 'boolean') setPath(out, ['pilot', 'enabled'], v);
        break;
      case 'hub':
      case 'tag':
        if (isSet(v)) setPath(out, ['pilot', k], String(v));
        break;
      case 'namespace':
        if (isSet(v) && v !== ISTIO_NAMESPACE) problem(p, `"${v}": meshgen installs istiod in ${ISTIO_NAMESPACE}`, `remove ${p}`);
        break;
      case 'k8s':
        if (isObject(v)) translatePilotK8s(v, p, out, problem);
        else if (isSet(v)) problem(p, `must be a mapping, got ${describe(v)}`, `fix ${p}`);
        break;
      default:
        problem(p, 'is not a component setting and has no Helm equivalent', `remove ${p}`);
    }
  }
}

/** `components.pilot.k8s.<field>` → the istiod chart value with the same effect on the istiod Deployment. */
const PILOT_K8S: Record<string, string[]> = {
  resources: ['pilot', 'resources'],
  replicaCount: ['pilot', 'replicaCount'],
  nodeSelector: ['pilot', 'nodeSelector'],
  tolerations: ['pilot', 'tolerations'],
  affinity: ['pilot', 'affinity'],
  podAnnotations: ['pilot', 'podAnnotations'],
  serviceAnnotations: ['pilot', 'serviceAnnotations'],
  volumes: ['pilot', 'volumes'],
  volumeMounts: ['pilot', 'volumeMounts'],
};

/** Fields whose nearest chart value has a wider effect than the IstioOperator patch, with the fix to suggest. */
const PILOT_K8S_NO_EQUIVALENT: Record<string, string> = {
  priorityClassName: 'values.global.priorityClassName sets it on every Deployment the charts render; set it there if that is intended',
  imagePullPolicy: 'values.global.imagePullPolicy also applies to every injected proxy; set it there if that is intended',
  securityContext: 'the istiod chart sets the pod security context itself; remove it',
  podDisruptionBudget: 'the istiod chart only has values.global.defaultPodDisruptionBudget.enabled; remove it',
  readinessProbe: 'the istiod chart sets the probe itself; remove it',
  service: 'the istiod chart renders the Service itself; remove it',
  overlays: 'Helm has no post-render patches; use a Flux postRenderers kustomize patch or remove it',
};

function translatePilotK8s(k8s: Record<string, unknown>, path: string, out: HelmValues, problem: Report): void {
  for (const [k, v] of Object.entries(k8s)) {
    const p = `${path}.${k}`;
    if (Object.hasOwn(PILOT_K8S, k)) {
      setPath(out, PILOT_K8S[k], v);
    } else if (k === 'env') {
      translateEnv(v, p, out, ['pilot'], problem);
    } else if (k === 'hpaSpec') {
      translateHpa(v, p, out, problem);
    } else if (k === 'strategy') {
      const ru = isObject(v) && isObject(v.rollingUpdate) ? v.rollingUpdate : undefined;
      if (isObject(v) && v.type !== undefined && v.type !== 'RollingUpdate') {
        problem(`${p}.type`, `"${v.type}": the istiod chart always uses RollingUpdate`, `remove ${p}.type`);
      }
      for (const [rk, rv] of Object.entries(ru ?? {})) {
        if (rk === 'maxSurge') setPath(out, ['pilot', 'rollingMaxSurge'], rv);
        else if (rk === 'maxUnavailable') setPath(out, ['pilot', 'rollingMaxUnavailable'], rv);
        else problem(`${p}.rollingUpdate.${rk}`, 'has no equivalent in the istiod chart values', `remove ${p}.rollingUpdate.${rk}`);
      }
      for (const sk of Object.keys(isObject(v) ? v : {})) {
        if (sk !== 'type' && sk !== 'rollingUpdate') problem(`${p}.${sk}`, 'has no equivalent in the istiod chart values', `remove ${p}.${sk}`);
      }
    } else {
      const fix = (Object.hasOwn(PILOT_K8S_NO_EQUIVALENT, k) ? PILOT_K8S_NO_EQUIVALENT[k] : undefined) ?? `remove ${p}`;
      problem(p, 'has no equivalent in the istiod chart values (istioctl applies it as a patch after rendering)', fix);
    }
  }
}

function translateEnv(v: unknown, path: string, out: HelmValues, at: string[], problem: Report): void {
  if (!Array.isArray(v)) {
    problem(path, `must be a list of {name, value}, got ${describe(v)}`, `fix ${path}`);
    return;
  }
  v.forEach((e, i) => {
    const p = `${path}[${i}]`;
    if (!isObject(e) || typeof e.name !== 'string') {
      problem(p, 'must be {name, value} or {name, valueFrom}', `fix ${p}`);
    } else if (e.valueFrom !== undefined) {
      const list = (getPath(out, [...at, 'envVarFrom']) as unknown[] | undefined) ?? [];
      setPath(out, [...at, 'envVarFrom'], [...list, { name: e.name, valueFrom: e.valueFrom }]);
    } else {
      setPath(out, [...at, 'env', e.name], e.value === undefined || e.value === null ? '' : String(e.value));
    }
  });
}

function translateHpa(v: unknown, path: string, out: HelmValues, problem: Report): void {
  if (!isObject(v)) {
    problem(path, `must be a mapping, got ${describe(v)}`, `fix ${path}`);
    return;
  }
  for (const [k, hv] of Object.entries(v)) {
    const p = `${path}.${k}`;
    if (k === 'minReplicas') setPath(out, ['pilot', 'autoscaleMin'], hv);
    else if (k === 'maxReplicas') setPath(out, ['pilot', 'autoscaleMax'], hv);
    else if (k === 'behavior') setPath(out, ['pilot', 'autoscaleBehavior'], hv);
    else if (k === 'metrics' && Array.isArray(hv)) {
      hv.forEach((m, i) => {
        const util = utilization(m);
        if (util) {
          setPath(out, ['pilot', util.name, 'targetAverageUtilization'], util.value);
        } else {
          problem(`${p}[${i}]`, 'only cpu and memory Utilization targets have an istiod chart value', `remove ${p}[${i}]`);
        }
      });
    } else problem(p, 'has no equivalent in the istiod chart values', `remove ${p}`);
  }
}

/** A `{type: Resource, resource: {name: cpu|memory, target: {type: Utilization, averageUtilization}}}` HPA metric. */
function utilization(m: unknown): { name: 'cpu' | 'memory'; value: number } | undefined {
  const r = isObject(m) && m.type === 'Resource' && isObject(m.resource) ? m.resource : undefined;
  const target = r && isObject(r.target) ? r.target : undefined;
  if (!r || (r.name !== 'cpu' && r.name !== 'memory') || target?.type !== 'Utilization' || typeof target.averageUtilization !== 'number')
    return undefined;
  return { name: r.name, value: target.averageUtilization };
}

/** The one enabled ingress gateway of the east-west IstioOperator; everything else is a problem. */
function eastWestComponent(components: unknown, problem: Report): Record<string, unknown> | undefined {
  if (!isObject(components)) {
    problem('spec.components', `must be a mapping, got ${describe(components)}`, 'fix spec.components');
    return undefined;
  }
  let found: Record<string, unknown> | undefined;
  for (const [name, comp] of Object.entries(components)) {
    const path = `spec.components.${name}`;
    if (name !== 'ingressGateways') {
      if (Array.isArray(comp) ? comp.some((c) => enabled(c, false)) : enabled(comp, false)) {
        problem(path, 'has no equivalent in the gateway chart values', `remove ${path}`);
      }
      continue;
    }
    if (!Array.isArray(comp)) {
      problem(path, `must be a list, got ${describe(comp)}`, `fix ${path}`);
      continue;
    }
    comp.forEach((g, i) => {
      if (!isObject(g) || !enabled(g)) return;
      if (found === undefined && i === 0) found = g;
      else problem(`${path}[${i}]`, 'one gateway chart release installs one gateway', `move ${path}[${i}] to its own gateway release`);
    });
  }
  return found;
}

/** The ports the gateway chart's Service gets from `networkGateway` (`templates/service.yaml`). */
const NETWORK_GATEWAY_PORTS = [
  { name: 'status-port', port: 15021, targetPort: 15021 },
  { name: 'tls', port: 15443, targetPort: 15443 },
  { name: 'tls-istiod', port: 15012, targetPort: 15012 },
  { name: 'tls-webhook', port: 15017, targetPort: 15017 },
];

/** `k8s.<field>` of a gateway component → gateway chart value (`manifests/charts/gateway/values.yaml`). */
const GATEWAY_K8S: Record<string, string[]> = {
  resources: ['resources'],
  replicaCount: ['replicaCount'],
  nodeSelector: ['nodeSelector'],
  tolerations: ['tolerations'],
  affinity: ['affinity'],
  podAnnotations: ['podAnnotations'],
  serviceAnnotations: ['service', 'annotations'],
  priorityClassName: ['priorityClassName'],
  imagePullPolicy: ['imagePullPolicy'],
  securityContext: ['securityContext'],
  strategy: ['strategy'],
  readinessProbe: ['readinessProbe'],
  podDisruptionBudget: ['podDisruptionBudget'],
  volumes: ['volumes'],
  volumeMounts: ['volumeMounts'],
};

/** `k8s.service.<field>` → gateway chart `service.<field>`. */
const GATEWAY_SERVICE = ['externalTrafficPolicy', 'loadBalancerIP', 'loadBalancerSourceRanges', 'ipFamilies', 'ipFamilyPolicy'];

function translateGatewayK8s(k8s: unknown, path: string, network: string | undefined, out: HelmValues, problem: Report): void {
  if (!isObject(k8s)) {
    if (isSet(k8s)) problem(path, `must be a mapping, got ${describe(k8s)}`, `fix ${path}`);
    return;
  }
  for (const [k, v] of Object.entries(k8s)) {
    const p = `${path}.${k}`;
    if (Object.hasOwn(GATEWAY_K8S, k)) {
      setPath(out, GATEWAY_K8S[k], v);
    } else if (k === 'env') {
      // networkGateway adds ISTIO_META_REQUESTED_NETWORK_VIEW=<network>; that entry is not repeated.
      const list = Array.isArray(v) ? v : [];
      list.forEach((e, i) => {
        if (isObject(e) && e.name === 'ISTIO_META_REQUESTED_NETWORK_VIEW' && (network === undefined || e.value !== network)) {
          problem(
            `${p}[${i}]`,
            `ISTIO_META_REQUESTED_NETWORK_VIEW "${e.value}" is not the gateway's network ("${network ?? ''}"), which networkGateway sets it to`,
            'use the same network in the label, values.global.network and this env var',
          );
        }
      });
      const rest = Array.isArray(v) ? v.filter((e) => !(isObject(e) && e.name === 'ISTIO_META_REQUESTED_NETWORK_VIEW')) : v;
      translateEnv(rest, p, out, [], problem);
    } else if (k === 'hpaSpec' && isObject(v)) {
      for (const [hk, hv] of Object.entries(v)) {
        if (hk === 'minReplicas' || hk === 'maxReplicas') setPath(out, ['autoscaling', hk], hv);
        else if (hk === 'behavior') setPath(out, ['autoscaling', 'autoscaleBehavior'], hv);
        else if (hk === 'metrics' && Array.isArray(hv)) {
          hv.forEach((m, i) => {
            const util = utilization(m);
            if (util)
              setPath(out, ['autoscaling', util.name === 'cpu' ? 'targetCPUUtilizationPercentage' : 'targetMemoryUtilizationPercentage'], util.value);
            else problem(`${p}.metrics[${i}]`, 'only cpu and memory Utilization targets have a gateway chart value', `remove ${p}.metrics[${i}]`);
          });
        } else problem(`${p}.${hk}`, 'has no equivalent in the gateway chart values', `remove ${p}.${hk}`);
      }
    } else if (k === 'service' && isObject(v)) {
      for (const [sk, sv] of Object.entries(v)) {
        const sp = `${p}.${sk}`;
        if (sk === 'type') {
          if (sv !== 'LoadBalancer') setPath(out, ['service', 'type'], sv);
        } else if (sk === 'ports') {
          if (network === undefined) setPath(out, ['service', 'ports'], sv);
          else if (!samePorts(sv, NETWORK_GATEWAY_PORTS)) {
            problem(
              sp,
              'differ from the ports networkGateway gives the Service (15021, 15443, 15012, 15017)',
              'set networkGatewayPorts in the gateway values',
            );
          }
        } else if (GATEWAY_SERVICE.includes(sk)) {
          setPath(out, ['service', sk], sv);
        } else {
          problem(sp, 'has no equivalent in the gateway chart values', `remove ${sp}`);
        }
      }
    } else {
      problem(p, 'has no equivalent in the gateway chart values', `remove ${p}`);
    }
  }
}

function samePorts(actual: unknown, expected: readonly { name: string; port: number; targetPort: number }[]): boolean {
  if (!Array.isArray(actual) || actual.length !== expected.length) return false;
  return expected.every((e) =>
    actual.some(
      (a) => isObject(a) && a.name === e.name && a.port === e.port && (a.targetPort ?? a.port) === e.targetPort && (a.protocol ?? 'TCP') === 'TCP',
    ),
  );
}

/**
 * Whether a component (or gateway list entry) is enabled. A listed gateway entry defaults to enabled (istioctl's
 * `GetValueOrTrue`); cni, ztunnel and the other optional components are disabled by the default profile.
 */
function enabled(comp: unknown, byDefault = true): boolean {
  if (!isObject(comp)) return false;
  return typeof comp.enabled === 'boolean' ? comp.enabled : byDefault;
}

function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

function getPath(obj: Record<string, unknown>, keys: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const k of keys) {
    if (!isObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;
}
