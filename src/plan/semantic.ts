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

const GATEWAY = 'istioctl:IstioOperator:istio-system/eastwest';
const NAMESPACE = 'cluster:Namespace:/istio-system';
const GATEWAY_RELEASE = 'flux:HelmRelease:istio-system/istio-eastwestgateway';
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
  for (const id of v.objects.keys()) if (/^helm:HelmValues:\/istiod(-.+)?$/.test(id)) return 'helm';
  for (const [id, o] of v.objects) {
    if (id.startsWith('cluster:Istio:')) return 'sail';
    if (CONTROL_PLANE_IOP.test(id) && o.kind === 'IstioOperator') return 'operator';
  }
  return undefined;
}

/** The IstioOperator of a control plane revision: `control-plane` (unrevisioned, or before meshgen named them) or `control-plane-<revision>`. */
const CONTROL_PLANE_IOP = /^cluster:IstioOperator:istio-system\/control-plane(-.+)?$/;
const ISTIOCTL_IOP = /^istioctl:IstioOperator:istio-system\/control-plane(-.+)?$/;

/** One control plane revision of a cluster: its merged IstioOperator (in istioctl/) and the version it installs. */
interface Revision {
  /** The IstioOperator's id in the view. */
  readonly id: string;
  readonly spec: Obj;
  /** The Istio version (the istiod chart's, or the Sail `Istio`'s), when the tree says. */
  readonly version?: string;
}

/**
 * The control plane revisions of a cluster, keyed by revision (`spec.revision` of the merged IstioOperator; `''` for the
 * unrevisioned control plane), in file order. Keyed by the revision rather than the file, so that the rename of
 * `istioctl/control-plane.yaml` to `control-plane-<revision>.yaml` is no change.
 */
function revisionsOf(v: View): Map<string, Revision> {
  const out = new Map<string, Revision>();
  for (const [id, o] of v.objects) {
    if (!ISTIOCTL_IOP.test(id)) continue;
    const spec = isRecord(o.spec) ? o.spec : {};
    const rev = typeof spec.revision === 'string' ? spec.revision : '';
    out.set(rev, { id, spec });
  }
  const sail = versionOf(v);
  for (const [rev, r] of out) {
    const release = v.objects.get(`flux:HelmRelease:istio-system/${rev ? `istiod-${rev}` : 'istiod'}`);
    const ver = get(release, ['spec', 'chart', 'spec', 'version']);
    const version = typeof ver === 'string' ? ver.replace(/^v/, '') : out.size === 1 ? sail : undefined;
    if (version !== undefined) out.set(rev, { ...r, version });
  }
  return out;
}

/** The first revision's IstioOperator spec (role and network are the same in every revision). */
function firstIstiod(v: View): Obj | undefined {
  return [...revisionsOf(v).values()][0]?.spec;
}

function specOf(v: View, id: string): Obj | undefined {
  const o = v.objects.get(id);
  return o && isRecord(o.spec) ? o.spec : o ? {} : undefined;
}

function roleOf(v: View): string | undefined {
  const spec = firstIstiod(v);
  if (!spec) return undefined;
  return spec.profile === 'remote' ? 'remote' : 'primary';
}

function networkOf(v: View): string | undefined {
  const n = get(firstIstiod(v), ['values', 'global', 'network']);
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

  const handled = new Set<string>([GATEWAY, NAMESPACE]);
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
  // istiod, per revision: added, removed, its version, its merged IstioOperator leaf by leaf.
  const revs0 = revisionsOf(before);
  const revs1 = revisionsOf(after);
  for (const r of [...revs0.values(), ...revs1.values()]) handled.add(r.id);
  // With one revision on both sides the lines read as before revisions existed (`istiod <path>`).
  const single = revs0.size === 1 && revs1.size === 1 && [...revs0.keys()][0] === [...revs1.keys()][0];
  const changedRevisions = new Set<string>();
  let versionShown = false;
  for (const rev of [...new Set([...revs0.keys(), ...revs1.keys()])]) {
    const [a, b] = [revs0.get(rev), revs1.get(rev)];
    const name = rev ? `istiod ${rev}` : 'istiod (unrevisioned)';
    const remote = (roleOf(after) ?? roleOf(before)) === 'remote';
    if (!a && b) {
      changedRevisions.add(rev);
      if (installerChanged) continue;
      const beside = [...revs1.keys()].filter((x) => x !== rev && revs0.has(x));
      push({
        op: '+',
        subject: 'istiod',
        target: rev,
        ...(b.version ? { to: b.version } : {}),
        text: remote
          ? `+ revision ${rev || '(unrevisioned)'} added${b.version ? ` (Istio ${b.version})` : ''}: remote profile, injection through the primary's ${rev ? `istiod-${rev}` : 'istiod'}`
          : `+ ${name} added${b.version ? ` (Istio ${b.version})` : ''}${beside.length > 0 ? `, beside ${beside.join(', ')}` : ''}`,
      });
      continue;
    }
    if (a && !b) {
      changedRevisions.add(rev);
      if (installerChanged) continue;
      push({
        op: '-',
        subject: 'istiod',
        target: rev,
        ...(a.version ? { from: a.version } : {}),
        text: remote
          ? `- revision ${rev || '(unrevisioned)'} removed${a.version ? ` (Istio ${a.version})` : ''}`
          : `- ${name} removed${a.version ? ` (Istio ${a.version})` : ''}`,
        disruptive: remote ? undefined : `${rev ? `istiod-${rev}` : 'istiod'} is pruned: proxies still on it lose their control plane`,
      });
      continue;
    }
    if (!a || !b) continue;
    if (a.version !== b.version && a.version !== undefined && b.version !== undefined) {
      versionShown = true;
      push({
        op: '~',
        subject: 'version',
        ...(single ? {} : { target: rev }),
        from: a.version,
        to: b.version,
        text: single ? `~ Istio version: ${a.version} → ${b.version}` : `~ ${name} Istio version: ${a.version} → ${b.version}`,
        disruptive: 'istiod and gateway restart (upgrade)',
      });
    }
    if (!isDeepStrictEqual(a.spec, b.spec)) changedRevisions.add(rev);
    for (const d of leafDiff(a.spec, b.spec)) {
      const p = formatPath(d.path);
      if (p === 'profile' && r0 !== r1 && r0 !== undefined && r1 !== undefined) continue;
      const restart = d.path[0] !== 'meshConfig';
      push({
        op: d.op,
        subject: 'istiod',
        path: p,
        ...(single ? {} : { target: rev }),
        ...fromTo(d),
        text: `${d.op} ${single ? 'istiod' : name} ${p}${valueText(d)}`,
        disruptive: restart ? 'istiod restart' : undefined,
      });
    }
  }
  // Sail and the operator name no istiod release: the version of the whole control plane, as before.
  const [v0, v1] = [versionOf(before), versionOf(after)];
  if (!versionShown && changedRevisions.size === 0 && v0 !== v1 && v0 !== undefined && v1 !== undefined && installerOf(after) !== 'helm') {
    versionShown = true;
    push({
      op: '~',
      subject: 'version',
      from: v0,
      to: v1,
      text: `~ Istio version: ${v0} → ${v1}`,
      disruptive: 'istiod and gateway restart (upgrade)',
    });
  }

  // Istio's base chart (helm): its version (the CRDs, the newest revision's) and the revision that validates Istio config.
  out.push(...baseChartChanges(cluster, before, after, handled));

  // Revision tags: which revision each tag's injector calls.
  out.push(...tagChanges(cluster, before, after, handled));

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
      if (
        p === 'revision' ||
        /\.k8s\.service\.type$/.test(p) ||
        (n0 !== n1 && (d.from === n0 || d.from === undefined) && (d.to === n1 || d.to === undefined))
      )
        continue;
      push({ op: d.op, subject: 'east-west gateway', path: p, ...fromTo(d), text: `${d.op} east-west gateway ${p}${valueText(d)}` });
    }
  }

  // The east-west gateway's revision (its pods' istio.io/rev: a tag or a revision) and its chart's version (the version of
  // the revision that resolves to), with the istiod release it waits for (Flux dependsOn).
  let gatewayMoved = false;
  if (gw0 && gw1) {
    const [l0, l1] = [get(gw0, ['revision']), get(gw1, ['revision'])];
    const [c0, c1] = [chartVersion(release(before, 'istio-eastwestgateway')), chartVersion(release(after, 'istio-eastwestgateway'))];
    const labelChanged = l0 !== l1;
    const chartChanged = c0 !== c1 && c0 !== undefined && c1 !== undefined && !(single && versionShown);
    if (labelChanged || chartChanged) {
      gatewayMoved = true;
      const chart = chartChanged ? `chart ${c0} → ${c1}` : c1 !== undefined ? `chart ${c1}` : '';
      const [f, t] = [typeof l0 === 'string' ? l0 : '(unrevisioned)', typeof l1 === 'string' ? l1 : '(unrevisioned)'];
      const resolved = typeof l1 === 'string' ? tagsOf(after).get(l1)?.revision : undefined;
      push({
        op: '~',
        subject: 'east-west gateway',
        path: labelChanged ? 'revision' : 'chart',
        ...(labelChanged ? { from: f, to: t } : { from: c0, to: c1 }),
        text: labelChanged
          ? `~ east-west gateway revision: ${f} → ${t}${chart ? ` (${chart})` : ''}`
          : `~ east-west gateway ${chart}${resolved ? ` (it follows tag ${String(l1)}, now on ${resolved})` : ''}`,
      });
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
  // reported only when their source did not change (a translation change), and not at all when the installer did. Those
  // of a revision added or removed are that revision's line.
  for (const [id, o] of [...before.objects, ...after.objects]) {
    const derived = derivedOf(id, o);
    if (!derived) continue;
    const [a0, b0] = [before.objects.get(id), after.objects.get(id)];
    // An IstioOperator applied under another name (control-plane → control-plane-<revision>) is an object added and removed.
    if (id.startsWith('cluster:IstioOperator:') && (!a0 || !b0) && !(derived.revision !== undefined && changedRevisions.has(derived.revision)))
      continue;
    handled.add(id);
    if (installerChanged) continue;
    if (
      derived.source === 'gateway'
        ? gatewayChanged
        : derived.revision === undefined
          ? changedRevisions.size > 0
          : changedRevisions.has(derived.revision)
    )
      continue;
    const a = derivedPart(id, a0);
    const b = derivedPart(id, b0);
    if (isDeepStrictEqual(a, b) || out.some((c) => c.subject === 'object' && c.target === label(id, o))) continue;
    const paths = leafDiff(a ?? {}, b ?? {}).map((d) => formatPath(d.path));
    push({
      op: '~',
      subject: 'object',
      target: label(id, o),
      text: `~ ${label(id, o)}: ${pathList(paths)} (translated from an unchanged IstioOperator)`,
    });
  }
  // The istiod releases of revisions added or removed are those revisions' lines.
  for (const rev of changedRevisions) {
    if (revs0.has(rev) !== revs1.has(rev)) handled.add(`flux:HelmRelease:istio-system/${rev ? `istiod-${rev}` : 'istiod'}`);
  }
  // Flux HelmReleases also carry the chart version (reported above) and their own settings. An in-place upgrade moves
  // every chart with the version line; otherwise the istiod releases whose version line was shown.
  const versionReported = (id: string) =>
    (single && versionShown) ||
    [...revs1].some(
      ([rev, r]) => id === `flux:HelmRelease:istio-system/${rev ? `istiod-${rev}` : 'istiod'}` && revs0.get(rev)?.version !== r.version,
    );
  const skipOf = (id: string): Seg[][] => [
    ...(versionReported(id) ? [['spec', 'chart', 'spec', 'version']] : []),
    ...(id === GATEWAY_RELEASE && gatewayMoved
      ? [
          ['spec', 'chart', 'spec', 'version'],
          ['spec', 'dependsOn'],
        ]
      : []),
  ];
  out.push(...objectChanges(cluster, before, after, handled, skipOf));
  if (out.length === 0) out.push(...fileChanges(cluster, before.files, after.files));
  return out;
}

/**
 * The source a derived object is translated from, if it is one: the gateway, or istiod of a revision (`revision`
 * undefined: of every revision, such as the base chart's values or the Sail `Istio`).
 */
function derivedOf(id: string, o: Obj): { source: 'istiod' | 'gateway'; revision?: string } | undefined {
  if (id.startsWith('helm:')) {
    if (id.endsWith('/gateway')) return { source: 'gateway' };
    const m = /^helm:HelmValues:\/istiod(?:-(.+))?$/.exec(id);
    return m ? { source: 'istiod', revision: m[1] ?? '' } : { source: 'istiod' };
  }
  if (CONTROL_PLANE_IOP.test(id)) {
    const rev = get(o, ['spec', 'revision']);
    return { source: 'istiod', revision: typeof rev === 'string' ? rev : '' };
  }
  if (id.startsWith('cluster:Istio:')) return { source: 'istiod' };
  if (id === 'cluster:IstioOperator:istio-system/eastwest') return { source: 'gateway' };
  return undefined;
}

/** What of a derived object is derived (the rest is compared as any object). */
function derivedPart(id: string, o: Obj | undefined): unknown {
  if (!o) return undefined;
  // The base chart's defaultRevision follows the default tag: reported by baseChartChanges.
  if (id === 'helm:HelmValues:/base') return withoutPaths({ values: o.values }, [['values', 'defaultRevision']]).values;
  if (id.startsWith('helm:')) return o.values;
  return withoutPaths(o, [['spec', 'version']]);
}

/** The Flux HelmRelease of one of Istio's charts. */
function release(v: View, name: string): Obj | undefined {
  return v.objects.get(`flux:HelmRelease:istio-system/${name}`);
}

function chartVersion(o: Obj | undefined): string | undefined {
  const v = get(o, ['spec', 'chart', 'spec', 'version']);
  return typeof v === 'string' ? v.replace(/^v/, '') : undefined;
}

/**
 * Istio's base chart (helm): its version (its CRDs serve every revision, so it follows the newest) and its
 * `defaultRevision` (the revision whose `istiod-default-validator` validates Istio config: the `default` tag's).
 */
function baseChartChanges(cluster: string, before: View, after: View, handled: Set<string>): PlanChange[] {
  const out: PlanChange[] = [];
  const [r0, r1] = [release(before, 'istio-base'), release(after, 'istio-base')];
  const [v0, v1] = [chartVersion(r0), chartVersion(r1)];
  if (r0 && r1 && v0 !== v1 && v0 !== undefined && v1 !== undefined && versionsOfIstiod(before).size + versionsOfIstiod(after).size > 2) {
    out.push({ op: '~', cluster, subject: 'base chart', path: 'version', from: v0, to: v1, text: `~ base chart (CRDs): ${v0} → ${v1}` });
  }
  const d0 = get(before.objects.get('helm:HelmValues:/base'), ['values', 'defaultRevision']);
  const d1 = get(after.objects.get('helm:HelmValues:/base'), ['values', 'defaultRevision']);
  if (d0 !== d1 && (typeof d0 === 'string' || typeof d1 === 'string')) {
    const [f, t] = [typeof d0 === 'string' ? d0 : '(none)', typeof d1 === 'string' ? d1 : '(none)'];
    out.push({
      op: '~',
      cluster,
      subject: 'base chart',
      path: 'defaultRevision',
      from: f,
      to: t,
      text: `~ base chart defaultRevision: ${f} → ${t} (Istio config is validated by ${typeof d1 === 'string' ? `istiod-${d1}` : 'istiod'})`,
    });
  }
  if (out.length > 0) handled.add('flux:HelmRelease:istio-system/istio-base');
  return out;
}

/** The istiod releases of a view and their chart versions. */
function versionsOfIstiod(v: View): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const [id, o] of v.objects) if (/^flux:HelmRelease:istio-system\/istiod(-.+)?$/.test(id)) out.set(id, chartVersion(o));
  return out;
}

/** A revision tag: a MutatingWebhookConfiguration `istio-revision-tag-<tag>` (helm, operator) or a Sail `IstioRevisionTag`. */
function tagsOf(v: View): Map<string, { id: string; revision: string; o: Obj }> {
  const out = new Map<string, { id: string; revision: string; o: Obj }>();
  for (const [id, o] of v.objects) {
    const m = /^cluster:MutatingWebhookConfiguration:\/istio-revision-tag-(.+)$/.exec(id);
    if (m) {
      const rev = get(o, ['metadata', 'labels', 'istio.io/rev']);
      out.set(m[1], { id, revision: typeof rev === 'string' ? rev : '?', o });
      continue;
    }
    if (id.startsWith('cluster:IstioRevisionTag:')) {
      const ref = get(o, ['spec', 'targetRef']);
      const name = String(get(ref, ['name']));
      out.set(String(get(o, ['metadata', 'name'])), { id, revision: get(ref, ['kind']) === 'IstioRevision' ? name : `Istio ${name}`, o });
    }
  }
  return out;
}

/** A tag's webhook without what names its revision (the `istio.io/rev` label and each webhook's service). */
function tagBody(o: Obj): Obj {
  const copy = withoutPaths(o, [
    ['metadata', 'labels', 'istio.io/rev'],
    ['spec', 'targetRef'],
  ]);
  for (const w of asArray(copy.webhooks)) {
    const svc = get(w, ['clientConfig', 'service']);
    if (isRecord(svc)) delete svc.name;
  }
  return copy;
}

/** Revision tags added, moved to another revision, removed; any other change of their webhooks field by field. */
function tagChanges(cluster: string, before: View, after: View, handled: Set<string>): PlanChange[] {
  const out: PlanChange[] = [];
  const [t0, t1] = [tagsOf(before), tagsOf(after)];
  for (const tag of [...new Set([...t0.keys(), ...t1.keys()])].sort()) {
    const [a, b] = [t0.get(tag), t1.get(tag)];
    if (a) handled.add(a.id);
    if (b) handled.add(b.id);
    const who = `namespaces labelled istio.io/rev=${tag}${tag === 'default' ? ' or istio-injection=enabled' : ''}`;
    if (!a && b) {
      out.push({ op: '+', cluster, subject: 'tag', target: tag, to: b.revision, text: `+ tag ${tag}: ${b.revision} (${who} are injected by it)` });
    } else if (a && !b) {
      out.push({
        op: '-',
        cluster,
        subject: 'tag',
        target: tag,
        from: a.revision,
        text: `- tag ${tag} (was ${a.revision})`,
        disruptive: `new pods of the ${who} are no longer injected`,
      });
    } else if (a && b) {
      if (a.revision !== b.revision) {
        out.push({
          op: '~',
          cluster,
          subject: 'tag',
          target: tag,
          from: a.revision,
          to: b.revision,
          text: `~ tag ${tag}: ${a.revision} → ${b.revision} (restart the workloads of the ${who} to move them)`,
        });
      }
      for (const d of leafDiff(tagBody(a.o), tagBody(b.o))) {
        const p = formatPath(d.path);
        out.push({ op: d.op, cluster, subject: 'tag', target: tag, path: p, ...fromTo(d), text: `${d.op} tag ${tag} ${p}${valueText(d)}` });
      }
    }
  }
  return out;
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
function objectChanges(
  cluster: string | undefined,
  before: View,
  after: View,
  handled: Set<string>,
  skipOf: (id: string) => Seg[][] = () => [],
): PlanChange[] {
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
      const skip: Seg[][] = id.startsWith('flux:HelmRelease:') ? [['spec', 'values'], ...skipOf(id)] : [];
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
  const out = objectChanges(undefined, before, after, new Set()).flatMap((c) => {
    // A multi-line string (the ApplicationSet's templatePatch) is shown as changed, not printed.
    // The sources of each cluster's Application (Istio's charts, one istiod per revision), source by source.
    if (c.path === 'spec.templatePatch') {
      const sources = sourceChanges(rawPatch(before, c.target), rawPatch(after, c.target));
      if (sources) return sources;
    }
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

/** The `templatePatch` of the ApplicationSet labelled `target`, as written. */
function rawPatch(v: View, target: string | undefined): string | undefined {
  for (const [id, o] of v.objects) {
    if (o.kind === 'ApplicationSet' && label(id, o) === target) {
      const p = get(o, ['spec', 'templatePatch']);
      return typeof p === 'string' ? p : undefined;
    }
  }
  return undefined;
}

/**
 * The chart sources of the ApplicationSet's `templatePatch` (its Go template lines dropped), keyed by release name;
 * undefined when it does not read as sources.
 */
function patchSources(text: string | undefined): Map<string, Obj> | undefined {
  if (text === undefined) return new Map([[' ', {}]]);
  const yaml = text
    .split('\n')
    .filter((l) => !/^\s*\{\{.*\}\}\s*$/.test(l))
    .join('\n');
  const doc = parseOne(yaml);
  const list = get(doc, ['spec', 'sources']);
  if (!Array.isArray(list)) return undefined;
  const out = new Map<string, Obj>();
  const rest: unknown[] = [];
  for (const src of list) {
    const name = get(src, ['helm', 'releaseName']);
    if (isRecord(src) && typeof name === 'string') out.set(name, src);
    else rest.push(src);
  }
  // Everything but the chart sources, under a key no release name can take.
  out.set(' ', { rest, spec: { ...(get(doc, ['spec']) as Obj), sources: undefined } });
  return out;
}

/** The ApplicationSet's chart sources added, removed and changed (their chart version first), or undefined. */
function sourceChanges(from: string | undefined, to: string | undefined): PlanChange[] | undefined {
  const [a, b] = [patchSources(from), patchSources(to)];
  if (!a || !b) return undefined;
  const out: PlanChange[] = [];
  const what = (o: Obj) => `${String(o.chart)} ${String(o.targetRevision)}`;
  if (!isDeepStrictEqual(a.get(' '), b.get(' '))) return undefined;
  for (const name of [...new Set([...a.keys(), ...b.keys()])].filter((n) => n !== ' ').sort()) {
    const [x, y] = [a.get(name), b.get(name)];
    const target = `Argo CD chart source ${name}`;
    if (!x && y) out.push({ op: '+', subject: 'argocd', target, to: what(y), text: `+ ${target} (chart ${what(y)})` });
    else if (x && !y) out.push({ op: '-', subject: 'argocd', target, from: what(x), text: `- ${target} (chart ${what(x)})` });
    else if (x && y) {
      for (const d of leafDiff(x, y)) {
        const p = formatPath(d.path);
        const text =
          p === 'targetRevision'
            ? `~ ${target}: chart ${String(x.chart)} ${String(d.from)} → ${String(d.to)}`
            : `${d.op} ${target} ${p}${valueText(d)}`;
        out.push({ op: d.op, subject: 'argocd', target, path: p, ...fromTo(d), text });
      }
    }
  }
  // A change outside the chart sources: say so, without printing the template.
  return out.length > 0 ? out : undefined;
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
