/**
 * dist/README.md: its Mermaid diagrams parse with Mermaid's own parser (the `mermaid` package, headless: `mermaid.parse`
 * needs a DOM only for DOMPurify, which happy-dom provides), every cluster is listed, and it is deterministic.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { synth } from '../../src/commands/synth';
import { ReadmeBuilder } from '../../src/output/readme';
import { MARKDOWN_HEADER } from '../../src/output/render';
import { issueCertificate } from '../../src/pki';
import { loadTopology } from '../../src/topology/load';
import { runCli } from '../helpers/cli';
import { startMermaid } from '../helpers/mermaid';
import { type MeshSpec, makeMeshWorkdir, meshPki } from '../helpers/mesh-gen';
import { makeExampleWorkdir, REPO_ROOT } from '../helpers/workdir';

// Both load in the background while the first tests synthesize: Mermaid in a worker, the generated meshes' keys in
// the thread pool.
const mermaid = startMermaid();
const pki = meshPki();
const dirs: string[] = [];

after(async () => {
  await mermaid.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The ```mermaid blocks of a Markdown text. */
function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** Parses every diagram of a README with Mermaid; returns the diagrams (the mesh map, then the trust chain). */
async function assertValidMermaid(markdown: string): Promise<string[]> {
  const blocks = mermaidBlocks(markdown);
  assert.equal(blocks.length, 2, 'two diagrams: the mesh map and the trust chain');
  for (const b of blocks) assert.deepEqual(await mermaid.parse(b), { ok: true, diagramType: 'flowchart-v2' }, b);
  return blocks;
}

/** Every cluster is in the mesh map, in the trust chain, in the table and has its own section. */
function assertListsEveryCluster(markdown: string, [map, trust]: string[], clusters: readonly string[]): void {
  assert.ok(clusters.length > 0);
  for (const c of clusters) {
    assert.match(map, new RegExp(`^ {4}c\\d+\\["${esc(c)}<br/>`, 'm'), `${c} in the mesh map`);
    assert.match(trust, new RegExp(`^ {2}i\\d+\\["intermediate CA of ${esc(c)}<br/>`, 'm'), `${c} in the trust chain`);
    assert.ok(markdown.includes(`\n### \`${c}\`\n`), `${c} has a section`);
    assert.ok(markdown.includes(`| [\`${c}\`](#${c}) |`), `${c} in the table`);
  }
  assert.equal((map.match(/^ {4}c\d+\[/gm) ?? []).length, clusters.length, 'no other cluster node');
  assert.equal((trust.match(/^ {2}r\d+ --> i\d+$/gm) ?? []).length, clusters.length, 'every intermediate is linked to its root');
}

/** The Flux table of each cluster's section is what a YAML parser reads from its `flux/<cluster>/kustomizations.yaml`. */
function assertFluxTables(dist: string, markdown: string, clusters: readonly string[]): void {
  for (const c of clusters) {
    const section = markdown.slice(markdown.indexOf(`\n### \`${c}\`\n`)).split(/\n### /)[1];
    const rows = [...section.matchAll(/^ {2}\| `([^`]+)` \| `([^`]+)` \| (.*) \|$/gm)].map((m) => [m[1], m[2], m[3]]);
    const docs = parseAllDocuments(fs.readFileSync(path.join(dist, 'flux', c, 'kustomizations.yaml'), 'utf8')).map((d) => d.toJS());
    const expected = docs.map((k) => [
      k.metadata.name,
      k.spec.path,
      (k.spec.dependsOn ?? []).map((d: { name: string }) => `\`${d.name}\``).join(', ') || '—',
    ]);
    assert.ok(expected.length >= 3, c);
    assert.deepEqual(rows, expected, `the Flux Kustomizations of ${c}`);
  }
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const readme = (dir: string) => fs.readFileSync(path.join(dir, 'dist', 'README.md'), 'utf8');

/** A copy of the example work directory with topology.yaml changed by `edit`. */
function exampleWith(edit: (topology: any) => void): string {
  const dir = makeExampleWorkdir();
  dirs.push(dir);
  const file = path.join(dir, 'topology.yaml');
  const topology = parse(fs.readFileSync(file, 'utf8'));
  edit(topology);
  fs.writeFileSync(file, stringify(topology, { lineWidth: 0 }));
  return dir;
}

test('the committed example: dist/README.md starts with the header, parses as Mermaid and lists every cluster and entry point', async () => {
  const text = readme(REPO_ROOT);
  assert.ok(text.startsWith(MARKDOWN_HEADER), 'the generated-by line, as an HTML comment');
  const blocks = await assertValidMermaid(text);
  const mesh = loadTopology(REPO_ROOT);
  assertListsEveryCluster(
    text,
    blocks,
    mesh.clusters.map((c) => c.name),
  );
  assertFluxTables(
    path.join(REPO_ROOT, 'dist'),
    text,
    mesh.clusters.map((c) => c.name),
  );
  for (const c of mesh.clusters) {
    assert.ok(text.includes(`Application \`mymeshname-${c.name}\``), `Argo CD Application of ${c.name}`);
    for (const k of ['istio-secrets', 'istio-control-plane', 'istio-reader-token', 'istio-post-install', 'istio-gateway']) {
      assert.ok(text.includes(`| \`${k}\` | \`./dist/`), `Flux Kustomization ${k}`);
    }
    assert.match(text, /`secrets` \| Namespace `istio-system`; SealedSecret `cacerts`, `istio-remote-secret-/);
  }
  assert.match(blocks[0], /subgraph n0\["network network-east"\]/);
  assert.match(blocks[0], /c0\["cluster-east-1<br\/>primary, helm, sidecar<br\/>east-west gateway"\]/);
  assert.match(blocks[0], /^ {2}class c0,c1,c2 gateway$/m);
  assert.match(text, /\| data plane \| sidecar \|/);
  assert.match(text, /\| installer \| Istio's Helm charts \|/);
});

test('primary-remote: the edge runs from the primary to its remote, which has no east-west gateway on its primary network', async () => {
  const dir = exampleWith((t) => {
    t.contexts['context-east-1'].eastWestGateway = { address: 'istiod.east-1.example.com' };
    Object.assign(t.contexts['context-east-2'], { role: 'remote', primary: 'context-east-1' });
  });
  await synth({ workdir: dir, frozen: true });
  const text = readme(dir);
  const blocks = await assertValidMermaid(text);
  assertListsEveryCluster(text, blocks, ['cluster-east-1', 'cluster-east-2', 'cluster-west-1']);
  assert.match(blocks[0], /^ {2}c0 -->\|"control plane"\| c1$/m);
  assert.match(blocks[0], /^ {2}class c1 remote$/m);
  assert.match(blocks[0], /^ {2}class c0,c2 gateway$/m, 'a remote on its primary network has no east-west gateway');
  assert.match(blocks[0], /c1\["cluster-east-2<br\/>remote, helm, sidecar"\]/);
  assert.match(text, /\| \[`cluster-east-2`\]\(#cluster-east-2\) \| `network-east` \| remote \| istiod of `cluster-east-1` \| no \|/);
  assert.match(
    text,
    /\| `post-install` \| Gateway `cross-network-gateway`, `istiod-gateway`; VirtualService `istiod-vs` \|/,
    'the primary exposes istiod',
  );
  assert.match(text, /### `cluster-east-2`\n\nremote of `cluster-east-1`, network `network-east`/);
});

test('ambient: the data plane and the HBONE east-west gateways are shown', async () => {
  const dir = exampleWith((t) => {
    t.istio = { ...t.istio, dataplane: 'ambient' };
  });
  await synth({ workdir: dir, frozen: true });
  const text = readme(dir);
  const blocks = await assertValidMermaid(text);
  assertListsEveryCluster(text, blocks, ['cluster-east-1', 'cluster-east-2', 'cluster-west-1']);
  assert.match(text, /\| data plane \| ambient/);
  assert.match(blocks[0], /c0\["cluster-east-1<br\/>primary, helm, ambient<br\/>east-west gateway \(HBONE\)"\]/);
  assert.match(blocks[0], /^ {2}class c0,c1,c2 gateway$/m);
  // The HBONE gateway is a Gateway API object of the cluster directory, not the gateway chart.
  assert.equal((text.match(/\| `post-install` \| Gateway `istio-eastwestgateway` \|/g) ?? []).length, 3);
  assert.equal((text.match(/Istio's Helm charts, installed beside the directory: `base`, `istiod`, `cni`, `ztunnel` \(/g) ?? []).length, 3);
});

test('awkward names (Mermaid keywords, numbers) stay valid, every cluster is listed, and two synths are byte-identical', async () => {
  const names = ['end', 'graph', 'subgraph', '1', '0x1f', 'click', 'style', 'class', 'classdef', 'flowchart', 'default', 'direction', 'lr', 'td'];
  const spec: MeshSpec = {
    meshId: 'Mesh_1.end',
    repoURL: 'https://example.test/mesh.git',
    clusters: [
      ...names.map((n, i) => ({ context: n, cluster: n, network: ['end', 'graph', '1', 'x_y.z'][i % 4], address: `gw-${n}.example.test` })),
      { context: 'remote-of-end', cluster: 'r', network: 'end', role: 'remote' as const, primary: 'end' },
      { context: 'subgraph-remote', cluster: 'subgraph-remote', network: 'graph', role: 'remote' as const, primary: 'graph' },
    ],
  };
  await pki;
  const dir = await makeMeshWorkdir(spec, { tokens: true });
  dirs.push(dir);
  assert.equal((await runCli(['synth', '--ca-key-size', '2048', '--workdir', dir])).code, 0);
  const text = readme(dir);
  const blocks = await assertValidMermaid(text);
  const clusters = spec.clusters.map((c) => c.cluster).sort();
  assertListsEveryCluster(text, blocks, clusters);
  assertFluxTables(path.join(dir, 'dist'), text, clusters);
  // Node ids are generated (c<N>, n<N>, i<N>), never a cluster or network name.
  assert.doesNotMatch(blocks[0], /^\s*(end|graph|subgraph|1)\[/m);
  assert.match(blocks[0], /subgraph n\d+\["network x_y#46;z"\]|subgraph n\d+\["network x_y.z"\]/);
  assert.equal((blocks[0].match(/-->\|"control plane"\|/g) ?? []).length, 2);
  assert.match(text, /Application `mesh-1-end-end` of the ApplicationSet `istio-mesh-1-end`/);

  // Determinism: a second synth changes nothing, and a fresh dist/ is byte-identical.
  const first = text;
  fs.rmSync(path.join(dir, 'dist'), { recursive: true });
  assert.equal((await runCli(['synth', '--frozen', '--workdir', dir])).code, 0);
  assert.equal(readme(dir), first);
});

test("any subject text is escaped in the labels; 200 clusters render quickly, within Mermaid's limits", async () => {
  const org = 'a "b" <c> #d; `e` [f] {g} |h| end';
  const [rootKey, key] = (await pki).keys;
  const subject = (cn: string) => [
    { shortName: 'O' as const, value: org },
    { shortName: 'CN' as const, value: cn },
  ];
  const ca = [{ name: 'subjectKeyIdentifier' as const }, { name: 'basicConstraints' as const, cA: true }];
  const root = issueCertificate(
    { subject: subject('Root CA'), publicKeyPem: rootKey.publicKeyPem, extensions: ca, days: 10 },
    { keyPem: rootKey.privateKeyPem },
  );
  const intermediate = issueCertificate(
    { subject: subject('Intermediate CA'), publicKeyPem: key.publicKeyPem, extensions: [...ca, { name: 'authorityKeyIdentifier' }], days: 10 },
    { keyPem: rootKey.privateKeyPem, certPem: root },
  );
  const example = loadTopology(REPO_ROOT);
  const name = (i: number) => `c-${String(i).padStart(3, '0')}`;
  // Every odd cluster is a remote of the one before it, on another network (so it has an east-west gateway too).
  const clusters = Array.from({ length: 200 }, (_, i) => ({
    ...example.clusters[0],
    name: name(i),
    network: `net-${i % 20}`,
    ...(i % 2 === 1 ? { role: 'remote' as const, primary: name(i - 1) } : {}),
  }));
  const mesh = { ...example, clusters, networks: Array.from({ length: 20 }, (_, i) => `net-${i}`).sort() };
  // One cluster's intermediate is missing: shown as such, linked to no root.
  const intermediates = new Map(clusters.slice(1).map((c) => [c.name, { caCertPem: intermediate }]));
  const builder = new ReadmeBuilder({ mesh, tornDown: false, roots: [root], rotationPhase: 'none', intermediates });
  const start = performance.now();
  for (const c of clusters) {
    const remoteSecrets = clusters.filter((p) => p !== c).map((p) => ({ kind: 'SealedSecret', metadata: { name: `istio-remote-secret-${p.name}` } }));
    builder.addCluster(c, new Map([['secrets/remote-secrets.yaml', remoteSecrets]]), undefined, []);
  }
  const text = builder.render(new Map());
  const ms = performance.now() - start;
  assert.ok(ms < 1000, `${ms.toFixed(0)} ms for 200 clusters`);
  assert.match(text, /\| `secrets` \| 199 × SealedSecret \|/);
  const [map, trust] = await assertValidMermaid(text);
  assertListsEveryCluster(
    text,
    [map, trust.replace(/^ {2}i0\[.*$/m, '$&\n  r0 --> i0')],
    clusters.map((c) => c.name),
  );
  assert.equal((map.match(/-->\|"control plane"\|/g) ?? []).length, 100);
  assert.equal((map.match(/<br\/>east-west gateway"\]/g) ?? []).length, 200);
  assert.equal((trust.match(/certificate missing or unreadable/g) ?? []).length, 1);
  // Within Mermaid's default limits, which GitHub keeps: 50,000 characters and 500 edges a diagram.
  for (const b of [map, trust]) {
    assert.ok(b.length < 50_000, `${b.length} characters`);
    assert.ok((b.match(/-->|---/g) ?? []).length <= 500);
  }
  // Node's subject text escapes some characters with "\\"; each character that is not plain text is an entity code.
  const rootLine = trust.split('\n')[1];
  for (const e of ['#34;b', '#60;c', '#62;', '#35;d', '#96;e#96;', '#91;f#93;', '#123;g#125;', '#124;h#124;'])
    assert.ok(rootLine.includes(e), `${e} in ${rootLine}`);
  assert.doesNotMatch(rootLine.slice(rootLine.indexOf('"') + 1, rootLine.lastIndexOf('"')).replaceAll('<br/>', '\n'), /["<>`[\]{}|\\]/);
  // Unescaped, the same label breaks the diagram: the escaping is what keeps it valid.
  assert.equal((await mermaid.parse(trust.replace(/#(\d+);/g, (_, n) => String.fromCodePoint(Number(n))))).ok, false);
});

test('a torn-down mesh: dist/README.md says so, still parses and lists every cluster; validate stays clean', async () => {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  dirs.push(dir);
  assert.equal((await runCli(['teardown', '--workdir', dir])).code, 0);
  const text = readme(dir);
  assert.match(text, /\*\*Torn down\.\*\* `teardown\.yaml` is present/);
  const blocks = await assertValidMermaid(text);
  assertListsEveryCluster(text, blocks, ['cluster-east-1', 'cluster-east-2', 'cluster-west-1']);
  assert.doesNotMatch(text, /SealedSecret/, 'no object is listed: none is in the tree');
  assert.equal((text.match(/^Nothing: torn down/gm) ?? []).length, 3);
  const v = await runCli(['validate', '--workdir', dir]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test('validate: fresh output is clean; a README.md without its header line is reported, not parsed as a manifest', async () => {
  const dir = makeExampleWorkdir();
  dirs.push(dir);
  const clean = await runCli(['validate', '--workdir', dir]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  const file = path.join(dir, 'dist', 'README.md');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(MARKDOWN_HEADER, ''));
  const r = await runCli(['validate', '--workdir', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stdout + r.stderr, /dist\/README\.md:1: does not start with the "<!-- Generated by meshgen \.\.\." header line/);
  assert.doesNotMatch(r.stdout + r.stderr, /README\.md[^\n]*(YAML|apiVersion|kind)/);
});

test('Mermaid rejects what is not a valid flowchart (so this test can fail)', async () => {
  const rejected = async (text: string, why: string) => assert.equal((await mermaid.parse(text)).ok, false, why);
  await rejected('flowchart LR\n  end --> graph\n', 'a keyword as a node id');
  await rejected('flowchart LR\n  c0["a "quoted" name"]\n', 'a raw quote in a label');
  await rejected('flowchart LR\n  subgraph n0["x"]\n    c0["a"]\n', 'a subgraph without end');
  await rejected('flowchart LR\n  c0["a"] --> \n', 'an edge to nothing');
  assert.deepEqual(await mermaid.parse('flowchart LR\n  c0["#34;end#34;"] --> c1["graph"]\n'), { ok: true, diagramType: 'flowchart-v2' });
});
