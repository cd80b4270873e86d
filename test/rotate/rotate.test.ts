/**
 * `meshgen rotate`: a new intermediate CA from the same root for the chosen clusters; the next synth reseals exactly
 * those clusters' `cacerts`, and nothing else changes. Run on copies of the bundled example mesh.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { parse } from 'yaml';
import { CertStore, certificateInfo, createIntermediateCa, STAGED_SUFFIX } from '../../src/pki';
import { runCli } from '../helpers/cli';
import { useFixtureRsa2048Keys } from '../helpers/fixture-keys';
import { hashTree, makeExampleWorkdir, REPO_ROOT } from '../helpers/workdir';
import { meshgen, NO_OPENSSL, opensslVerify, treeDiff, unsealCacerts } from './helpers';

// The 2048-bit keys of the intermediates issued here are fixture keys, each distinct (see useFixtureRsa2048Keys): what
// is tested is which intermediates are replaced, with what, and what synth reseals, not fresh key generation.
useFixtureRsa2048Keys(mock);

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A copy of the example (with its private keys) on which synth has run once, so it is the baseline. */
async function workdir(withPrivateKeys = true): Promise<string> {
  const dir = makeExampleWorkdir({ withPrivateKeys });
  dirs.push(dir);
  const r = await runCli(['synth', '--workdir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

const read = (dir: string, rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
const mode = (dir: string, rel: string) => fs.statSync(path.join(dir, rel)).mode & 0o777;
const encryptedData = (dir: string, cluster: string): Record<string, string> =>
  (parse(read(dir, `dist/clusters/${cluster}/secrets/cacerts.yaml`).split('\n---\n')[1]) as { spec: { encryptedData: Record<string, string> } }).spec
    .encryptedData;

describe('meshgen rotate --cluster', () => {
  test('rotates one intermediate; synth then changes exactly that cluster’s cacerts and sealed store', async (t) => {
    const dir = await workdir();
    const before = hashTree(dir);
    const oldCert = read(dir, 'certs/cluster-east-1/ca-cert.pem');
    const oldSealed = encryptedData(dir, 'cluster-east-1');

    const r = await meshgen(['rotate', '--cluster', 'cluster-east-1', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /rotated {2}cluster-east-1: new intermediate CA, serial [0-9A-F]+, valid until \d{4}-\d\d-\d\d, signed by certs\/root-cert\.pem/,
    );
    assert.match(r.stdout, /npm run synth .*reseals only the cacerts of cluster-east-1/);
    assert.match(r.stdout, /istiod\s+reloads the plugged-in CA without a restart/);

    const s = await runCli(['synth', '--workdir', dir]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /sealed 3 value\(s\)/, 'ca-cert.pem, ca-key.pem, cert-chain.pem; root-cert.pem is unchanged');

    // Exactly these files differ from before, in the whole work directory.
    assert.deepEqual(treeDiff(before, hashTree(dir)), {
      added: ['.gitignore'],
      changed: [
        'certs/cluster-east-1/ca-cert.pem',
        'certs/cluster-east-1/ca-key.pem',
        'certs/cluster-east-1/cert-chain.pem',
        'dist/README.md', // the trust chain: the new intermediate's fingerprint
        'dist/clusters/cluster-east-1/secrets/cacerts.yaml',
        'sealed/cluster-east-1.yaml',
      ],
      removed: [],
    });
    const newSealed = encryptedData(dir, 'cluster-east-1');
    assert.equal(newSealed['root-cert.pem'], oldSealed['root-cert.pem'], 'the unchanged root keeps its committed ciphertext');
    for (const k of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem']) assert.notEqual(newSealed[k], oldSealed[k], k);

    // The new intermediate: same subject, new key, chain = intermediate + root, private mode, no staged leftovers.
    const cert = read(dir, 'certs/cluster-east-1/ca-cert.pem');
    assert.notEqual(cert, oldCert);
    assert.equal(certificateInfo(cert).subject, certificateInfo(oldCert).subject);
    assert.equal(certificateInfo(cert).keyBits, 2048);
    assert.equal(read(dir, 'certs/cluster-east-1/cert-chain.pem'), cert + read(dir, 'certs/root-cert.pem'));
    assert.equal(mode(dir, 'certs/cluster-east-1/ca-key.pem'), 0o600);
    assert.deepEqual(
      fs.readdirSync(path.join(dir, 'certs/cluster-east-1')).filter((f) => f.includes(STAGED_SUFFIX)),
      [],
    );
    assert.ok(read(dir, '.gitignore').split('\n').includes(`certs/*/*${STAGED_SUFFIX}*`));

    // What the cluster's controller decrypts is the new set of files.
    const unsealed = unsealCacerts(dir, 'cluster-east-1');
    for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) {
      assert.equal(unsealed[f], read(dir, `certs/cluster-east-1/${f}`), f);
    }

    await t.test('the new intermediate verifies against the root with openssl', { skip: NO_OPENSSL }, () => {
      const v = opensslVerify(read(dir, 'certs/root-cert.pem'), cert, read(dir, 'certs/cluster-east-1/cert-chain.pem'));
      assert.ok(v.ok, v.output);
    });

    // A second synth changes nothing; CI's check passes without keys.
    const again = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  test('accepts kube contexts and several --cluster options', async () => {
    const dir = await workdir();
    const before = ['cluster-east-2', 'cluster-west-1'].map((c) => read(dir, `certs/${c}/ca-cert.pem`));
    const r = await meshgen(['rotate', '--cluster', 'context-east-2', '--cluster', 'cluster-west-1', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rotated {2}cluster-east-2/);
    assert.match(r.stdout, /rotated {2}cluster-west-1/);
    assert.notEqual(read(dir, 'certs/cluster-east-2/ca-cert.pem'), before[0]);
    assert.notEqual(read(dir, 'certs/cluster-west-1/ca-cert.pem'), before[1]);
    const s = await runCli(['synth', '--workdir', dir]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /sealed 6 value\(s\)/);
  });
});

describe('meshgen rotate with secrets.provider external-secrets', () => {
  test('tells to upload the new files with export-ca instead of resealing', async () => {
    const dir = makeExampleWorkdir({ withPrivateKeys: true });
    dirs.push(dir);
    const file = path.join(dir, 'topology.yaml');
    fs.writeFileSync(
      file,
      read(dir, 'topology.yaml').replace(
        'gitops:\n',
        'secrets:\n  provider: external-secrets\n  store: {kind: ClusterSecretStore, name: vault}\ngitops:\n',
      ),
    );
    const r = await meshgen(['rotate', '--cluster', 'cluster-east-1', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /meshgen export-ca --cluster cluster-east-1 --out \/tmp\/cluster-east-1 {3}# then put them under <prefix>\/cluster-east-1\/cacerts/,
    );
    assert.doesNotMatch(r.stdout, /reseals/);
    assert.match(r.stdout, /Once the External Secrets Operator has refreshed istio-system\/cacerts, istiod/);
  });
});

describe('meshgen rotate --expiring-within', () => {
  test('picks exactly the intermediates that expire within DAYS, then says there is nothing to rotate', async () => {
    const dir = await workdir();
    // GIVEN cluster-east-2 with a short-lived intermediate (10 days), the others valid for years
    const short = await meshgen(['rotate', '--cluster', 'cluster-east-2', '--ca-days', '10', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(short.code, 0, short.stderr);
    const days = (c: string) => (certificateInfo(read(dir, `certs/${c}/ca-cert.pem`)).notAfter.getTime() - Date.now()) / 86_400_000;
    assert.ok(days('cluster-east-2') < 11);
    const others = ['cluster-east-1', 'cluster-west-1'].map((c) => read(dir, `certs/${c}/ca-cert.pem`));

    // WHEN rotating what expires within 9 days: nothing
    const none = await meshgen(['rotate', '--expiring-within', '9', '--workdir', dir]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'nothing to rotate: no intermediate CA expires within 9 day(s)\n');

    // WHEN rotating what expires within 30 days: only cluster-east-2, now valid for the default 3650 days
    const r = await meshgen(['rotate', '--expiring-within', '30', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.match(/^rotated {2}(\S+):/gm), ['rotated  cluster-east-2:']);
    assert.ok(days('cluster-east-2') > 3600);
    assert.deepEqual(
      ['cluster-east-1', 'cluster-west-1'].map((c) => read(dir, `certs/${c}/ca-cert.pem`)),
      others,
    );

    // THEN nothing expires within 30 days any more
    const again = await meshgen(['rotate', '--expiring-within', '30', '--workdir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^nothing to rotate/);
  });
});

describe('meshgen rotate --all', () => {
  test('rotates every intermediate and skips (naming it) a cluster that has none yet', async () => {
    const dir = await workdir();
    for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) fs.rmSync(path.join(dir, 'certs/cluster-west-1', f));
    const r = await meshgen(['rotate', '--all', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.match(/^rotated {2}(\S+):/gm), ['rotated  cluster-east-1:', 'rotated  cluster-east-2:']);
    assert.match(r.stdout, /^skipped {2}cluster-west-1: no intermediate CA yet \(synth creates it\)$/m);
  });
});

describe('an interrupted rotation', () => {
  async function stage(dir: string, cluster: string) {
    const store = new CertStore(dir);
    const root = store.readRoot();
    assert.ok(root?.keyPem);
    const files = await createIntermediateCa({
      org: 'meshgen example',
      cluster,
      root: { certPem: root.certPem, keyPem: root.keyPem },
      keySize: 2048,
    });
    return { store, files };
  }

  test('half-way through the renames: reads report it; rotate completes it without issuing another', async () => {
    const dir = await workdir();
    const { files } = await stage(dir, 'cluster-east-1');
    const d = path.join(dir, 'certs/cluster-east-1');
    // The crash came after the staging and the first rename: the new key is in use beside the old certificate.
    fs.writeFileSync(path.join(d, `cert-chain.pem${STAGED_SUFFIX}`), files.certChainPem);
    fs.writeFileSync(path.join(d, `root-cert.pem${STAGED_SUFFIX}`), files.rootCertPem);
    fs.writeFileSync(path.join(d, `ca-cert.pem${STAGED_SUFFIX}`), files.caCertPem);
    fs.writeFileSync(path.join(d, 'ca-key.pem'), files.caKeyPem);
    const before = hashTree(path.join(dir, 'dist'));

    const s = await runCli(['synth', '--workdir', dir]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /certs\/cluster-east-1\/ca-cert\.pem\.rotating: exists: a rotation of this intermediate CA was interrupted/);
    assert.match(s.stderr, /may belong to different intermediates/);
    assert.match(s.stderr, /fix: run "meshgen rotate --cluster cluster-east-1": it completes the interrupted rotation/);
    assert.deepEqual(hashTree(path.join(dir, 'dist')), before, 'dist/ unchanged');

    const r = await meshgen(['rotate', '--cluster', 'cluster-east-1', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rotated {2}cluster-east-1: completed the interrupted rotation/);
    assert.equal(read(dir, 'certs/cluster-east-1/ca-cert.pem'), files.caCertPem, 'the staged intermediate, not another one');
    assert.ok(!fs.readdirSync(d).some((f) => f.includes(STAGED_SUFFIX)));
    const again = await runCli(['synth', '--workdir', dir]);
    assert.equal(again.code, 0, again.stderr);
  });

  test('during the staging: reads report it; rotate discards it and issues a new intermediate', async () => {
    const dir = await workdir();
    const { files } = await stage(dir, 'cluster-west-1');
    const d = path.join(dir, 'certs/cluster-west-1');
    const inUse = read(dir, 'certs/cluster-west-1/ca-cert.pem');
    fs.writeFileSync(path.join(d, `ca-key.pem${STAGED_SUFFIX}`), files.caKeyPem);

    const s = await runCli(['synth', '--workdir', dir]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /certs\/cluster-west-1\/ca-key\.pem\.rotating: .*interrupted before it replaced anything/);

    const r = await meshgen(['rotate', '--cluster', 'cluster-west-1', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rotated {2}cluster-west-1: new intermediate CA/);
    const now = read(dir, 'certs/cluster-west-1/ca-cert.pem');
    assert.notEqual(now, inUse);
    assert.notEqual(now, files.caCertPem);
    assert.ok(!fs.readdirSync(d).some((f) => f.includes(STAGED_SUFFIX)));
  });
});

describe('meshgen rotate fails on bad input and changes nothing', () => {
  async function expectUnchanged(dir: string, args: string[]) {
    const before = hashTree(dir);
    const r = await meshgen([...args, '--workdir', dir]);
    assert.deepEqual(hashTree(dir), before, 'nothing changed');
    return r;
  }

  test('without certs/root-key.pem', async () => {
    const dir = await workdir(false);
    const r = await expectUnchanged(dir, ['rotate', '--cluster', 'cluster-east-1']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /certs\/root-key\.pem: is absent; a new intermediate CA is signed with the root key; fix: put the root key at certs\/root-key\.pem/,
    );
  });

  test('an unknown cluster, with a hint', async () => {
    const dir = await workdir();
    const r = await expectUnchanged(dir, ['rotate', '--cluster', 'cluster-east-l', '--cluster', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--cluster: "cluster-east-l" is neither a cluster nor a context of topology\.yaml; did you mean "cluster-east-1"\?/);
    assert.match(r.stderr, /--cluster: "nope" is neither a cluster nor a context/);
    assert.match(r.stderr, /fix: use one of: cluster-east-1 \(context context-east-1\), cluster-east-2/);
  });

  test('a cluster without an intermediate yet', async () => {
    const dir = await workdir();
    fs.rmSync(path.join(dir, 'certs/cluster-west-1/ca-cert.pem'));
    const r = await expectUnchanged(dir, ['rotate', '--cluster', 'cluster-west-1']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /certs\/cluster-west-1\/ca-cert\.pem: is missing: cluster cluster-west-1 has no intermediate CA to rotate yet; fix: run `npm run synth`/,
    );
  });

  const usage: [string, string[], RegExp][] = [
    ['none of --cluster, --all, --expiring-within', ['rotate'], /command line: name the intermediates to rotate; fix: pass exactly one of --cluster/],
    ['--all with --cluster', ['rotate', '--all', '--cluster', 'cluster-east-1'], /command line: --cluster and --all cannot be used together/],
    [
      '--all with --expiring-within',
      ['rotate', '--all', '--expiring-within', '3'],
      /command line: --all and --expiring-within cannot be used together/,
    ],
    [
      '--cluster with --expiring-within',
      ['rotate', '--cluster', 'x', '--expiring-within', '3'],
      /--cluster and --expiring-within cannot be used together/,
    ],
    [
      'a negative --expiring-within',
      ['rotate', '--expiring-within', '-1'],
      /command line: --expiring-within: -1 is not a number of days; fix: pass 0 or more days/,
    ],
    ['a non-numeric --expiring-within', ['rotate', '--expiring-within', 'soon'], /--expiring-within: a non-number is not a number of days/],
    ['an unknown option', ['rotate', '--all', '--clusters', 'x'], /Unknown argument: clusters/],
  ];
  for (const [name, args, message] of usage) {
    test(`usage error (exit 2): ${name}`, async () => {
      const dir = await workdir();
      const r = await expectUnchanged(dir, args);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, message);
    });
  }

  test('a bad --ca-key-size', async () => {
    const dir = await workdir();
    const r = await expectUnchanged(dir, ['rotate', '--all', '--ca-key-size', '1024']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--ca-key-size: 1024 is not supported/);
  });
});

test('rotate --help documents the options with examples', async () => {
  const r = await meshgen(['rotate', '--help']);
  assert.equal(r.code, 0);
  for (const s of [
    '--cluster',
    '--all',
    '--expiring-within',
    '--ca-key-size',
    '--ca-days',
    'rotate --expiring-within 30',
    'rotate --all --ca-days 365',
  ]) {
    assert.ok(r.stdout.includes(s), s);
  }
  assert.ok(fs.existsSync(path.join(REPO_ROOT, 'test/fixtures/sealing-keys/cluster-east-1.key')));
});
