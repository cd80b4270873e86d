/**
 * `meshgen plan` on copies of the bundled example: rotating an intermediate, editing base.yaml, exit codes, and the
 * trees it compares with (--against-dir, --against <ref> in a git repository whose work directory is a subdirectory,
 * a work directory outside git).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli } from '../helpers/cli';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of the example with its private keys, and a copy of its dist/ as `old`. */
function example(): { dir: string; old: string } {
  const dir = makeExampleWorkdir({ withPrivateKeys: true });
  const old = `${dir}-old`;
  dirs.push(dir, old);
  fs.cpSync(path.join(dir, 'dist'), old, { recursive: true });
  return { dir, old };
}

const CLUSTERS = ['cluster-east-1', 'cluster-east-2', 'cluster-west-1'];

function expiry(dir: string, cluster: string): string {
  const pem = fs.readFileSync(path.join(dir, 'certs', cluster, 'ca-cert.pem'), 'utf8');
  return new Date(new crypto.X509Certificate(pem).validTo).toISOString().slice(0, 10);
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=meshgen test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    encoding: 'utf8',
  });
}

describe('meshgen plan (the example)', () => {
  test('no change: exit 0 and one line; nothing in the work directory changes', async () => {
    const { dir, old } = example();
    const work = hashTree(dir);
    const r = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `No changes: the synthesized dist/ is the same as the directory ${old}.\n`);
    const json = JSON.parse((await runCli(['plan', '--workdir', dir, '--against-dir', old, '--output', 'json'])).stdout);
    assert.equal(json.changed, false);
    assert.deepEqual(json.changes, []);
    assert.deepEqual(json.files, { added: [], changed: [], removed: [] });
    assert.deepEqual(hashTree(dir), work);
  });

  test('rotating an intermediate: cacerts resealed with the new expiry; before synth it needs synth', async () => {
    const { dir, old } = example();
    const rotated = await runCli(['rotate', '--cluster', 'cluster-east-1', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const exp = expiry(dir, 'cluster-east-1');

    const before = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(before.code, 1, before.stderr);
    assert.equal(
      before.stdout,
      [
        `cluster-east-1: ~ cacerts resealed: intermediate rotated (new expiry ${exp}); sealed by the next synth`,
        'cluster-east-1: ! needs synth: seal cacerts (ca-cert.pem, ca-key.pem, cert-chain.pem): the value changed',
        `Plan: 1 change in 1 cluster, 0 disruptive against the directory ${old}; 1 item needs \`npm run synth\` first.`,
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await runCli(['plan', '--workdir', dir, '--against-dir', old, '--output', 'json'])).stdout);
    assert.equal(json.summary.needsSynth, 1);
    assert.equal(json.changes[1].op, '!');

    assert.equal((await runCli(['synth', '--workdir', dir])).code, 0);
    const r = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stdout,
      [
        `cluster-east-1: ~ cacerts resealed: intermediate rotated (new expiry ${exp})`,
        `Plan: 1 change in 1 cluster, 0 disruptive against the directory ${old}.`,
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(r.stdout, /Ag[A-Za-z0-9+/]{40}/, 'no ciphertext is printed');
  });

  test('editing base.yaml: istiod values (istiod restart) and meshConfig (no restart) on every cluster', async () => {
    const { dir, old } = example();
    const base = path.join(dir, 'base.yaml');
    fs.writeFileSync(
      base,
      fs
        .readFileSync(base, 'utf8')
        .replace('  # meshConfig:\n  #   accessLogFile: /dev/stdout\n', '  meshConfig:\n    accessLogFile: /dev/stdout\n')
        .replace('  # values:\n  #   pilot:\n  #     env:\n', '  values:\n    pilot:\n      env:\n')
        .replace('  #       PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION: "true"', '        PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION: "true"'),
    );
    const r = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stdout,
      [
        ...CLUSTERS.flatMap((c) => [
          `${c}: + istiod values.pilot.env.PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION: "true"  [disruptive: istiod restart]`,
          `${c}: + istiod meshConfig.accessLogFile: /dev/stdout`,
        ]),
        `Plan: 6 changes in 3 clusters, 3 disruptive against the directory ${old}.`,
        '',
      ].join('\n'),
    );
  });

  test('disruptive: a gateway Service type change; a teardown prunes Istio from every cluster', async () => {
    const { dir, old } = example();
    const topo = path.join(dir, 'topology.yaml');
    const text = fs.readFileSync(topo, 'utf8');
    const west = '\n  context-west-1:\n    network: network-west\n';
    fs.writeFileSync(topo, text.replace(west, `${west}    eastWestGateway:\n      serviceType: NodePort\n`));
    const r = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stdout,
      [
        'cluster-west-1: ~ east-west gateway Service type: LoadBalancer → NodePort  [disruptive: the gateway Service is recreated: its external address changes]',
        `Plan: 1 change in 1 cluster, 1 disruptive against the directory ${old}.`,
        '',
      ].join('\n'),
    );

    fs.writeFileSync(topo, text);
    assert.equal((await runCli(['teardown', '--workdir', dir])).code, 0);
    const down = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(down.code, 1, down.stderr);
    const lines = down.stdout.trimEnd().split('\n');
    assert.deepEqual(
      lines.filter((l) => l.startsWith('cluster-')),
      CLUSTERS.map((c) => `${c}: - Istio removed (teardown): everything meshgen installed is pruned  [disruptive: Istio will be pruned]`),
    );
    assert.match(lines[lines.length - 1], /^Plan: \d+ changes in 3 clusters, 3 disruptive against /);
    // The ApplicationSet loses its chart sources: mesh-wide lines, the multi-line templatePatch not printed.
    assert.match(down.stdout, /^mesh-wide: - Argo CD ApplicationSet istio-mymeshname spec\.templatePatch \(was \(\d+ lines\)\)$/m);
  });

  test("a moved API server: the peers' remote secrets resealed (from the kept token), the Argo CD Application's server", async () => {
    const { dir, old } = example();
    const topo = path.join(dir, 'topology.yaml');
    const west = 'https://api.cluster-west-1.example.com:6443';
    fs.writeFileSync(topo, fs.readFileSync(topo, 'utf8').replace(west, 'https://api2.cluster-west-1.example.com:6443'));
    const r = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(r.code, 1, r.stderr);
    const need = "! needs synth: seal istio-remote-secret-cluster-west-1: the peer's server or CA changed; it is resealed from the kept reader token";
    assert.equal(
      r.stdout,
      [
        'cluster-east-1: ~ remote secret for cluster-west-1 resealed (sealed by the next synth)',
        `cluster-east-1: ${need}`,
        'cluster-east-2: ~ remote secret for cluster-west-1 resealed (sealed by the next synth)',
        `cluster-east-2: ${need}`,
        `cluster-west-1: ~ Argo CD Application parameter server: ${west} → https://api2.cluster-west-1.example.com:6443`,
        `Plan: 3 changes in 3 clusters, 0 disruptive against the directory ${old}; 2 items need \`npm run synth\` first.`,
        '',
      ].join('\n'),
    );
  });

  test('exit 2 on bad input: a missing --against-dir, an unknown ref, a broken topology, both --against options', async () => {
    const { dir, old } = example();
    const missing = await runCli(['plan', '--workdir', dir, '--against-dir', path.join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--against-dir does not exist/);
    const both = await runCli(['plan', '--workdir', dir, '--against-dir', old, '--against', 'HEAD']);
    assert.equal(both.code, 2);
    const format = await runCli(['plan', '--workdir', dir, '--against-dir', old, '--output', 'yaml']);
    assert.equal(format.code, 2);
    const outside = await runCli(['plan', '--workdir', dir, '--against', 'HEAD']);
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /not in a git work tree/);
    fs.writeFileSync(path.join(dir, 'topology.yaml'), 'mesh_id: [unclosed\n');
    const broken = await runCli(['plan', '--workdir', dir, '--against-dir', old]);
    assert.equal(broken.code, 2, broken.stdout);
    assert.match(broken.stderr, /topology\.yaml/);
    assert.equal(broken.stdout, '');
  });

  test('--against <ref>: the dist/ committed in a repository whose subdirectory is the work directory', async () => {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-plan-git-'));
    dirs.push(repo);
    const { dir } = example();
    const work = path.join(repo, 'mesh');
    fs.cpSync(dir, work, { recursive: true });
    // A dist/ at the repository root must not be mistaken for the work directory's.
    fs.mkdirSync(path.join(repo, 'dist'));
    fs.writeFileSync(path.join(repo, 'dist', 'other.yaml'), 'x: 1\n');
    git(repo, 'init', '-q');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'mesh');

    const clean = await runCli(['plan', '--workdir', work]);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.equal(clean.stdout, 'No changes: the synthesized dist/ is the same as HEAD (mesh/dist/).\n');

    // Change the network of cluster-west-1 and commit it; HEAD~1 still has the old dist/.
    const topo = path.join(work, 'topology.yaml');
    fs.writeFileSync(
      topo,
      fs.readFileSync(topo, 'utf8').replace('\n  context-west-1:\n    network: network-west\n', '\n  context-west-1:\n    network: network-south\n'),
    );
    assert.equal((await runCli(['synth', '--workdir', work])).code, 0);
    const uncommitted = await runCli(['plan', '--workdir', work]);
    assert.equal(uncommitted.code, 1);
    assert.match(
      uncommitted.stdout,
      /^cluster-west-1: ~ istiod values\.global\.network: network-west → network-south {2}\[disruptive: istiod restart\]$/m,
    );
    git(repo, 'commit', '-qam', 'south');
    assert.equal((await runCli(['plan', '--workdir', work])).code, 0);
    const r = await runCli(['plan', '--workdir', work, '--against', 'HEAD~1', '--output', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.against.kind, 'git');
    assert.equal(json.against.ref, 'HEAD~1');
    assert.equal(json.against.path, 'mesh/dist');
    assert.deepEqual(
      json.changes.map((c: { text: string }) => c.text),
      [
        '~ istiod values.global.network: network-west → network-south',
        '~ east-west gateway network: network-west → network-south',
        '~ namespace istio-system label topology.istio.io/network: network-west → network-south',
      ],
    );

    const bad = await runCli(['plan', '--workdir', work, '--against', 'no-such-branch']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /"no-such-branch" is not a commit/);
  });

  test('a work directory outside git: compared with its dist/ on disk, with a note', async () => {
    const { dir } = example();
    const r = await runCli(['plan', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^note: .* is not in a git work tree: compared with dist\/ on disk/m);
    fs.rmSync(path.join(dir, 'dist', 'clusters', 'cluster-east-2', 'secrets', 'cacerts.yaml'));
    const changed = await runCli(['plan', '--workdir', dir]);
    assert.equal(changed.code, 1);
    assert.match(changed.stdout, /^cluster-east-2: \+ cacerts \(intermediate CA expires \d{4}-\d\d-\d\d\)$/m);
  });
});
