/**
 * A canary control-plane upgrade, walked with the real CLI on a four-cluster, two-network mesh with remotes: after each
 * phase (`upgrade --to`, `upgrade tag default`, `upgrade tag prod`, `upgrade gateways`, `upgrade finish`) synth and
 * `meshgen validate` pass, and the rollout model converges with Argo CD and with Flux both on fresh clusters and over
 * the clusters the previous phase left (every tag keeping exactly one webhook at every step), with the facts of the
 * phase. One work directory for the whole walk (no fresh keys: the fixture-key PKI of mesh-gen).
 *
 * The same walk with `installer: sail` (one Istio, RevisionBased, at the newest revision's version; IstioRevisionTags
 * pinned on primaries, tag webhooks of meshgen's own on remotes): every phase converges over the previous one; fresh
 * clusters converge except at `add` and `tag default`, where a tag still pinned to the old revision finds no
 * IstioRevision (Sail creates only the active one), which the test pins down; and Sail's pruning is shown both ways
 * (this mesh's EXTERNAL_ISTIOD keeps the old revision after `finish`; primaries without it lose it once tag prod moved).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { runCli } from '../helpers/cli';
import { makeMeshWorkdir, sealingKeyPem, synthIn, tokenOf } from '../helpers/mesh-gen';
import { UPGRADE_MESH } from '../helpers/meshes';
import { type ClusterWorld, type Delivery, type KObject, kustomizeBuild, type Rollout, renderApplicationSet, rollout } from './model';

const OLD = '1-29-2';
const NEW = '1-30-3';
/** Sail's revision names (`<Istio name>-<spec.version, dots as dashes>`): what `upgrade --to` derives with sail. */
const SAIL_OLD = 'default-v1-29-2';
const SAIL_NEW = 'default-v1-30-3';
const CLUSTERS = UPGRADE_MESH.clusters.map((c) => c.cluster);
const PRIMARIES = UPGRADE_MESH.clusters.filter((c) => c.role !== 'remote').map((c) => c.cluster);
const DELIVERIES: Delivery[] = ['argocd', 'flux'];

type Phase = 'start' | 'add' | 'tag default' | 'tag prod' | 'gateways' | 'finish';
const WALK: { phase: Phase; args?: string[] }[] = [
  { phase: 'start' },
  { phase: 'add', args: ['upgrade', '--to', '1.30.3'] },
  { phase: 'tag default', args: ['upgrade', 'tag', 'default'] },
  { phase: 'tag prod', args: ['upgrade', 'tag', 'prod'] },
  { phase: 'gateways', args: ['upgrade', 'gateways'] },
  { phase: 'finish', args: ['upgrade', 'finish'] },
];

/** The work directory at the start: revisions {1-29-2: 1.29.2} (Sail's name: default-v1-29-2), tags default and prod on it. */
async function startWorkdir(installer: 'helm' | 'sail'): Promise<string> {
  const dir = await makeMeshWorkdir(UPGRADE_MESH, { tokens: true });
  const file = path.join(dir, 'topology.yaml');
  const topo = parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const old = installer === 'sail' ? SAIL_OLD : OLD;
  topo.istio = { installer, revisions: { [old]: { version: '1.29.2' } }, tags: { default: old, prod: old } };
  fs.writeFileSync(file, stringify(topo));
  return dir;
}

const fail = (r: Rollout) => `${r.stuck.join('\n')}\n${[...r.log].map(([k, v]) => `${k}:\n  ${v.join('\n  ')}`).join('\n')}`;

/** The tag webhook of a cluster after a rollout: its revision label and the Service its webhooks call. */
function tagWebhook(state: ClusterWorld, cluster: string, tag: string): { rev?: string; services: string[] } {
  const w = state.get(cluster)?.objects.get(`MutatingWebhookConfiguration//istio-revision-tag-${tag}`);
  assert.ok(w, `${cluster}: istio-revision-tag-${tag} exists`);
  const services = [...new Set(((w.webhooks ?? []) as { clientConfig: { service: { name: string } } }[]).map((h) => h.clientConfig.service.name))];
  return { rev: w.metadata.labels?.['istio.io/rev'], services };
}

/** The istiod chart sources and the base chart version of each cluster's Argo CD Application. */
function argoCharts(dir: string): Map<string, { istiods: Record<string, string>; base?: string; gateway?: string }> {
  const out = new Map<string, { istiods: Record<string, string>; base?: string; gateway?: string }>();
  const appSet = kustomizeBuild(path.join(dir, 'dist', 'argocd')).find((o) => o.kind === 'ApplicationSet') as KObject;
  for (const app of renderApplicationSet(appSet)) {
    const cluster = CLUSTERS.find((c) => app.metadata.name.endsWith(`-${c}`)) as string;
    const sources = (app.spec?.sources ?? []) as { chart?: string; targetRevision: string; helm?: { releaseName: string } }[];
    const istiods = Object.fromEntries(sources.filter((s) => s.chart === 'istiod').map((s) => [s.helm?.releaseName, s.targetRevision]));
    out.set(cluster, {
      istiods,
      base: sources.find((s) => s.chart === 'base')?.targetRevision,
      gateway: sources.find((s) => s.chart === 'gateway')?.targetRevision,
    });
  }
  return out;
}

/** The Flux HelmReleases of a cluster's control plane: name → chart version, and istio-base's values. */
function fluxReleases(dir: string, cluster: string): { versions: Record<string, string>; baseValues: Record<string, any> } {
  const file = path.join(dir, 'dist', 'flux', cluster, 'control-plane', 'releases.yaml');
  const objs = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as KObject);
  const releases = objs.filter((o) => o.kind === 'HelmRelease');
  return {
    versions: Object.fromEntries(releases.map((r) => [r.metadata.name, r.spec?.chart.spec.version])),
    baseValues: releases.find((r) => r.metadata.name === 'istio-base')?.spec?.values ?? {},
  };
}

/** Every file under dir/dist that mentions `needle`. */
function distFilesMentioning(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (fs.readFileSync(p, 'utf8').includes(needle)) hits.push(path.relative(dir, p));
    }
  };
  walk(path.join(dir, 'dist'));
  return hits;
}

/** The facts of a phase, on the generated output and on the clusters a rollout left. */
function checkPhase(phase: Phase, dir: string, state: ClusterWorld, delivery: Delivery, how: string): void {
  const at = `${phase} · ${delivery} · ${how}`;
  const revisions = phase === 'start' ? [OLD] : phase === 'finish' ? [NEW] : [OLD, NEW];
  const tagOn = (tag: string) =>
    phase === 'finish' || phase === 'gateways' || phase === 'tag prod' || (phase === 'tag default' && tag === 'default') ? NEW : OLD;
  for (const cluster of CLUSTERS) {
    const c = state.get(cluster);
    assert.ok(c, at);
    // One control plane per revision: istiod-<rev> on primaries, its Service (to the primary) and injector everywhere.
    for (const rev of [OLD, NEW]) {
      const has = revisions.includes(rev);
      assert.equal(c.objects.has(`Service/istio-system/istiod-${rev}`), has, `${at}: ${cluster} Service istiod-${rev}`);
      assert.equal(c.objects.has(`MutatingWebhookConfiguration//istio-sidecar-injector-${rev}`), has, `${at}: ${cluster} injector ${rev}`);
      if (PRIMARIES.includes(cluster)) {
        assert.equal(c.ready.has(`istiod-${rev}`), has, `${at}: ${cluster} istiod-${rev} runs`);
        // istiod-vs-<rev> on each primary (all of them serve a remote).
        assert.equal(c.objects.has(`VirtualService/istio-system/istiod-vs-${rev}`), has, `${at}: ${cluster} istiod-vs-${rev}`);
      }
    }
    for (const tag of ['default', 'prod']) {
      const w = tagWebhook(state, cluster, tag);
      assert.equal(w.rev, tagOn(tag), `${at}: ${cluster} tag ${tag} revision`);
      assert.deepEqual(w.services, [`istiod-${tagOn(tag)}`], `${at}: ${cluster} tag ${tag} service`);
    }
    // The gateways (their pods on the default tag) run where there is one: on r1, injected through p1's istiod-vs-<rev>.
    if (cluster !== 'r2') assert.ok(c.ready.has('istio-eastwestgateway'), `${at}: ${cluster} east-west gateway runs`);
  }
  // The generated output.
  const charts = argoCharts(dir);
  for (const cluster of CLUSTERS) {
    const argo = charts.get(cluster);
    const flux = fluxReleases(dir, cluster);
    const expected = Object.fromEntries(revisions.map((r) => [`istiod-${r}`, r.replaceAll('-', '.')]));
    assert.deepEqual(argo?.istiods, expected, `${at}: ${cluster} Argo CD istiod sources`);
    const { 'istio-base': base, ...istiods } = flux.versions;
    assert.deepEqual(istiods, expected, `${at}: ${cluster} Flux istiod releases`);
    const newest = revisions.includes(NEW) ? '1.30.3' : '1.29.2';
    assert.equal(argo?.base, newest, `${at}: ${cluster} Argo CD base chart`);
    assert.equal(base, newest, `${at}: ${cluster} Flux base chart`);
    const baseValues = parse(fs.readFileSync(path.join(dir, 'dist', 'clusters', cluster, 'helm', 'base-values.yaml'), 'utf8'));
    assert.equal(baseValues.defaultRevision, tagOn('default'), `${at}: ${cluster} base defaultRevision`);
    assert.equal(flux.baseValues.defaultRevision, tagOn('default'), `${at}: ${cluster} Flux base defaultRevision`);
    if (cluster !== 'r2') assert.equal(argo?.gateway, tagOn('default').replaceAll('-', '.'), `${at}: ${cluster} gateway chart version`);
  }
  if (phase === 'finish') {
    assert.deepEqual(distFilesMentioning(dir, OLD), [], `${at}: ${OLD} left in dist/`);
    assert.deepEqual(distFilesMentioning(dir, '1.29.2'), [], `${at}: 1.29.2 left in dist/`);
  }
}

test('canary upgrade walk (helm): every phase converges with Argo CD and Flux, fresh and over the previous phase', async () => {
  const dir = await startWorkdir('helm');
  const key = await sealingKeyPem();
  const previous = new Map<Delivery, ClusterWorld>();
  for (const { phase, args } of WALK) {
    if (args) {
      const u = await runCli([...args, '--workdir', dir]);
      assert.equal(u.code, 0, `${phase}: ${u.stdout}${u.stderr}`);
    }
    const s = await synthIn(dir, '--strict');
    assert.equal(s.code, 0, `${phase}: ${s.stderr}`);
    const v = await runCli(['validate', '--workdir', dir]);
    assert.equal(v.code, 0, `${phase}: ${v.stdout}${v.stderr}`);
    for (const delivery of DELIVERIES) {
      const fresh = rollout(dir, { delivery, sealingKeyOf: () => key, tokenOf });
      assert.deepEqual(fresh.violations, [], `${phase} · ${delivery} · fresh: violations`);
      assert.deepEqual(fresh.stuck, [], `${phase} · ${delivery} · fresh: did not converge\n${fail(fresh)}`);
      checkPhase(phase, dir, fresh.state, delivery, 'fresh');
      const from = previous.get(delivery);
      if (from) {
        const over = rollout(dir, { delivery, sealingKeyOf: () => key, tokenOf, from });
        assert.deepEqual(over.violations, [], `${phase} · ${delivery} · over the previous phase: violations`);
        assert.deepEqual(over.stuck, [], `${phase} · ${delivery} · over the previous phase: did not converge\n${fail(over)}`);
        checkPhase(phase, dir, over.state, delivery, 'over the previous phase');
        previous.set(delivery, over.state);
      } else previous.set(delivery, fresh.state);
    }
    if (phase === 'tag default') {
      // A hand edit dropping the old revision while tag prod still points at it: synth refuses (exit 2) naming the
      // tag, and leaves dist/ as it was.
      const file = path.join(dir, 'topology.yaml');
      const text = fs.readFileSync(file, 'utf8');
      const topo = parse(text) as { istio: { revisions: Record<string, unknown> } };
      delete topo.istio.revisions[OLD];
      fs.writeFileSync(file, stringify(topo));
      const before = fs.readFileSync(path.join(dir, 'dist', 'flux', 'p1', 'control-plane', 'releases.yaml'), 'utf8');
      const refused = await synthIn(dir, '--strict');
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /prod/);
      assert.equal(fs.readFileSync(path.join(dir, 'dist', 'flux', 'p1', 'control-plane', 'releases.yaml'), 'utf8'), before);
      fs.writeFileSync(file, text);
    }
  }
  fs.rmSync(dir, { recursive: true });
});

/** The objects of a cluster's generated file (empty when the file does not exist). */
function distObjects(dir: string, cluster: string, rel: string): KObject[] {
  const file = path.join(dir, 'dist', 'clusters', cluster, rel);
  if (!fs.existsSync(file)) return [];
  return parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KObject)
    .filter((o) => o && typeof o === 'object');
}

/** Where a sail phase stands: the revisions in topology.yaml and the revision each tag is on. */
function sailPhase(phase: Phase): { revisions: string[]; tagOn: (tag: string) => string } {
  const revisions = phase === 'start' ? [SAIL_OLD] : phase === 'finish' ? [SAIL_NEW] : [SAIL_OLD, SAIL_NEW];
  const moved = (tag: string) => phase === 'finish' || phase === 'gateways' || phase === 'tag prod' || (phase === 'tag default' && tag === 'default');
  return { revisions, tagOn: (tag) => (moved(tag) ? SAIL_NEW : SAIL_OLD) };
}

/** The facts of a sail phase, on the generated output and on the clusters a rollout over the previous phase left. */
function checkSailPhase(phase: Phase, dir: string, state: ClusterWorld, delivery: Delivery, how: string): void {
  const at = `sail · ${phase} · ${delivery} · ${how}`;
  const { revisions, tagOn } = sailPhase(phase);
  // The generated output: one Istio, RevisionBased, at the newest revision's version; tags pinned on primaries
  // (IstioRevisionTag), webhooks of meshgen's own on remotes; istiod-vs-<rev> per revision of topology.yaml.
  const version = revisions.includes(SAIL_NEW) ? 'v1.30.3' : 'v1.29.2';
  for (const cluster of CLUSTERS) {
    const istios = distObjects(dir, cluster, 'control-plane/control-plane.yaml').filter((o) => o.kind === 'Istio');
    assert.deepEqual(
      istios.map((o) => [o.metadata.name, o.spec?.version, o.spec?.updateStrategy?.type]),
      [['default', version, 'RevisionBased']],
      `${at}: ${cluster} Istio`,
    );
    const tags = distObjects(dir, cluster, 'post-install/revision-tags.yaml');
    for (const tag of ['default', 'prod']) {
      if (PRIMARIES.includes(cluster)) {
        const t = tags.find((o) => o.kind === 'IstioRevisionTag' && o.metadata.name === tag);
        assert.deepEqual(t?.spec?.targetRef, { kind: 'IstioRevision', name: tagOn(tag) }, `${at}: ${cluster} IstioRevisionTag ${tag}`);
      } else {
        const w = tags.find((o) => o.kind === 'MutatingWebhookConfiguration' && o.metadata.name === `istio-revision-tag-${tag}`);
        assert.equal(w?.metadata.labels?.['istio.io/rev'], tagOn(tag), `${at}: ${cluster} tag webhook ${tag} in dist/`);
      }
    }
    if (PRIMARIES.includes(cluster)) {
      const vs = distObjects(dir, cluster, 'post-install/istiod-exposure.yaml').filter((o) => o.kind === 'VirtualService');
      assert.deepEqual(
        vs.map((o) => o.metadata.name),
        revisions.map((r) => `istiod-vs-${r}`),
        `${at}: ${cluster} istiod-vs`,
      );
    }
  }
  // The clusters. Every Istio of this mesh has pilot.env.EXTERNAL_ISTIOD=true (primaries serving remotes, remotes):
  // Sail prunes none of their revisions, so from `add` on both IstioRevisions stay, to the end.
  const existing = phase === 'start' ? [SAIL_OLD] : [SAIL_OLD, SAIL_NEW];
  for (const cluster of CLUSTERS) {
    const c = state.get(cluster);
    assert.ok(c, at);
    const revs = [...c.objects.values()].filter((o) => o.kind === 'IstioRevision').map((o) => o.metadata.name);
    assert.deepEqual(revs.sort(), existing, `${at}: ${cluster} IstioRevisions`);
    for (const rev of existing) {
      assert.ok(c.objects.has(`Service/istio-system/istiod-${rev}`), `${at}: ${cluster} Service istiod-${rev}`);
      assert.ok(c.objects.has(`MutatingWebhookConfiguration//istio-sidecar-injector-${rev}`), `${at}: ${cluster} injector ${rev}`);
      if (PRIMARIES.includes(cluster)) {
        assert.ok(c.ready.has(`istiod-${rev}`), `${at}: ${cluster} istiod-${rev} runs`);
        assert.equal(c.objects.has(`VirtualService/istio-system/istiod-vs-${rev}`), revisions.includes(rev), `${at}: ${cluster} istiod-vs-${rev}`);
      }
    }
    for (const tag of ['default', 'prod']) {
      // On primaries Sail installed the IstioRevisionTag's webhook for its target; on remotes meshgen's own.
      if (PRIMARIES.includes(cluster)) assert.ok(c.installed.has(`IstioRevisionTag//${tag}`), `${at}: ${cluster} IstioRevisionTag ${tag} reconciled`);
      const w = tagWebhook(state, cluster, tag);
      assert.equal(w.rev, tagOn(tag), `${at}: ${cluster} tag ${tag} revision`);
      assert.deepEqual(w.services, [`istiod-${tagOn(tag)}`], `${at}: ${cluster} tag ${tag} service`);
    }
    // The east-west gateways (pods on tag default) run, injected by the revision tag default is on (the gateway chart
    // follows tag default's version, so its pods restart when the tag moves).
    if (cluster !== 'r2') {
      assert.ok(c.ready.has('istio-eastwestgateway'), `${at}: ${cluster} east-west gateway runs`);
      assert.equal(c.injected.get('istio-eastwestgateway'), tagOn('default'), `${at}: ${cluster} east-west gateway injected by`);
    }
  }
}

/**
 * A copy of a work directory whose primaries' Istios have no EXTERNAL_ISTIOD: what Sail prunes on primaries serving no
 * remote. (The remotes keep it: Sail's InUse does not see meshgen's own tag webhooks there, so without it Sail would
 * prune r2's old revision at `add`, under the tag webhooks that call it.)
 */
function withoutExternalIstiod(dir: string, phase: Phase): string {
  const d = `${dir}-no-external-${phase.replace(' ', '-')}`;
  fs.rmSync(d, { recursive: true, force: true });
  fs.cpSync(dir, d, { recursive: true });
  for (const c of PRIMARIES)
    edit(d, `dist/clusters/${c}/control-plane/control-plane.yaml`, (t) => t.replace(/\n\s*env:\n\s*EXTERNAL_ISTIOD: "true"/, ''));
  return d;
}

test('canary upgrade walk (sail): every phase converges with Argo CD and Flux over the previous phase; fresh where a fresh cluster can', async () => {
  const dir = await startWorkdir('sail');
  const key = await sealingKeyPem();
  const previous = new Map<Delivery, ClusterWorld>();
  const noExternal = new Map<Delivery, ClusterWorld>();
  for (const { phase, args } of WALK) {
    if (args) {
      const u = await runCli([...args, '--workdir', dir]);
      assert.equal(u.code, 0, `${phase}: ${u.stdout}${u.stderr}`);
    }
    if (phase === 'add') assert.match(fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8'), new RegExp(`${SAIL_NEW}:\\n\\s+version: 1\\.30\\.3`));
    const s = await synthIn(dir, '--strict');
    assert.equal(s.code, 0, `${phase}: ${s.stderr}`);
    const v = await runCli(['validate', '--workdir', dir]);
    assert.equal(v.code, 0, `${phase}: ${v.stdout}${v.stderr}`);
    for (const delivery of DELIVERIES) {
      const run = (d: string, from?: ClusterWorld) => rollout(d, { delivery, sealingKeyOf: () => key, tokenOf, from });
      const fresh = run(dir);
      if (phase === 'add' || phase === 'tag default') {
        // A fresh cluster gets only the active revision (spec.version 1.30.3): IstioRevisionTags pinned to
        // default-v1-29-2 stay RefNotFound on primaries (no webhook for them), and the remotes' webhooks call a Service
        // istiod-default-v1-29-2 that no IstioRevision made. At `add` no tag has a webhook on a primary, so nothing
        // injects the gateways' pods (istio.io/rev=default) and they never run.
        const pinned = phase === 'add' ? ['default', 'prod'] : ['prod'];
        const expected = [
          ...PRIMARIES.flatMap((c) => [
            ...pinned.map((t) => `${c}: tag ${t} has no webhook istio-revision-tag-${t}`),
            ...(phase === 'add' ? [`${c}: the gateway istio-eastwestgateway's istio.io/rev label default resolves to no revision`] : []),
          ]),
          ...['r1', 'r2'].flatMap((c) =>
            pinned.map((t) => `${c}: tag ${t} points at revision ${SAIL_OLD}, which is not installed (no Service istiod-${SAIL_OLD})`),
          ),
        ];
        assert.deepEqual(fresh.violations.sort(), expected.sort(), `sail · ${phase} · ${delivery} · fresh: violations`);
        assert.equal(fresh.stuck.length, phase === 'add' ? 3 : 0, `sail · ${phase} · ${delivery} · fresh: stuck\n${fresh.stuck.join('\n')}`);
        for (const c of PRIMARIES) {
          const st = fresh.state.get(c);
          assert.deepEqual(
            [...(st?.objects.values() ?? [])].filter((o) => o.kind === 'IstioRevision').map((o) => o.metadata.name),
            [SAIL_NEW],
            `${c}: only the active revision`,
          );
          for (const t of pinned) {
            assert.ok(!st?.installed.has(`IstioRevisionTag//${t}`), `${c}: IstioRevisionTag ${t} not reconciled`);
            assert.ok(
              fresh.log.get(c)?.includes(`IstioRevisionTag ${t} → ${SAIL_OLD}: Reconciled=False, RefNotFound (retried)`),
              `${c}: ${t} RefNotFound`,
            );
          }
        }
      } else {
        assert.deepEqual(fresh.violations, [], `sail · ${phase} · ${delivery} · fresh: violations`);
        assert.deepEqual(fresh.stuck, [], `sail · ${phase} · ${delivery} · fresh: did not converge\n${fail(fresh)}`);
      }
      const from = previous.get(delivery);
      const over = from ? run(dir, from) : fresh;
      assert.deepEqual(over.violations, [], `sail · ${phase} · ${delivery} · over the previous phase: violations`);
      assert.deepEqual(over.stuck, [], `sail · ${phase} · ${delivery} · over the previous phase: did not converge\n${fail(over)}`);
      checkSailPhase(phase, dir, over.state, delivery, from ? 'over the previous phase' : 'fresh');
      previous.set(delivery, over.state);
      if (phase === 'finish') {
        // After finish the old revision stays for good on every cluster: istiod-default-v1-29-2 runs on p1 and p2
        // (no tag, namespace or pod uses it), and r1, r2 keep its Service and injector, which lead nowhere now that
        // istiod-vs-default-v1-29-2 is gone from their primaries.
        for (const c of CLUSTERS) {
          const st = over.state.get(c);
          assert.ok(st?.objects.has(`IstioRevision//${SAIL_OLD}`), `${c}: ${SAIL_OLD} kept after finish`);
          if (!PRIMARIES.includes(c)) assert.ok(st?.objects.has(`MutatingWebhookConfiguration//istio-sidecar-injector-${SAIL_OLD}`));
        }
      }
      // The same walk with primaries' Istios without EXTERNAL_ISTIOD: Sail keeps the old revision while a tag or the gateways' pods
      // use it, and prunes it (with its istiod and injector) once tag prod moved, before `finish`.
      const d = withoutExternalIstiod(dir, phase);
      const ne = run(d, noExternal.get(delivery));
      assert.deepEqual([...ne.violations, ...ne.stuck], [], `sail · ${phase} · ${delivery} · no EXTERNAL_ISTIOD`);
      noExternal.set(delivery, ne.state);
      const kept = phase === 'start' || phase === 'add' || phase === 'tag default';
      for (const c of PRIMARIES) {
        const st = ne.state.get(c);
        assert.equal(
          st?.objects.has(`IstioRevision//${SAIL_OLD}`),
          kept,
          `sail · ${phase} · ${delivery} · no EXTERNAL_ISTIOD: ${c} keeps ${SAIL_OLD}`,
        );
        assert.equal(st?.ready.has(`istiod-${SAIL_OLD}`), kept, `${c}: istiod-${SAIL_OLD} runs`);
        assert.equal(st?.objects.has(`MutatingWebhookConfiguration//istio-sidecar-injector-${SAIL_OLD}`), kept, `${c}: injector ${SAIL_OLD}`);
      }
      fs.rmSync(d, { recursive: true });
    }
  }
  fs.rmSync(dir, { recursive: true });
});

/** Edits a file of a work directory's copy of dist/. */
function edit(dir: string, rel: string, fn: (text: string) => string): void {
  const file = path.join(dir, rel);
  fs.writeFileSync(file, fn(fs.readFileSync(file, 'utf8')));
}

test('the model finds broken tags: two owners, a missing revision, a label selected twice, a gateway on no revision, a tag moved between releases', async () => {
  const dir = await startWorkdir('helm');
  assert.equal((await runCli(['upgrade', '--to', '1.30.3', '--workdir', dir])).code, 0);
  assert.equal((await synthIn(dir, '--strict')).code, 0);
  const key = await sealingKeyPem();
  const run = (d: string, delivery: Delivery = 'argocd', from?: ClusterWorld) => rollout(d, { delivery, sealingKeyOf: () => key, tokenOf, from });
  const variant = (name: string, change: (d: string) => void): string => {
    const d = path.join(path.dirname(dir), `${path.basename(dir)}-${name}`);
    fs.cpSync(dir, d, { recursive: true });
    change(d);
    return d;
  };
  const has = (r: Rollout, re: RegExp) =>
    assert.ok(
      r.violations.some((v) => re.test(v)),
      `${re}\n${r.violations.join('\n')}`,
    );
  // One copy, four defects on different clusters or objects:
  const broken = variant('broken', (d) => {
    // p1: the chart's revisionTags beside meshgen's own webhook: two sources of one object.
    edit(d, `dist/clusters/p1/helm/istiod-${NEW}-values.yaml`, (t) => `${t}revisionTags: [prod]\n`);
    // p2: tags pointing at a revision that is not installed.
    edit(d, 'dist/clusters/p2/post-install/revision-tags.yaml', (t) => t.replaceAll(OLD, '1-28-0'));
    // r1: a tag named like a revision: its namespaces are selected by the tag's webhook and the revision's.
    edit(d, 'dist/clusters/r1/post-install/revision-tags.yaml', (t) => t.replaceAll('- prod', `- ${NEW}`));
    // p2's gateway on a label no webhook selects.
    edit(d, 'dist/clusters/p2/helm/gateway-values.yaml', (t) => t.replace('revision: default', 'revision: canary'));
  });
  const r = run(broken);
  has(r, /^p1: MutatingWebhookConfiguration\/\/istio-revision-tag-prod is rendered by two sources/);
  has(r, /^p2: tag (default|prod) points at revision 1-28-0, which is not installed/);
  has(r, new RegExp(`^r1: namespaces labelled istio.io/rev=${NEW} are selected by two webhooks`));
  has(r, /^p2: the gateway istio-eastwestgateway's istio.io\/rev label canary resolves to no revision/);
  // Tags rendered by the istiod chart (revisionTags) instead: moving one deletes it from a release and creates it in
  // the other, so over running clusters a tag is left without a webhook or has two owners (Flux: Helm refuses).
  const byChart = (d: string, tagged: string) => {
    for (const c of CLUSTERS) {
      fs.writeFileSync(path.join(d, `dist/clusters/${c}/post-install/revision-tags.yaml`), '');
      for (const rev of [OLD, NEW]) {
        const rel = `dist/flux/${c}/control-plane/releases.yaml`;
        edit(d, rel, (t) =>
          t.replace(`    revision: ${rev}\n`, `    revision: ${rev}\n${rev === tagged ? '    revisionTags: [default, prod]\n' : ''}`),
        );
      }
    }
  };
  const before = variant('chart-old', (d) => byChart(d, OLD));
  const after = variant('chart-new', (d) => byChart(d, NEW));
  // (Fresh, the chart applies its tags with its istiod, before it is healthy: the order rule says so on primaries.)
  const start = run(before, 'flux');
  assert.deepEqual(start.stuck, []);
  const moved = run(after, 'flux', start.state);
  has(
    moved,
    /is rendered by two sources: HelmRelease\/istio-system\/istiod-1-29-2 and HelmRelease\/istio-system\/istiod-1-30-3|tag (default|prod) has no webhook/,
  );
  for (const d of [dir, broken, before, after]) fs.rmSync(d, { recursive: true });
});
