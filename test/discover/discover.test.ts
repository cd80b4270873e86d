import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { clusterNameFor, discover, unifiedDiff } from '../../src/commands/discover';
import { InputError } from '../../src/errors';
import { parseTopology } from '../../src/topology/load';
import { type CliResult, runCli } from '../helpers/cli';
import { hashTree, REPO_ROOT } from '../helpers/workdir';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'discover');
const FIRST = path.join(FIXTURES, 'kubeconfig-first.yaml');
const SECOND = path.join(FIXTURES, 'kubeconfig-second.yaml');
const EXAMPLE_KUBECONFIG = path.join(FIXTURES, 'kubeconfig-example.yaml');
const BOTH = { KUBECONFIG: [FIRST, SECOND].join(path.delimiter) };

/** certificate-authority-data of a kubeconfig cluster of the fixtures. */
function caOf(file: string, cluster: string): string {
  const config = parse(fs.readFileSync(file, 'utf8')) as { clusters: { name: string; cluster: Record<string, string> }[] };
  return config.clusters.find((c) => c.name === cluster)!.cluster['certificate-authority-data'];
}
const EAST_CA = caOf(FIRST, 'arn:aws:eks:eu-west-1:123456789012:cluster/prod-east');
const WEST_CA = caOf(FIRST, 'gke_acme-prod_europe-west1-b_prod-west');
const LAB_CA = fs.readFileSync(path.join(FIXTURES, 'certs', 'west-ca.pem')).toString('base64');

const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A temporary work directory holding `topology` as topology.yaml (and `files`, relative to it). */
function workdir(topology: string, files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-discover-'));
  tempDirs.push(dir);
  fs.writeFileSync(path.join(dir, 'topology.yaml'), topology);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

function readTopology(dir: string): string {
  return fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8');
}

/** The problems of the InputError `fn` throws. */
function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InputError, `expected an InputError, got ${e}`);
    return e.message;
  }
  assert.fail('expected an InputError');
}

/**
 * Runs `meshgen <args>` with the discover command, as main() does (same global options, strictness and exit codes),
 * with `env` merged into process.env for the run.
 */
async function runDiscover(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await runCli(args);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('merges KUBECONFIG files as kubectl does, and keeps every comment, the key order and the formatting', () => {
  // GIVEN a topology with comments above keys, inline, between contexts and at the end
  const dir = workdir(fixture('topology-comments.yaml'));

  // WHEN
  const r = discover({ workdir: dir, env: BOTH });

  // THEN east and west come from the first file (which shadows "east" and the GKE cluster of the second); lab from the
  // second, with its CA read from a file relative to that kubeconfig
  assert.equal(
    readTopology(dir),
    `# The topology of the discover tests, with comments at every level.

mesh_id: testmesh # the mesh
# contexts below
contexts: # one per kube context
  # EKS
  east:
    # its network
    network: net-1 # inline on network
    cluster: prod-east
    server: https://east.eks.example.com
    certificateAuthorityData: ${EAST_CA}
    # role comment
    role: primary

  # GKE, between contexts
  west:
    network: net-2
    cluster: prod-west-old  # kept, two spaces before this comment
    server: https://35.1.2.3
    certificateAuthorityData: ${WEST_CA}
  lab:
    network: "net-2"
    cluster: lab
    server: https://lab.example.com:6443 # set by hand
    certificateAuthorityData: ${LAB_CA}
  ghost:
    network: net-3
# the end
`,
  );
  assert.equal(r.written, true);
  assert.deepEqual(r.kubeconfigs, [FIRST, SECOND]);
  assert.deepEqual(
    r.changes.map((c) => c.description),
    [
      'contexts.east.cluster: (unset) → prod-east (derived from kubeconfig cluster "arn:aws:eks:eu-west-1:123456789012:cluster/prod-east")',
      'contexts.east.server: (unset) → https://east.eks.example.com',
      'contexts.east.certificateAuthorityData: updated (was unset)',
      'contexts.west.server: (unset) → https://35.1.2.3',
      'contexts.west.certificateAuthorityData: updated (was unset)',
      'contexts.lab.cluster: (unset) → lab (the kubeconfig cluster name)',
      'contexts.lab.server: https://old.example.com:6443 → https://lab.example.com:6443',
      'contexts.lab.certificateAuthorityData: updated (was unset)',
    ],
  );
  assert.deepEqual(r.missing, ['ghost']);
});

test('the first file of KUBECONFIG that defines a context wins', () => {
  const topology = 'mesh_id: m\ncontexts:\n  east:\n    network: n\n';
  const firstWins = discover({ workdir: workdir(topology), env: BOTH, dryRun: true });
  assert.equal(firstWins.changes.find((c) => c.key === 'server')?.to, 'https://east.eks.example.com');
  const secondFirst = discover({ workdir: workdir(topology), env: { KUBECONFIG: [SECOND, FIRST].join(path.delimiter) }, dryRun: true });
  assert.deepEqual(
    secondFirst.changes.map((c) => [c.key, c.to]),
    [
      ['cluster', 'wrong-east'],
      ['server', 'https://wrong-east.example.com'],
      ['certificateAuthorityData', WEST_CA],
    ],
  );
});

test('the example topology gets back every value, comment and line, then has nothing to change', () => {
  // GIVEN the example topology without cluster, server and certificateAuthorityData
  const example = fs.readFileSync(path.join(REPO_ROOT, 'topology.yaml'), 'utf8');
  const stripped = example
    .split('\n')
    .filter((l) => !/^ {4}(cluster|server|certificateAuthorityData):/.test(l))
    .join('\n');
  assert.notEqual(stripped, example);
  const dir = workdir(stripped);

  // WHEN
  const r = discover({ workdir: dir, kubeconfig: EXAMPLE_KUBECONFIG, env: {} });

  // THEN the file is the example again, byte for byte: every comment line survives, in order
  const text = readTopology(dir);
  const comments = (t: string) => t.split('\n').filter((l) => /^\s*#/.test(l));
  assert.ok(comments(example).length > 15);
  assert.deepEqual(comments(text), comments(example));
  assert.equal(text, example);
  assert.equal(r.changes.length, 9);
  assert.deepEqual(r.warnings, []);

  // AND the example itself has nothing to change, and is not rewritten
  const before = fs.statSync(path.join(dir, 'topology.yaml'));
  const again = discover({ workdir: dir, kubeconfig: EXAMPLE_KUBECONFIG, env: {} });
  assert.deepEqual(again.changes, []);
  assert.equal(again.written, false);
  assert.equal(readTopology(dir), example);
  assert.equal(fs.statSync(path.join(dir, 'topology.yaml')).ino, before.ino);
});

test('certificate-authority file paths are relative to the directory of the kubeconfig that names them', () => {
  // GIVEN a kubeconfig in another directory than the work directory and the current directory, naming one CA by a
  // relative path and one by an absolute path
  const dir = workdir('mesh_id: m\ncontexts:\n  rel:\n    network: n\n  abs:\n    network: n\n', {
    'kube/config': [
      'clusters:',
      '- name: rel',
      '  cluster: {server: "https://rel.example.com", certificate-authority: ../pki/ca.pem}',
      '- name: abs',
      `  cluster: {server: "https://abs.example.com", certificate-authority: ${JSON.stringify(path.join(FIXTURES, 'certs', 'west-ca.pem'))}}`,
      'contexts:',
      '- {name: rel, context: {cluster: rel}}',
      '- {name: abs, context: {cluster: abs}}',
      '',
    ].join('\n'),
    'pki/ca.pem': Buffer.from(EAST_CA, 'base64').toString('utf8'),
  });

  // WHEN
  const r = discover({ workdir: dir, kubeconfig: path.join(dir, 'kube', 'config'), env: {} });

  // THEN each CA is the base64 of its file, as `kubectl config view --flatten` writes it
  const contexts = parseTopology(readTopology(dir)).clusters;
  assert.equal(contexts.find((c) => c.context === 'rel')?.certificateAuthorityData, EAST_CA);
  assert.equal(contexts.find((c) => c.context === 'abs')?.certificateAuthorityData, LAB_CA);
  assert.deepEqual(r.missing, []);
});

test('a context the kubeconfig lacks is listed as a warning; the others are filled and the exit code is 0', async () => {
  // GIVEN "eats" (a typo of east) and "ghost" are in no kubeconfig file
  const dir = workdir('mesh_id: m\ncontexts:\n  eats:\n    network: n\n  lab:\n    network: n\n  ghost:\n    network: n\n');

  // WHEN
  const r = await runDiscover(['discover', '--workdir', dir], BOTH);

  // THEN
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: not in the kubeconfig, left as they are: eats \(did you mean "east"\?\), ghost; /m);
  assert.match(r.stdout, /^contexts\.lab\.server: \(unset\) → https:\/\/lab\.example\.com:6443$/m);
  assert.match(r.stdout, /^updated topology\.yaml: 3 changes in 1 context \(from .*kubeconfig-first\.yaml, .*kubeconfig-second\.yaml\)$/m);
  assert.deepEqual(
    Object.keys((parse(readTopology(dir)) as { contexts: Record<string, object> }).contexts.eats),
    ['network'],
    'a missing context is left as it is',
  );
});

test('an existing cluster: is never changed; a different kubeconfig suggestion is a note', async () => {
  const topology = 'mesh_id: m\ncontexts:\n  west:\n    network: n\n    cluster: prod-west-old\n';
  const dir = workdir(topology);
  const r = await runDiscover(['discover', '--workdir', dir, '--kubeconfig', FIRST]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^note: contexts\.west\.cluster: keeping "prod-west-old" \(the kubeconfig suggests "prod-west"\); renaming a cluster/m);
  assert.equal(readTopology(dir), `${topology}    server: https://35.1.2.3\n    certificateAuthorityData: ${WEST_CA}\n`);
});

test('EKS and GKE cluster names are derived from the kubeconfig cluster name; DNS-1123 labels are kept as they are', () => {
  assert.deepEqual(clusterNameFor('arn:aws:eks:eu-west-1:123456789012:cluster/prod-east'), { name: 'prod-east', derived: true });
  assert.deepEqual(clusterNameFor('arn:aws-cn:eks:cn-north-1:123456789012:cluster/Prod_China'), { name: 'prod-china', derived: true });
  assert.deepEqual(clusterNameFor('gke_acme-prod_europe-west1-b_prod-west'), { name: 'prod-west', derived: true });
  assert.deepEqual(clusterNameFor('kind-east'), { name: 'kind-east', derived: false });
  assert.deepEqual(clusterNameFor('api-ocp-example-com:6443'), { name: 'api-ocp-example-com-6443', derived: true });
  assert.deepEqual(clusterNameFor('My Cluster (EU)'), { name: 'my-cluster-eu', derived: true });
  assert.equal(clusterNameFor(`c${'-x'.repeat(40)}_`)?.name.length, 63);
  assert.ok(DNS_LABEL.test(clusterNameFor(`c${'-x'.repeat(40)}_`)!.name));
  assert.equal(clusterNameFor('___'), undefined);
});
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

test('contexts named by EKS and GKE (invalid as cluster names) become valid once discover names their clusters', () => {
  // GIVEN the context names that aws and gcloud write, which are no DNS-1123 labels
  const topology = [
    'mesh_id: m',
    'contexts:',
    '  arn:aws:eks:eu-west-1:123456789012:cluster/prod-east:',
    '    network: n',
    '  gke_acme-prod_europe-west1-b_prod-west:',
    '    network: n',
    '',
  ].join('\n');
  assert.match(
    problemsOf(() => parseTopology(topology)),
    /cannot be used as the cluster name/,
  );
  const dir = workdir(topology);

  // WHEN
  const r = discover({ workdir: dir, env: { KUBECONFIG: FIRST } });

  // THEN
  assert.deepEqual(
    parseTopology(readTopology(dir)).clusters.map((c) => [c.context, c.name]),
    [
      ['arn:aws:eks:eu-west-1:123456789012:cluster/prod-east', 'prod-east'],
      ['gke_acme-prod_europe-west1-b_prod-west', 'prod-west'],
    ],
  );
  assert.deepEqual(
    r.changes.filter((c) => c.key === 'cluster').map((c) => c.derivedFrom),
    ['arn:aws:eks:eu-west-1:123456789012:cluster/prod-east', 'gke_acme-prod_europe-west1-b_prod-west'],
  );
});

test('a derived cluster name that another cluster of the mesh has is not used: the context keeps its name, with a warning', () => {
  // GIVEN "east" and its EKS alias point at the same kubeconfig cluster, and "prod-west" is already taken
  const dir = workdir(
    'mesh_id: m\ncontexts:\n  east:\n    network: n\n  other:\n    network: n\n    cluster: prod-west\n  west:\n    network: n\n  eks:\n    network: n\n',
    {
      kubeconfig: fs
        .readFileSync(FIRST, 'utf8')
        .replace('contexts:\n', 'contexts:\n- {name: eks, context: {cluster: "arn:aws:eks:eu-west-1:123456789012:cluster/prod-east"}}\n'),
    },
  );

  // WHEN
  const r = discover({ workdir: dir, kubeconfig: path.join(dir, 'kubeconfig'), env: {} });

  // THEN
  const names = parseTopology(readTopology(dir)).clusters.map((c) => `${c.context}=${c.name}`);
  assert.deepEqual(names.sort(), ['east=prod-east', 'eks=eks', 'other=prod-west', 'west=west']);
  assert.ok(
    r.warnings.some((w) =>
      w.startsWith('contexts.west: the cluster name "prod-west" (from kubeconfig cluster "gke_acme-prod_europe-west1-b_prod-west")'),
    ),
  );
  assert.ok(r.warnings.some((w) => w.includes('contexts.eks: the cluster name "prod-east"') && w.includes('already used by contexts.east')));
});

test('a cluster with insecure-skip-tls-verify and no CA: the server is copied, with a warning that remote secrets need a CA', () => {
  const dir = workdir('mesh_id: m\ncontexts:\n  insecure:\n    network: n\n');
  const r = discover({ workdir: dir, env: BOTH });
  assert.deepEqual(
    r.changes.map((c) => c.description),
    [
      'contexts.insecure.cluster: (unset) → insecure-lab (derived from kubeconfig cluster "Insecure_Lab")',
      'contexts.insecure.server: (unset) → https://10.0.0.5:6443',
    ],
  );
  assert.equal(r.warnings.length, 1);
  assert.match(
    r.warnings[0],
    /"Insecure_Lab" .* uses insecure-skip-tls-verify and has no certificate authority; remote secrets need the API server's CA/,
  );
});

test('a server that is not https, or a loopback address, is reported', () => {
  const dir = workdir('mesh_id: m\ncontexts:\n  plain:\n    network: n\n  kind:\n    network: n\n', {
    kubeconfig: [
      'clusters:',
      '- {name: plain, cluster: {server: "http://10.0.0.1:8080"}}',
      `- {name: kind-kind, cluster: {server: "https://127.0.0.1:41234", certificate-authority-data: ${EAST_CA}}}`,
      'contexts:',
      '- {name: plain, context: {cluster: plain}}',
      '- {name: kind, context: {cluster: kind-kind}}',
      '',
    ].join('\n'),
  });
  const r = discover({ workdir: dir, kubeconfig: path.join(dir, 'kubeconfig'), env: {} });
  assert.ok(r.warnings.some((w) => w.includes('server "http://10.0.0.1:8080" is not an https:// URL; not copied')));
  assert.ok(r.warnings.some((w) => w.includes('https://127.0.0.1:41234 is a loopback address that other clusters cannot reach')));
  assert.ok(!r.changes.some((c) => c.context === 'plain' && c.key === 'server'));
  parseTopology(readTopology(dir));
});

test('edits in place whatever the layout: CRLF, no final newline, 4-space indent, flow mappings, quoting, block scalars', () => {
  // GIVEN
  const crlf =
    'mesh_id: m\r\ncontexts:\r\n    east:\r\n        network: n\r\n        cluster:\r\n        server: "https://old.example.com"\r\n    lab: {network: n}';
  const dir = workdir(crlf);

  // WHEN
  const r = discover({ workdir: dir, env: BOTH });

  // THEN edited in place (not re-rendered); an empty cluster: is filled; the old value keeps its double quotes; the flow mapping stays a flow mapping
  assert.equal(
    readTopology(dir),
    'mesh_id: m\r\ncontexts:\r\n    east:\r\n        network: n\r\n        cluster: prod-east\r\n' +
      `        server: "https://east.eks.example.com"\r\n        certificateAuthorityData: ${EAST_CA}\r\n` +
      `    lab: {network: n, cluster: lab, server: https://lab.example.com:6443, certificateAuthorityData: ${LAB_CA}}`,
  );
  assert.deepEqual(r.warnings, []);

  // GIVEN a last line without a line break: the added lines end the same way
  const noEol = workdir('mesh_id: m\ncontexts:\n  lab:\n    network: n');
  discover({ workdir: noEol, env: BOTH });
  assert.equal(
    readTopology(noEol),
    `mesh_id: m\ncontexts:\n  lab:\n    network: n\n    cluster: lab\n    server: https://lab.example.com:6443\n    certificateAuthorityData: ${LAB_CA}`,
  );

  // GIVEN a CA as a folded block scalar and a single-quoted server, followed by another key
  const folded = `mesh_id: m\ncontexts:\n  east:\n    network: n\n    server: 'https://old'\n    certificateAuthorityData: >-\n      ${WEST_CA.slice(0, 60)}\n      ${WEST_CA.slice(60)}\n    role: primary\n`;
  const dir2 = workdir(folded);
  discover({ workdir: dir2, env: BOTH });
  assert.equal(
    readTopology(dir2),
    `mesh_id: m\ncontexts:\n  east:\n    network: n\n    cluster: prod-east\n    server: 'https://east.eks.example.com'\n    certificateAuthorityData: ${EAST_CA}\n    role: primary\n`,
  );
});

test('--dry-run writes nothing and prints a unified diff of topology.yaml, without the CA data in full', async () => {
  // GIVEN
  const dir = workdir(fixture('topology-comments.yaml'));
  const before = hashTree(dir);

  // WHEN
  const r = await runDiscover(['discover', '--workdir', dir, '--dry-run'], BOTH);

  // THEN
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(hashTree(dir), before);
  assert.ok(r.stdout.includes('\n--- topology.yaml\n+++ topology.yaml (after discover)\n@@ -7,6 +7,9 @@\n   east:\n'), r.stdout);
  assert.ok(
    r.stdout.includes('\n     network: net-1 # inline on network\n+    cluster: prod-east\n+    server: https://east.eks.example.com\n'),
    r.stdout,
  );
  assert.ok(
    r.stdout.includes(
      '\n-    server: https://old.example.com:6443 # set by hand\n+    cluster: lab\n+    server: https://lab.example.com:6443 # set by hand\n',
    ),
  );
  assert.match(r.stdout, /^\+ {4}certificateAuthorityData: LS0tLS1CRUdJTiBDRVJUSUZJ…\(1488 characters\)$/m);
  assert.ok(!r.stdout.includes(EAST_CA) && !r.stdout.includes(EAST_CA.slice(0, 100)), 'CA data is never printed in full');
  assert.match(r.stdout, /^contexts\.east\.certificateAuthorityData: updated \(was unset\)$/m);
  assert.match(r.stdout, /^--dry-run: 8 changes in 3 contexts; topology\.yaml not written\n$/m);
});

test('a second run says nothing to change and leaves the file byte-identical (not even rewritten)', async () => {
  const dir = workdir(fixture('topology-comments.yaml'));
  const first = await runDiscover(['discover', '--workdir', dir], BOTH);
  assert.equal(first.code, 0, first.stderr);
  const text = readTopology(dir);
  const stat = fs.statSync(path.join(dir, 'topology.yaml'));

  const second = await runDiscover(['discover', '--workdir', dir], BOTH);

  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, 'nothing to change in topology.yaml\n');
  assert.equal(readTopology(dir), text);
  assert.equal(fs.statSync(path.join(dir, 'topology.yaml')).ino, stat.ino);
  assert.equal(fs.statSync(path.join(dir, 'topology.yaml')).mtimeMs, stat.mtimeMs);
});

test('discover --help shows the options and examples', async () => {
  const r = await runDiscover(['discover', '--help']);
  assert.equal(r.code, 0);
  for (const s of ['--kubeconfig', '--dry-run', 'Examples:', 'meshgen discover --dry-run', 'KUBECONFIG=']) assert.ok(r.stdout.includes(s), s);
});

test('unifiedDiff: hunks with three lines of context, and a missing final newline', () => {
  const a = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk';
  const b = 'a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\n';
  assert.equal(
    unifiedDiff(a, b, 'old', 'new'),
    '--- old\n+++ new\n@@ -1,5 +1,5 @@\n a\n-b\n+B\n c\n d\n e\n@@ -8,4 +8,4 @@\n h\n i\n j\n-k\n\\ No newline at end of file\n+k\n',
  );
  assert.equal(unifiedDiff('x\n', 'x\n', 'old', 'new'), '');
});

test('fails when the kubeconfig given with --kubeconfig does not exist', async () => {
  const dir = workdir(fixture('topology-comments.yaml'));
  const before = hashTree(dir);
  const missing = path.join(dir, 'no-such-kubeconfig');
  const r = await runDiscover(['discover', '--workdir', dir, '--kubeconfig', missing], BOTH);
  assert.equal(r.code, 2);
  assert.ok(
    r.stderr.includes(`${missing}: kubeconfig file not found (--kubeconfig); fix: pass the path of an existing kubeconfig file to --kubeconfig`),
    r.stderr,
  );
  assert.deepEqual(hashTree(dir), before);
});

test('fails when KUBECONFIG is not set and ~/.kube/config does not exist', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-home-'));
  tempDirs.push(home);
  const message = problemsOf(() => discover({ workdir: workdir(fixture('topology-comments.yaml')), env: {}, home }));
  assert.ok(message.includes(`${path.join(home, '.kube', 'config')}: kubeconfig file not found`), message);
  assert.ok(message.includes('fix: pass --kubeconfig <file>, or set KUBECONFIG'), message);
});

test('fails when no file listed in KUBECONFIG exists (a missing one among others is only a warning, as in kubectl)', () => {
  const dir = workdir(fixture('topology-comments.yaml'));
  const gone = path.join(dir, 'gone.yaml');
  const message = problemsOf(() => discover({ workdir: dir, env: { KUBECONFIG: gone } }));
  assert.match(message, /gone\.yaml: kubeconfig file not found \(listed in KUBECONFIG\); fix: set KUBECONFIG to existing kubeconfig files/);
  const r = discover({ workdir: dir, env: { KUBECONFIG: [gone, FIRST].join(path.delimiter) }, dryRun: true });
  assert.deepEqual(r.kubeconfigs, [FIRST]);
  assert.ok(r.warnings.includes(`${gone} (listed in KUBECONFIG) does not exist; skipped, as kubectl does`));
});

test('fails when the kubeconfig is not YAML', async () => {
  const dir = workdir(fixture('topology-comments.yaml'), { kubeconfig: 'apiVersion: v1\nclusters: [\n  - name: "x\n' });
  const before = hashTree(dir);
  const r = await runDiscover(['discover', '--workdir', dir, '--kubeconfig', path.join(dir, 'kubeconfig')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /kubeconfig:\d+:\d+: not a valid kubeconfig: YAML syntax error: .*; fix: check that it is a kubeconfig/);
  assert.deepEqual(hashTree(dir), before);
});

test('fails when the kubeconfig is YAML but not a kubeconfig', () => {
  const dir = workdir(fixture('topology-comments.yaml'), {
    a: 'just some words\n',
    b: 'clusters:\n  name: x\n',
    c: 'apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\n',
    d: 'foo: 1\nbar: 2\n',
  });
  assert.match(
    problemsOf(() => discover({ workdir: dir, kubeconfig: path.join(dir, 'a'), env: {} })),
    /a:1: not a kubeconfig: expected a mapping, got "just some words"/,
  );
  assert.match(
    problemsOf(() => discover({ workdir: dir, kubeconfig: path.join(dir, 'b'), env: {} })),
    /b:2:3: clusters: expected a list of named clusters/,
  );
  assert.match(
    problemsOf(() => discover({ workdir: dir, kubeconfig: path.join(dir, 'topology.yaml'), env: {} })),
    /topology\.yaml:7:3: contexts: expected a list of named contexts, got \{"east"/,
  );
  assert.match(
    problemsOf(() => discover({ workdir: dir, kubeconfig: path.join(dir, 'c'), env: {} })),
    /c:2:7: kind: not a kubeconfig: expected kind: Config with clusters: and contexts:, got kind "IstioOperator"/,
  );
  assert.match(
    problemsOf(() => discover({ workdir: dir, kubeconfig: path.join(dir, 'd'), env: {} })),
    /d:1:1: not a kubeconfig: expected kind: Config with clusters: and contexts:, got the keys foo, bar;/,
  );
});

test('fails when a certificate-authority file cannot be read', () => {
  const dir = workdir('mesh_id: m\ncontexts:\n  lab:\n    network: n\n', {
    kubeconfig:
      'clusters:\n- name: lab\n  cluster:\n    server: https://lab\n    certificate-authority: nowhere/ca.pem\ncontexts:\n- {name: lab, context: {cluster: lab}}\n',
  });
  const message = problemsOf(() => discover({ workdir: dir, kubeconfig: path.join(dir, 'kubeconfig'), env: {} }));
  assert.ok(
    message.includes(`kubeconfig:5:28: clusters[0].cluster.certificate-authority: "${path.join(dir, 'nowhere', 'ca.pem')}" cannot be read (ENOENT)`),
    message,
  );
});

test('fails when topology.yaml is invalid, citing the line of the file on disk, and writes nothing', async () => {
  // GIVEN an unknown key below a context that discover would fill (so the edited text has more lines)
  const topology = 'mesh_id: m\ncontexts:\n  east:\n    network: n\n  lab:\n    netwrok: n\n';
  const dir = workdir(topology);

  // WHEN
  const r = await runDiscover(['discover', '--workdir', dir], BOTH);

  // THEN
  assert.equal(r.code, 2);
  assert.match(r.stderr, /topology\.yaml:6:5: contexts\.lab\.netwrok: unknown key "netwrok"; did you mean "network"\?/);
  assert.equal(readTopology(dir), topology);
});

test('fails when topology.yaml is not valid YAML, or has nothing to fill', () => {
  const bad = workdir('mesh_id: m\ncontexts:\n  east:\n    network: "n\n');
  assert.match(
    problemsOf(() => discover({ workdir: bad, env: BOTH })),
    /^topology\.yaml:\d+:\d+: YAML syntax error/,
  );
  const empty = workdir('mesh_id: m\ncontexts:\n# add your clusters here\n');
  assert.match(
    problemsOf(() => discover({ workdir: empty, env: BOTH })),
    /^topology\.yaml:2:\d+: contexts: no clusters are listed/,
  );
});
