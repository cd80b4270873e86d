/**
 * What a change of `dist/` does to each cluster, in Istio's terms: the objects of the old and the new tree are parsed
 * and compared by what they are (the merged IstioOperator of istiod and of the east-west gateway, `cacerts`, remote
 * secrets, the istio-system Namespace, the GitOps entry points...), not line by line. Secret values are never read
 * beyond "changed": a changed ciphertext is "resealed".
 */
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { Tree } from '../output/tree';
import { UNSEALED_PLACEHOLDER } from '../secrets/sealer';
import { isRecord } from '../util/records';

/** One semantic change. */
export interface PlanChange {
  /** `+` added, `-` removed, `~` changed, `!` needs `meshgen synth` (keys or sealing this run does not do). */
  readonly op: '+' | '-' | '~' | '!';
  /** The cluster; absent for what concerns the whole mesh (the Argo CD ApplicationSet, other files). */
  readonly cluster?: string;
  /**
   * What changed: `cluster` (added or removed), `istio` (torn down, or installed again), `installer`, `role`, `version`, `istiod`, `east-west gateway`, `namespace`, `cacerts`,
   * `remote secret`, `argocd`, `flux`, `object`, `files`, `needs synth`.
   */
  readonly subject: string;
  /** For `istiod` / `east-west gateway` / `namespace` / `object`: the field (`values.global.network`). */
  readonly path?: string;
  /** For `remote secret`: the peer cluster. For `object`: `<Kind> <name>`. */
  readonly target?: string;
  /** The old value, when it is shown (never a secret). */
  readonly from?: string;
  /** The new value, when it is shown (never a secret). */
  readonly to?: string;
  /** The line, without the cluster: `+ remote secret for cluster-west-2`. */
  readonly text: string;
  /** Why this disrupts traffic or the control plane, when it does: `istiod restart`, `Istio will be pruned`... */
  readonly disruptive?: string;
}

/** The expiry of a cluster's (new) intermediate CA, for "cacerts resealed" lines. */
export type ExpiryOf = (cluster: string) => Date | undefined;

type Obj = Record<string, unknown>;
type Seg = string | number;

/** The objects of one cluster (or of the mesh), keyed by area, kind, namespace and name. */
interface View {
  readonly objects: Map<string, Obj>;
  /** Files (relative to dist/) and their content. */
  readonly files: Map<string, string>;
  /** The Argo CD list-generator element of this cluster. */
  argo?: Obj;
  /** Files holding an ApplicationSet (whose elements belong to the clusters). */
  readonly argoFiles: Set<string>;
}

const ISTIOD = 'istioctl:IstioOperator:istio-system/control-plane';
const GATEWAY = 'istioctl:IstioOperator:istio-system/eastwest';
const NAMESPACE = 'cluster:Namespace:/istio-system';
const SECRET_FIELDS = new Set(['data', 'stringData', 'encryptedData']);

/**
 * The semantic changes from `oldTree` to `newTree` (both relative to `dist/`), cluster by cluster (sorted), then the
 * mesh-wide ones.
 */
export function semanticChanges(oldTree: Tree, newTree: Tree, expiryOf: ExpiryOf): PlanChange[] {
  // Only the clusters with a changed file are parsed (a large mesh has hundreds of megabytes of manifests).
  const dirty = new Set<string>();
  for (const rel of new Set([...oldTree.keys(), ...newTree.keys()])) {
    if (oldTree.get(rel) !== newTree.get(rel)) dirty.add(groupOf(rel) ?? '');
  }
  const before = views(oldTree, dirty);
  const after = views(newTree, dirty);
  const names = [...new Set([...before.clusters.keys(), ...after.clusters.keys()])].sort();
  const out: PlanChange[] = [];
  for (const c of names) {
    const [a, b] = [before.clusters.get(c), after.clusters.get(c)];
    // A cluster whose files did not change can only change through its element of the ApplicationSet.
    out.push(...(dirty.has(c) ? clusterChanges(c, a, b, expiryOf) : argoChanges(c, a?.argo, b?.argo)));
  }
  out.push(
    ...meshChanges(
      before.mesh,
      after.mesh,
      out.some((c) => c.subject === 'argocd'),
    ),
  );
  // dist/README.md documents the rest: it changes with it, and is named only when nothing else changed.
  if (out.length === 0 && oldTree.get(README_FILE) !== newTree.get(README_FILE)) {
    out.push(
      ...fileChanges(undefined, new Map([[README_FILE, oldTree.get(README_FILE) ?? '']]), new Map([[README_FILE, newTree.get(README_FILE) ?? '']])),
    );
  }
  return out;
}

/** The generated documentation of dist/ (see src/output/readme.ts). */
const README_FILE = 'README.md';

/** The cluster a file of dist/ belongs to (`clusters/<c>/...`, `flux/<c>/...`); undefined for mesh-wide files. */
function groupOf(rel: string): string | undefined {
  return /^(?:clusters|flux)\/([^/]+)\//.exec(rel)?.[1];
}

function argoChanges(cluster: string, a: Obj | undefined, b: Obj | undefined): PlanChange[] {
  return leafDiff(a ?? {}, b ?? {}).map((d) => {
    const p = formatPath(d.path);
    return { op: d.op, cluster, subject: 'argocd', path: p, ...fromTo(d), text: `${d.op} Argo CD Application parameter ${p}${valueText(d)}` };
  });
}

// ---------------------------------------------------------------------------------------------------------------------
// Reading a tree

function emptyView(): View {
  return { objects: new Map(), files: new Map(), argoFiles: new Set() };
}

function views(tree: Tree, dirty: ReadonlySet<string>): { clusters: Map<string, View>; mesh: View } {
  const clusters = new Map<string, View>();
  const mesh = emptyView();
  const viewOf = (c: string) => {
    let v = clusters.get(c);
    if (!v) {
      v = emptyView();
      clusters.set(c, v);
    }
    return v;
  };
  for (const [rel, text] of [...tree].sort(([a], [b]) => cmp(a, b))) {
    const m = /^(clusters|flux)\/([^/]+)\/(.+)$/.exec(rel);
    if (m && !dirty.has(m[2])) continue;
    const view = m ? viewOf(m[2]) : mesh;
    view.files.set(rel, text);
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    if (base === 'kustomization.yaml' || !/\.ya?ml$/.test(base)) continue;
    const area = !m ? 'mesh' : m[1] === 'flux' ? 'flux' : m[3].startsWith('istioctl/') ? 'istioctl' : m[3].startsWith('helm/') ? 'helm' : 'cluster';
    if (area === 'helm') {
      const chart = /^helm\/([^/]+)-values\.ya?ml$/.exec(m?.[3] ?? '')?.[1] ?? m?.[3];
      view.objects.set(`helm:HelmValues:/${chart}`, { kind: 'HelmValues', metadata: { name: chart }, values: parseOne(text) ?? {} });
      continue;
    }
    for (const doc of parseDocs(text)) {
      if (!isRecord(doc)) continue;
      if (doc.kind === 'ApplicationSet' && area === 'mesh') {
        // Per-cluster elements of the list generator go to their cluster; the rest is mesh-wide.
        const copy = structuredClone(doc);
        for (const g of asArray((copy.spec as Obj | undefined)?.generators)) {
          const list = isRecord(g) && isRecord(g.list) ? g.list : undefined;
          if (!list) continue;
          for (const e of asArray(list.elements)) if (isRecord(e) && typeof e.cluster === 'string') viewOf(e.cluster).argo = e;
          list.elements = '(per cluster)';
        }
        add(view, area, copy);
        view.argoFiles.add(rel);
        continue;
      }
      add(view, area, doc);
    }
  }
  return { clusters, mesh };
}

function add(view: View, area: string, doc: Obj): void {
  const md = isRecord(doc.metadata) ? doc.metadata : {};
  let id = `${area}:${String(doc.kind)}:${md.namespace ?? ''}/${String(md.name)}`;
  for (let i = 2; view.objects.has(id); i++) id = `${id.replace(/#\d+$/, '')}#${i}`;
  view.objects.set(id, doc);
}

function parseDocs(text: string): unknown[] {
  try {
    return parseAllDocuments(text)
      .filter((d) => d.contents !== null && d.errors.length === 0)
      .map((d) => d.toJS());
  } catch {
    return [];
  }
}

function parseOne(text: string): unknown {
  return parseDocs(text)[0];
}

// ---------------------------------------------------------------------------------------------------------------------
// Facets of a cluster view

function installerOf(v: View): string | undefined {
  if (v.objects.has('helm:HelmValues:/istiod')) return 'helm';
  for (const [id, o] of v.objects) {
    if (id.startsWith('cluster:Istio:')) return 'sail';
    if (id === 'cluster:IstioOperator:istio-system/control-plane' && o.kind === 'IstioOperator') return 'operator';
  }
  return undefined;
}

function specOf(v: View, id: string): Obj | undefined {
  const o = v.objects.get(id);
  return o && isRecord(o.spec) ? o.spec : o ? {} : undefined;
}

function roleOf(v: View): string | undefined {
  const spec = specOf(v, ISTIOD);
  if (!spec) return undefined;
  return spec.profile === 'remote' ? 'remote' : 'primary';
}

function networkOf(v: View): string | undefined {
  const n = get(specOf(v, ISTIOD), ['values', 'global', 'network']);
  return typeof n === 'string' ? n : undefined;
}

/** The Istio version: the istiod chart's (Flux HelmRelease), or the Sail `Istio`'s. */
function versionOf(v: View): string | undefined {
  for (const [id, o] of v.objects) {
    if (id === 'flux:HelmRelease:istio-system/istiod' || /^flux:HelmRelease:[^/]*\/istiod(-|$)/.test(id)) {
      const ver = get(o, ['spec', 'chart', 'spec', 'version']);
      if (typeof ver === 'string') return ver.replace(/^v/, '');
    }
    if (id.startsWith('cluster:Istio:')) {
      const ver = get(o, ['spec', 'version']);
      if (typeof ver === 'string') return ver.replace(/^v/, '');
    }
  }
  return undefined;
}

function serviceTypeOf(gatewaySpec: Obj): string {
  const gw = asArray(get(gatewaySpec, ['components', 'ingressGateways']))[0];
  const t = get(gw, ['k8s', 'service', 'type']);
  return typeof t === 'string' ? t : 'LoadBalancer';
}

/** The objects of the cluster directory that Argo CD / Flux apply (not istioctl/, helm/ or flux/). */
function appliedObjects(v: View): Obj[] {
  return [...v.objects].filter(([id]) => id.startsWith('cluster:')).map(([, o]) => o);
}

function secretKind(v: View, name: string): [string, Obj] | undefined {
  for (const [id, o] of v.objects) {
    const m = /^cluster:(SealedSecret|ExternalSecret):istio-system\/(.+)$/.exec(id);
    if (m && m[2] === name) return [id, o];
  }
  return undefined;
}

function remoteSecrets(v: View): Map<string, [string, Obj]> {
  const out = new Map<string, [string, Obj]>();
  for (const [id, o] of v.objects) {
    const m = /^cluster:(SealedSecret|ExternalSecret):istio-system\/istio-remote-secret-(.+)$/.exec(id);
    if (m) out.set(m[2], [id, o]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------------
// Changes of one cluster

function clusterChanges(cluster: string, before: View | undefined, after: View | undefined, expiryOf: ExpiryOf): PlanChange[] {
  const out: PlanChange[] = [];
  const push = (c: Omit<PlanChange, 'cluster'>) => out.push({ cluster, ...c });
  const had = before !== undefined && appliedObjects(before).length > 0;
  const has = after !== undefined && appliedObjects(after).length > 0;

  if (!before || !after || !had || !has) {
    if (has && after) {
      const what = before
        ? 'Istio installed again (the mesh was torn down)'
        : `cluster added: ${roleOf(after) ?? 'primary'}${networkOf(after) ? ` on ${networkOf(after)}` : ''}` +
          `${installerOf(after) ? `, installer ${installerOf(after)}` : ''}; Istio will be installed`;
      push({ op: '+', subject: before ? 'istio' : 'cluster', text: `+ ${what}` });
      push(cacertsAdded(cluster, after, expiryOf));
      for (const [peer, [, o]] of [...remoteSecrets(after)].sort(([a], [b]) => cmp(a, b))) push(remoteSecretAdded(peer, o));
      const gw = specOf(after, GATEWAY);
      if (gw) push({ op: '+', subject: 'east-west gateway', text: `+ east-west gateway (Service ${serviceTypeOf(gw)})` });
      if (!before) {
        if (after.argo) push({ op: '+', subject: 'argocd', text: '+ Argo CD Application (list generator element)' });
        if ([...after.files.keys()].some((f) => f.startsWith(`flux/${cluster}/`))) {
          push({ op: '+', subject: 'flux', text: `+ Flux entry point dist/flux/${cluster}/ (point the cluster's Flux Kustomization at it)` });
        }
      }
    } else if (had && before) {
      const removed = !after;
      push({
        op: '-',
        subject: removed ? 'cluster' : 'istio',
        text: removed ? '- cluster removed: Istio will be pruned from it' : '- Istio removed (teardown): everything meshgen installed is pruned',
        disruptive: 'Istio will be pruned',
      });
    } else if (before && after) {
      // Neither side has manifests (a torn-down cluster): compare what there is (the Flux entry point).
      out.push(...objectChanges(cluster, before, after, new Set()));
      if (out.length === 0) out.push(...fileChanges(cluster, before.files, after.files));
    } else if (after) push({ op: '+', subject: 'cluster', text: '+ cluster added (torn down: nothing is installed)' });
    else push({ op: '-', subject: 'cluster', text: '- cluster removed (it was torn down: nothing to prune)' });
    return out;
  }

  const handled = new Set<string>([ISTIOD, GATEWAY, NAMESPACE]);
  // Installer, role, version.
  const [i0, i1] = [installerOf(before), installerOf(after)];
  const installerChanged = i0 !== i1;
  if (installerChanged) {
    push({
      op: '~',
      subject: 'installer',
      from: i0 ?? 'none',
      to: i1 ?? 'none',
      text: `~ installer: ${i0 ?? 'none'} → ${i1 ?? 'none'}`,
      disruptive: 'the control plane is reinstalled by another installer',
    });
  }
  const [r0, r1] = [roleOf(before), roleOf(after)];
  if (r0 !== r1 && r0 !== undefined && r1 !== undefined) {
    push({
      op: '~',
      subject: 'role',
      from: r0,
      to: r1,
      text: `~ role: ${r0} → ${r1}`,
      disruptive: r1 === 'remote' ? 'istiod is removed from this cluster (its primary runs it)' : 'istiod is installed on this cluster',
    });
  }
  const [v0, v1] = [versionOf(before), versionOf(after)];
  if (v0 !== v1 && v0 !== undefined && v1 !== undefined) {
    push({
      op: '~',
      subject: 'version',
      from: v0,
      to: v1,
      text: `~ Istio version: ${v0} → ${v1}`,
      disruptive: 'istiod and gateway restart (upgrade)',
    });
  }

  // istiod: the merged IstioOperator, leaf by leaf.
  const iop0 = specOf(before, ISTIOD);
  const iop1 = specOf(after, ISTIOD);
  const istiodChanged = !isDeepStrictEqual(iop0, iop1);
  for (const d of leafDiff(iop0 ?? {}, iop1 ?? {})) {
    const p = formatPath(d.path);
    if (p === 'profile' && r0 !== r1 && r0 !== undefined && r1 !== undefined) continue;
    const restart = d.path[0] !== 'meshConfig';
    push({
      op: d.op,
      subject: 'istiod',
      path: p,
      ...fromTo(d),
      text: `${d.op} istiod ${p}${valueText(d)}`,
      disruptive: restart ? 'istiod restart' : undefined,
    });
  }

  // The east-west gateway.
  const gw0 = specOf(before, GATEWAY);
  const gw1 = specOf(after, GATEWAY);
  const gatewayChanged = !isDeepStrictEqual(gw0, gw1);
  if (!gw0 && gw1) push({ op: '+', subject: 'east-west gateway', text: `+ east-west gateway (Service ${serviceTypeOf(gw1)})` });
  else if (gw0 && !gw1) {
    push({ op: '-', subject: 'east-west gateway', text: '- east-west gateway', disruptive: 'cross-network traffic through this cluster stops' });
  } else if (gw0 && gw1 && gatewayChanged) {
    const [t0, t1] = [serviceTypeOf(gw0), serviceTypeOf(gw1)];
    if (t0 !== t1) {
      push({
        op: '~',
        subject: 'east-west gateway',
        path: 'service.type',
        from: t0,
        to: t1,
        text: `~ east-west gateway Service type: ${t0} → ${t1}`,
        disruptive: 'the gateway Service is recreated: its external address changes',
      });
    }
    const [n0, n1] = [get(gw0, ['values', 'global', 'network']), get(gw1, ['values', 'global', 'network'])];
    if (n0 !== n1) {
      push({
        op: '~',
        subject: 'east-west gateway',
        path: 'network',
        ...fromTo({ from: n0, to: n1 }),
        text: `~ east-west gateway network: ${show(n0)} → ${show(n1)}`,
      });
    }
    for (const d of leafDiff(gw0, gw1)) {
      const p = formatPath(d.path);
      // Folded into the lines above: the Service type, and every field that only carries the network.
      if (/\.k8s\.service\.type$/.test(p) || (n0 !== n1 && (d.from === n0 || d.from === undefined) && (d.to === n1 || d.to === undefined))) continue;
      push({ op: d.op, subject: 'east-west gateway', path: p, ...fromTo(d), text: `${d.op} east-west gateway ${p}${valueText(d)}` });
    }
  }

  // The istio-system Namespace: its labels and annotations.
  const ns0 = before.objects.get(NAMESPACE);
  const ns1 = after.objects.get(NAMESPACE);
  for (const field of ['labels', 'annotations'] as const) {
    const a = get(ns0, ['metadata', field]);
    const b = get(ns1, ['metadata', field]);
    for (const d of leafDiff(isRecord(a) ? a : {}, isRecord(b) ? b : {})) {
      const key = String(d.path[0]);
      push({
        op: d.op,
        subject: 'namespace',
        path: `metadata.${field}.${key}`,
        ...fromTo(d),
        text: `${d.op} namespace istio-system ${field.slice(0, -1)} ${key}${valueText(d)}`,
      });
    }
  }

  // cacerts.
  const ca0 = secretKind(before, 'cacerts');
  const ca1 = secretKind(after, 'cacerts');
  if (ca0) handled.add(ca0[0]);
  if (ca1) handled.add(ca1[0]);
  if (!ca0 && ca1) push(cacertsAdded(cluster, after, expiryOf));
  else if (ca0 && !ca1) push({ op: '-', subject: 'cacerts', text: '- cacerts', disruptive: 'istiod loses its CA on restart' });
  else if (ca0 && ca1) out.push(...cacertsChanged(cluster, ca0[1], ca1[1], expiryOf));

  // Remote secrets.
  const rs0 = remoteSecrets(before);
  const rs1 = remoteSecrets(after);
  for (const peer of [...new Set([...rs0.keys(), ...rs1.keys()])].sort()) {
    const a = rs0.get(peer);
    const b = rs1.get(peer);
    if (a) handled.add(a[0]);
    if (b) handled.add(b[0]);
    if (!a && b) push(remoteSecretAdded(peer, b[1]));
    else if (a && !b) push({ op: '-', subject: 'remote secret', target: peer, text: `- remote secret for ${peer}` });
    else if (a && b && a[1].kind !== b[1].kind) {
      push({ op: '~', subject: 'remote secret', target: peer, text: `~ remote secret for ${peer}: ${String(a[1].kind)} → ${String(b[1].kind)}` });
    } else if (a && b && !isDeepStrictEqual(a[1], b[1])) {
      const paths = leafDiff(a[1], b[1]).map((d) => d.path);
      const resealed = paths.some((p) => p.includes('encryptedData'));
      const other = paths.filter((p) => !p.includes('encryptedData')).map(formatPath);
      const pending = isPending(b[1]) ? ' (sealed by the next synth)' : '';
      const what = [resealed ? `resealed${pending}` : '', other.length > 0 ? `changed: ${pathList(other)}` : ''].filter(Boolean).join('; ');
      push({ op: '~', subject: 'remote secret', target: peer, text: `~ remote secret for ${peer} ${what}` });
    }
  }

  // Argo CD: this cluster's element of the ApplicationSet.
  out.push(...argoChanges(cluster, before.argo, after.argo));

  // Derived forms of istiod and the gateway (Helm values, the operator's or Sail's resources, Flux HelmRelease values):
  // reported only when their source did not change (a translation change), and not at all when the installer did.
  for (const [id, o] of [...before.objects, ...after.objects]) {
    const derived = derivedOf(id);
    if (!derived) continue;
    handled.add(id);
    if (installerChanged) continue;
    if ((derived === 'istiod' && istiodChanged) || (derived === 'gateway' && gatewayChanged)) continue;
    const a = derivedPart(id, before.objects.get(id));
    const b = derivedPart(id, after.objects.get(id));
    if (isDeepStrictEqual(a, b) || out.some((c) => c.subject === 'object' && c.target === label(id, o))) continue;
    const paths = leafDiff(a ?? {}, b ?? {}).map((d) => formatPath(d.path));
    push({
      op: '~',
      subject: 'object',
      target: label(id, o),
      text: `~ ${label(id, o)}: ${pathList(paths)} (translated from an unchanged IstioOperator)`,
    });
  }
  // Flux HelmReleases also carry the chart version (reported above) and their own settings.
  out.push(...objectChanges(cluster, before, after, handled, v0 !== v1));
  if (out.length === 0) out.push(...fileChanges(cluster, before.files, after.files));
  return out;
}

/** The source a derived object is translated from, if it is one. */
function derivedOf(id: string): 'istiod' | 'gateway' | undefined {
  if (id.startsWith('helm:')) return id.endsWith('/gateway') ? 'gateway' : 'istiod';
  if (id === 'cluster:IstioOperator:istio-system/control-plane' || id.startsWith('cluster:Istio:')) return 'istiod';
  if (id === 'cluster:IstioOperator:istio-system/eastwest') return 'gateway';
  return undefined;
}

/** What of a derived object is derived (the rest is compared as any object). */
function derivedPart(id: string, o: Obj | undefined): unknown {
  if (!o) return undefined;
  if (id.startsWith('helm:')) return o.values;
  return withoutPaths(o, [['spec', 'version']]);
}

function cacertsAdded(cluster: string, v: View, expiryOf: ExpiryOf): Omit<PlanChange, 'cluster'> {
  const ca = secretKind(v, 'cacerts');
  if (ca && get(ca[1], ['kind']) === 'ExternalSecret') return { op: '+', subject: 'cacerts', text: '+ cacerts (ExternalSecret)' };
  const exp = expiryOf(cluster);
  const notes = [
    ...(exp ? [`intermediate CA expires ${isoDate(exp)}`] : []),
    ...(ca && isPending(ca[1]) ? [exp ? 'sealed by the next synth' : 'issued and sealed by the next synth'] : []),
  ];
  return { op: '+', subject: 'cacerts', text: `+ cacerts${notes.length > 0 ? ` (${notes.join('; ')})` : ''}` };
}

function cacertsChanged(cluster: string, a: Obj, b: Obj, expiryOf: ExpiryOf): PlanChange[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (a.kind !== b.kind) {
    return [
      { op: '~', cluster, subject: 'cacerts', from: String(a.kind), to: String(b.kind), text: `~ cacerts: ${String(a.kind)} → ${String(b.kind)}` },
    ];
  }
  const e0 = get(a, ['spec', 'encryptedData']);
  const e1 = get(b, ['spec', 'encryptedData']);
  const keys = [...new Set([...Object.keys(isRecord(e0) ? e0 : {}), ...Object.keys(isRecord(e1) ? e1 : {})])]
    .filter((k) => get(e0, [k]) !== get(e1, [k]))
    .sort();
  const out: PlanChange[] = [];
  if (keys.length > 0) {
    const has = (k: string) => keys.includes(k);
    const exp = expiryOf(cluster);
    const expiry = exp && has('ca-cert.pem') ? ` (new expiry ${isoDate(exp)})` : '';
    let why: string;
    if (has('ca-cert.pem') && has('ca-key.pem') && !has('root-cert.pem')) why = `intermediate rotated${expiry}`;
    else if (keys.length === 4) why = `every value (a new sealing certificate, or a new intermediate and root bundle)${expiry}`;
    else if (keys.every((k) => k === 'root-cert.pem' || k === 'cert-chain.pem')) why = 'root bundle changed (root CA rotation)';
    else why = `${keys.join(', ')}${expiry}`;
    const pending = isPending(b) ? '; sealed by the next synth' : '';
    out.push({ op: '~', cluster, subject: 'cacerts', text: `~ cacerts resealed: ${why}${pending}` });
  }
  for (const d of leafDiff(withoutPaths(a, [['spec', 'encryptedData']]), withoutPaths(b, [['spec', 'encryptedData']]))) {
    const p = formatPath(d.path);
    out.push({ op: d.op, cluster, subject: 'cacerts', path: p, ...fromTo(d), text: `${d.op} cacerts ${p}${valueText(d)}` });
  }
  return out;
}

function remoteSecretAdded(peer: string, o: Obj): Omit<PlanChange, 'cluster'> {
  return { op: '+', subject: 'remote secret', target: peer, text: `+ remote secret for ${peer}${isPending(o) ? ' (sealed by the next synth)' : ''}` };
}

/** Whether a SealedSecret holds a value the next synth seals (plan's placeholder). */
function isPending(o: Obj): boolean {
  const e = get(o, ['spec', 'encryptedData']);
  return isRecord(e) && Object.values(e).some((v) => v === UNSEALED_PLACEHOLDER);
}

/** Every other object: added, removed, or changed field by field (secret fields never shown). */
function objectChanges(cluster: string | undefined, before: View, after: View, handled: Set<string>, versionShown = false): PlanChange[] {
  const out: PlanChange[] = [];
  const ids = [...new Set([...before.objects.keys(), ...after.objects.keys()])].filter((id) => !handled.has(id)).sort();
  for (const id of ids) {
    const a = before.objects.get(id);
    const b = after.objects.get(id);
    const o = (b ?? a) as Obj;
    const name = label(id, o);
    if (!a) out.push({ op: '+', cluster, subject: 'object', target: name, text: `+ ${name}` });
    else if (!b) out.push({ op: '-', cluster, subject: 'object', target: name, text: `- ${name}` });
    else {
      const skip: Seg[][] = id.startsWith('flux:HelmRelease:')
        ? [['spec', 'values'], ...(versionShown ? [['spec', 'chart', 'spec', 'version']] : [])]
        : [];
      for (const d of leafDiff(withoutPaths(a, skip), withoutPaths(b, skip))) {
        const p = formatPath(d.path);
        const secret = d.path.some((s) => typeof s === 'string' && SECRET_FIELDS.has(s));
        out.push({
          op: d.op,
          cluster,
          subject: 'object',
          target: name,
          path: p,
          ...(secret ? {} : fromTo(d)),
          text: `${d.op} ${name} ${p}${secret ? (d.path.includes('encryptedData') ? ' resealed' : ' (secret value changed)') : valueText(d)}`,
        });
      }
    }
  }
  return out;
}

/** A name for an object as users know it. */
function label(id: string, o: Obj): string {
  const kind = String(o.kind);
  const name = String(get(o, ['metadata', 'name']));
  if (id.startsWith('helm:')) return `Helm values of the ${name} chart`;
  if (id.startsWith('flux:')) return `Flux ${kind} ${name}`;
  if (kind === 'Gateway' && name === 'cross-network-gateway') return 'cross-network gateway (Gateway cross-network-gateway)';
  if ((kind === 'Gateway' && name === 'istiod-gateway') || (kind === 'VirtualService' && name.startsWith('istiod-vs')))
    return `istiod exposure (${kind} ${name})`;
  if (kind === 'Secret' && name.startsWith('istio-reader-service-account')) return 'reader token Secret';
  if (kind === 'PushSecret') return `reader token PushSecret ${name}`;
  if (kind === 'IstioOperator' && name === 'control-plane') return 'control plane IstioOperator';
  if (kind === 'IstioOperator' && name === 'eastwest') return 'east-west gateway IstioOperator';
  if (kind === 'Istio') return `Sail Istio ${name}`;
  if (kind === 'ApplicationSet') return `Argo CD ApplicationSet ${name}`;
  return `${kind} ${name}`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Mesh-wide changes and files

function meshChanges(before: View, after: View, argoReported: boolean): PlanChange[] {
  const out = objectChanges(undefined, before, after, new Set()).map((c) => {
    // A multi-line string (the ApplicationSet's templatePatch) is shown as changed, not printed.
    if (c.path && (String(c.from ?? '').includes('\n') || String(c.to ?? '').includes('\n'))) {
      const { from: _f, to: _t, ...rest } = c;
      return { ...rest, text: `${c.op} ${c.target} ${c.path} changed` };
    }
    return c;
  });
  if (out.length === 0) {
    // A changed ApplicationSet whose changes were reported per cluster (its elements) is no unexplained file.
    const skip = new Set<string>([README_FILE, ...(argoReported ? [...before.argoFiles, ...after.argoFiles] : [])]);
    const keep = (m: Map<string, string>) => new Map([...m].filter(([f]) => !skip.has(f)));
    out.push(...fileChanges(undefined, keep(before.files), keep(after.files)));
  }
  return out;
}

/** When nothing semantic changed but files did (comments, kustomization.yaml lists): the files. */
export function fileChanges(cluster: string | undefined, a: Map<string, string>, b: Map<string, string>): PlanChange[] {
  const files = [...new Set([...a.keys(), ...b.keys()])].filter((f) => a.get(f) !== b.get(f)).sort();
  if (files.length === 0) return [];
  const shown = files.slice(0, 5).map((f) => `dist/${f}`);
  const more = files.length > 5 ? ` and ${files.length - 5} more` : '';
  return [{ op: '~', cluster, subject: 'files', text: `~ files changed with no change to the objects in them: ${shown.join(', ')}${more}` }];
}

// ---------------------------------------------------------------------------------------------------------------------
// Leaf diffs and formatting

interface LeafDiff {
  readonly op: '+' | '-' | '~';
  readonly path: Seg[];
  readonly from?: unknown;
  readonly to?: unknown;
}

/** The leaves that differ between two values (objects recursively, arrays of objects of the same length index by index). */
export function leafDiff(a: unknown, b: unknown, at: Seg[] = [], out: LeafDiff[] = []): LeafDiff[] {
  if (isDeepStrictEqual(a, b)) return out;
  if ((isRecord(a) || a === undefined) && (isRecord(b) || b === undefined) && (a !== undefined || b !== undefined)) {
    const x = (a ?? {}) as Obj;
    const y = (b ?? {}) as Obj;
    for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])]) leafDiff(x[k], y[k], [...at, k], out);
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every(isRecord) && b.every(isRecord)) {
    a.forEach((v, i) => {
      leafDiff(v, b[i], [...at, i], out);
    });
    return out;
  }
  out.push({ op: a === undefined ? '+' : b === undefined ? '-' : '~', path: at, from: a, to: b });
  return out;
}

/** Fields that changed, the first few of them. */
function pathList(paths: readonly string[]): string {
  return paths.length > 5 ? `${paths.slice(0, 5).join(', ')} and ${paths.length - 5} more` : paths.join(', ');
}

/** `values.global.network`, `labels["topology.istio.io/network"]`, `env[0].value`. */
export function formatPath(p: readonly Seg[]): string {
  let s = '';
  for (const seg of p) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) s += s === '' ? seg : `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

function fromTo(d: { from?: unknown; to?: unknown }): { from?: string; to?: string } {
  return { ...(d.from !== undefined ? { from: show(d.from) } : {}), ...(d.to !== undefined ? { to: show(d.to) } : {}) };
}

function valueText(d: LeafDiff): string {
  if (d.op === '+') return `: ${show(d.to)}`;
  if (d.op === '-') return ` (was ${show(d.from)})`;
  const [a, b] = [d.from, d.to];
  if (isScalarList(a) && isScalarList(b)) {
    // A list of strings (sync options, dependsOn names...): what was added and removed.
    const added = b.filter((x) => !a.includes(x)).map(show);
    const removed = a.filter((x) => !b.includes(x)).map(show);
    const parts = [...(added.length > 0 ? [`added ${added.join(', ')}`] : []), ...(removed.length > 0 ? [`removed ${removed.join(', ')}`] : [])];
    if (parts.length > 0) return `: ${parts.join('; ')}`;
  }
  return `: ${show(d.from)} → ${show(d.to)}`;
}

function isScalarList(v: unknown): v is (string | number | boolean)[] {
  return Array.isArray(v) && v.every((x) => ['string', 'number', 'boolean'].includes(typeof x));
}

/** A value as shown in a line: short, one line. */
export function show(v: unknown): string {
  if (v === undefined) return '(unset)';
  let s: string;
  if (typeof v === 'string') {
    if (v.includes('\n')) return `(${v.split('\n').length} lines)`;
    s = v === '' || /^\s|\s$|^[\d.+-]+$|^(true|false|null)$/.test(v) ? JSON.stringify(v) : v;
  } else s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function withoutPaths(o: Obj, paths: Seg[][]): Obj {
  if (paths.length === 0) return o;
  const copy = structuredClone(o);
  for (const p of paths) {
    const parent = get(copy, p.slice(0, -1));
    if (isRecord(parent)) delete parent[p[p.length - 1] as string];
  }
  return copy;
}

function get(o: unknown, p: readonly Seg[]): unknown {
  let v = o;
  for (const seg of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
