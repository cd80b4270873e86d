/**
 * `meshgen status`: every state the table reports (certificates ok / expiring / missing, reader tokens sealed /
 * missing / kept / stale, dist/ current / stale / unknown), the actions with their commands, JSON, exit codes.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli } from '../helpers/cli';
import { type MeshSpec, makeMeshWorkdir, synthIn, tokenOf } from '../helpers/mesh-gen';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function notAfter(file: string): string {
  return new Date(new crypto.X509Certificate(fs.readFileSync(file, 'utf8')).validTo).toISOString().slice(0, 10);
}

/** The rows of the table (cells split on two or more spaces). */
function rows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  return lines.slice(1, lines.indexOf('')).map((l) => l.split(/ {2,}/));
}

function actions(stdout: string): { problem: string; command: string }[] {
  const lines = stdout.split('\n');
  const out: { problem: string; command: string }[] = [];
  for (let i = lines.indexOf('Needs action:') + 1; i > 0 && lines[i]?.startsWith('  '); i += 2) {
    out.push({ problem: lines[i].trim(), command: lines[i + 1].replace(/^ {4}run: /, '') });
  }
  return out;
}

const EXAMPLE = ['cluster-east-1', 'cluster-east-2', 'cluster-west-1'];

describe('meshgen status', () => {
  test('the example: every certificate valid, every token sealed for both other primaries, dist/ current; exit 0', async () => {
    const dir = makeExampleWorkdir();
    dirs.push(dir);
    const before = hashTree(dir);
    const r = await runCli(['status', '--workdir', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const root = notAfter(path.join(dir, 'certs/root-cert.pem'));
    assert.equal(
      r.stdout.split('\n')[0],
      'CLUSTER         ROLE     NETWORK       INSTALLER  DATA PLANE  INTERMEDIATE  ROOT        SEALING CERT  READER TOKEN SEALED FOR  DIST',
    );
    assert.deepEqual(
      rows(r.stdout),
      EXAMPLE.map((c) => [
        c,
        'primary',
        c.includes('west') ? 'network-west' : 'network-east',
        'helm',
        'sidecar',
        notAfter(path.join(dir, 'certs', c, 'ca-cert.pem')),
        root,
        notAfter(path.join(dir, 'sealing-certs', `${c}.pem`)),
        '2/2',
        'current',
      ]),
    );
    assert.match(r.stdout, /\nstatus: 3 cluster\(s\), nothing needs action \(certificates valid for more than 30 days\)\n$/);
    assert.deepEqual(hashTree(dir), before, 'status writes nothing');

    const json = JSON.parse((await runCli(['status', '--workdir', dir, '--output', 'json'])).stdout);
    assert.equal(json.schema, 'meshgen.status/v1');
    assert.equal(json.needsAction, false);
    assert.deepEqual(json.actions, []);
    assert.equal(json.dist.current, true);
    const east1 = json.clusters[0];
    assert.equal(east1.cluster, 'cluster-east-1');
    assert.equal(east1.context, 'context-east-1');
    assert.equal(east1.intermediate.state, 'ok');
    assert.equal(east1.sealingCert.file, 'sealing-certs/cluster-east-1.pem');
    assert.deepEqual(east1.readerToken.primaries, ['cluster-east-2', 'cluster-west-1']);
    assert.deepEqual(east1.readerToken.sealedFor, ['cluster-east-2', 'cluster-west-1']);
    assert.deepEqual(east1.readerToken.missing, []);
    assert.equal(east1.distCurrent, true);
  });

  test('--warn-days: expiring intermediates, root and sealing certificates, each with its command; exit 1', async () => {
    const dir = makeExampleWorkdir();
    dirs.push(dir);
    const r = await runCli(['status', '--workdir', dir, '--warn-days', '5000']);
    assert.equal(r.code, 1, r.stderr);
    for (const row of rows(r.stdout)) for (const cell of [row[5], row[6], row[7]]) assert.match(cell, /^\d{4}-\d\d-\d\d \(\d+d\)!$/);
    assert.deepEqual(
      actions(r.stdout).map((a) => a.command),
      [
        'meshgen rotate-root --phase add && npm run synth',
        ...EXAMPLE.flatMap((c) => [
          `meshgen rotate --cluster ${c} && npm run synth`,
          `kubeseal --context ${c.replace('cluster', 'context')} --controller-name sealed-secrets --controller-namespace kube-system --fetch-cert > sealing-certs/${c}.pem && npm run synth`,
        ]),
      ],
    );
    assert.match(
      actions(r.stdout)[1].problem,
      /^cluster-east-1: the intermediate CA expires on \d{4}-\d\d-\d\d, in \d+ day\(s\) \(within --warn-days 5000\)$/,
    );
    assert.match(r.stdout, /\nstatus: 3 cluster\(s\), 7 thing\(s\) need action\n$/);
    const json = JSON.parse((await runCli(['status', '--workdir', dir, '--warn-days', '5000', '--output', 'json'])).stdout);
    assert.equal(json.needsAction, true);
    assert.equal(json.clusters[2].sealingCert.state, 'expiring');
    assert.ok(json.clusters[2].intermediate.daysLeft > 3000);
  });

  test('a missing sealing certificate and a missing intermediate; synth cannot run, so dist/ is unknown', async () => {
    const dir = makeExampleWorkdir();
    dirs.push(dir);
    fs.rmSync(path.join(dir, 'sealing-certs/cluster-west-1.pem'));
    fs.rmSync(path.join(dir, 'certs/cluster-east-2/ca-cert.pem'));
    const r = await runCli(['status', '--workdir', dir]);
    assert.equal(r.code, 1, r.stderr);
    const table = rows(r.stdout);
    assert.equal(table[1][5], 'MISSING');
    assert.equal(table[2][7], 'MISSING');
    assert.deepEqual(
      table.map((row) => row[9]),
      ['unknown', 'unknown', 'unknown'],
    );
    assert.deepEqual(
      actions(r.stdout).map((a) => a.command),
      [
        'meshgen validate',
        'npm run synth',
        'kubeseal --context context-west-1 --controller-name sealed-secrets --controller-namespace kube-system --fetch-cert > sealing-certs/cluster-west-1.pem && npm run synth',
      ],
    );
    assert.match(actions(r.stdout)[0].problem, /^synth cannot run: sealing-certs\/cluster-west-1\.pem .*not found/);
    assert.equal(
      actions(r.stdout)[1].problem,
      'cluster-east-2: no intermediate CA (certs/cluster-east-2/ca-cert.pem); synth issues it where certs/root-key.pem is',
    );
  });

  test('reader tokens: missing (seal-token), sealed, kept but not sealed yet, stale after a server change; dist/ stale', async () => {
    const spec: MeshSpec = {
      meshId: 'status-mesh',
      clusters: [
        { context: 'ctx-a', cluster: 'alpha', network: 'net-1', address: '10.0.0.1' },
        { context: 'ctx-b', cluster: 'bravo', network: 'net-1', role: 'remote', primary: 'ctx-a' },
        { context: 'ctx-c', cluster: 'charlie', network: 'net-2' },
      ],
    };
    const dir = await makeMeshWorkdir(spec);
    dirs.push(dir);
    assert.equal((await synthIn(dir)).code, 0);
    const token = (stdout: string) => rows(stdout).map((row) => [row[0], row[1], row[8], row[9]]);

    let r = await runCli(['status', '--workdir', dir]);
    assert.equal(r.code, 1);
    assert.deepEqual(token(r.stdout), [
      ['alpha', 'primary', '0/1 (missing: charlie)', 'current'],
      ['bravo', 'remote of alpha', '0/2 (missing: alpha, charlie)', 'current'],
      ['charlie', 'primary', '0/1 (missing: alpha)', 'current'],
    ]);
    assert.deepEqual(actions(r.stdout)[1], {
      problem:
        "bravo: its reader token is not sealed for alpha, charlie; <file> holds the token of its Secret istio-system/istio-reader-service-account-istio-remote-secret-token once its control plane runs (kubectl -n istio-system get secret ... -o jsonpath='{.data.token}' | base64 -d)",
      command: 'meshgen seal-token --context ctx-b --token-file <file> && npm run synth',
    });

    // bravo's token sealed (dist/ not synthesized yet); alpha's token kept on this machine but not sealed.
    const file = path.join(dir, 'bravo.token');
    fs.writeFileSync(file, tokenOf('bravo'));
    assert.equal((await runCli(['seal-token', '--context', 'ctx-b', '--token-file', file, '--workdir', dir])).code, 0);
    fs.writeFileSync(path.join(dir, 'certs/alpha/reader-token'), `${tokenOf('alpha')}\n`, { mode: 0o600 });
    r = await runCli(['status', '--workdir', dir]);
    assert.deepEqual(token(r.stdout), [
      ['alpha', 'primary', '0/1 (missing: charlie)', 'stale'],
      ['bravo', 'remote of alpha', '2/2', 'current'],
      ['charlie', 'primary', '0/1 (missing: alpha)', 'stale'],
    ]);
    assert.deepEqual(actions(r.stdout), [
      {
        // sealed/alpha.yaml and charlie.yaml, their remote secrets and dist/README.md (which lists them) are stale.
        problem: 'dist/ or sealed/ is not what synth produces (6 item(s)); run synth where the private keys are, and commit dist/ and sealed/',
        command: 'npm run synth',
      },
      {
        problem: 'alpha: its reader token is not sealed for charlie; synth seals the token kept in certs/alpha/reader-token',
        command: 'npm run synth',
      },
      { problem: actions(r.stdout)[2].problem, command: 'meshgen seal-token --context ctx-c --token-file <file> && npm run synth' },
    ]);
    const json = JSON.parse((await runCli(['status', '--workdir', dir, '--output', 'json'])).stdout);
    assert.deepEqual(json.dist.stale, [
      'dist/README.md',
      'dist/clusters/alpha/secrets/kustomization.yaml',
      'dist/clusters/alpha/secrets/remote-secrets.yaml',
      'dist/clusters/charlie/secrets/kustomization.yaml',
      'dist/clusters/charlie/secrets/remote-secrets.yaml',
      'sealed/charlie.yaml istio-remote-secret-alpha/alpha: not sealed yet',
    ]);
    assert.equal(json.clusters[0].readerToken.kept, true);

    // synth seals alpha's kept token for charlie; then bravo's API server moves: its sealed kubeconfigs are stale.
    assert.equal((await synthIn(dir)).code, 0);
    const topo = path.join(dir, 'topology.yaml');
    fs.writeFileSync(topo, fs.readFileSync(topo, 'utf8').replace('https://api.bravo.example.test:6443', 'https://api2.bravo.example.test:6443'));
    r = await runCli(['status', '--workdir', dir]);
    assert.deepEqual(token(r.stdout), [
      // The stale remote secrets of bravo are in the directories of alpha and charlie.
      ['alpha', 'primary', '1/1', 'stale'],
      ['bravo', 'remote of alpha', '0/2 (stale: alpha, charlie)', 'current'],
      ['charlie', 'primary', '0/1 (missing: alpha)', 'stale'],
    ]);
  });

  test('exit 2 on bad input', async () => {
    const dir = makeExampleWorkdir();
    dirs.push(dir);
    const bad = await runCli(['status', '--workdir', dir, '--warn-days', '-1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--warn-days/);
    fs.writeFileSync(path.join(dir, 'topology.yaml'), 'contexts: {}\n');
    const broken = await runCli(['status', '--workdir', dir]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /topology\.yaml/);
  });
});
