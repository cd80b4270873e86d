/**
 * `meshgen rotate-root`: the multi-root phases add → switch → finish → done on a copy of the bundled example mesh,
 * each followed by synth. At every phase: every cluster's intermediate verifies against the phase's trust bundle
 * with openssl, the unsealed `root-cert.pem` is exactly that bundle, and the bundles satisfy istiod's in-place reload
 * rule (the new `root-cert.pem` bytes contain the old or the other way round). A workload certificate of the old
 * intermediate stays trusted until finish; one of the new intermediate is trusted from add on.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { parse } from 'yaml';
import {
  CertStore,
  certificateInfo,
  certificateSha256,
  generateRsaKey,
  issueCertificate,
  issuingRootIndex,
  RETIRED_ROOTS_DIR,
  trustBundleFor,
  writeRotationState,
} from '../../src/pki';
import { runCli } from '../helpers/cli';
import { useFixtureRsa2048Keys } from '../helpers/fixture-keys';
import { hashTree, makeExampleWorkdir } from '../helpers/workdir';
import { CONTROL_PLANE_FILES, controlPlaneSpec, meshgen, NO_OPENSSL, opensslVerify, SYNTH_WIRED, treeDiff, unsealCacerts } from './helpers';

// The 2048-bit keys of the new root, the intermediates and the workload certificates are fixture keys, each distinct
// (see useFixtureRsa2048Keys): what is tested is the trust bundles of each phase, not fresh key generation.
useFixtureRsa2048Keys(mock);

const CLUSTERS = ['cluster-east-1', 'cluster-east-2', 'cluster-west-1'];
const WIRING = SYNTH_WIRED ? {} : { todo: 'needs synth wiring' };

/** A workload certificate signed by an intermediate, as istiod would issue it. */
async function issueLeaf(caCertPem: string, caKeyPem: string): Promise<string> {
  const key = await generateRsaKey(2048);
  return issueCertificate(
    {
      subject: [{ shortName: 'O', value: 'cluster.local' }],
      publicKeyPem: key.publicKeyPem,
      extensions: [
        { name: 'basicConstraints', critical: true, cA: false },
        { name: 'keyUsage', critical: true, digitalSignature: true, keyEncipherment: true },
        { name: 'subjectAltName', dnsNames: ['httpbin.default.svc.cluster.local'] },
        { name: 'authorityKeyIdentifier' },
      ],
      days: 1,
    },
    { keyPem: caKeyPem, certPem: caCertPem },
  );
}

describe('meshgen rotate-root: add → switch → finish → done', () => {
  let dir: string;
  const read = (rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
  const synth = async (...extra: string[]) => {
    const s = await runCli(['synth', ...extra, '--workdir', dir]);
    assert.equal(s.code, 0, s.stderr);
    const ci = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
    assert.equal(ci.code, 0, `CI check after synth: ${ci.stdout}${ci.stderr}`);
  };
  const rotateRoot = async (...args: string[]) => {
    const r = await meshgen(['rotate-root', ...args, '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };

  // Initial state (root A) and what is kept from it.
  let oldRoot: string;
  let oldKey: string;
  let oldChain: string;
  let oldLeaf: string;
  let newRoot: string;
  let newLeaf: string;
  let newChain: string;
  const bundles: Record<string, string> = {};

  /** What every phase must hold: files, sealed values and openssl verification all agree on the bundle. */
  function checkPhase(phase: string, bundle: string, t: { skip: boolean | string }) {
    assert.equal(trustBundleFor(dir).rootBundlePem, bundle, 'trustBundleFor');
    for (const c of CLUSTERS) {
      assert.equal(read(`certs/${c}/root-cert.pem`), bundle, `${c}: certs/${c}/root-cert.pem`);
      const unsealed = unsealCacerts(dir, c);
      assert.equal(unsealed['root-cert.pem'], bundle, `${c}: unsealed root-cert.pem in phase ${phase}`);
      for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem']) assert.equal(unsealed[f], read(`certs/${c}/${f}`), `${c}: unsealed ${f}`);
      if (!t.skip) {
        const v = opensslVerify(bundle, read(`certs/${c}/ca-cert.pem`), read(`certs/${c}/cert-chain.pem`));
        assert.ok(v.ok, `${c} in phase ${phase}: ${v.output}`);
      }
    }
    new CertStore(dir).readIntermediate(CLUSTERS[0]); // what validate / export-ca read
  }

  function multiRootValues(c: string): { pilot?: unknown; proxy?: unknown } {
    const spec = controlPlaneSpec(dir, c);
    return {
      pilot: spec.values?.pilot?.env?.ISTIO_MULTIROOT_MESH,
      proxy: spec.meshConfig?.defaultConfig?.proxyMetadata?.PROXY_CONFIG_XDS_AGENT,
    };
  }

  before(async () => {
    dir = makeExampleWorkdir({ withPrivateKeys: true });
    const s = await runCli(['synth', '--workdir', dir]);
    assert.equal(s.code, 0, s.stderr);
    oldRoot = read('certs/root-cert.pem');
    oldKey = read('certs/root-key.pem');
    oldChain = read('certs/cluster-east-1/cert-chain.pem');
    oldLeaf = await issueLeaf(read('certs/cluster-east-1/ca-cert.pem'), read('certs/cluster-east-1/ca-key.pem'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('before: no rotation; the steps out of order are refused (exit 2) and change nothing', async () => {
    const status = await rotateRoot();
    assert.match(status.stdout, /no root rotation in progress; start one with: meshgen rotate-root --phase add/);
    const snapshot = hashTree(dir);
    for (const phase of ['switch', 'finish', 'done']) {
      const r = await meshgen(['rotate-root', '--phase', phase, '--workdir', dir]);
      assert.equal(r.code, 2, phase);
      assert.match(r.stderr, new RegExp(`certs/rotation\\.yaml: does not exist, so --phase ${phase} cannot run: no root rotation is in progress`));
    }
    const bad = await meshgen(['rotate-root', '--phase', 'begin', '--workdir', dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Invalid values:[\s\S]*Argument: phase, Given: "begin", Choices: "add", "switch", "finish", "done"/);
    assert.deepEqual(hashTree(dir), snapshot);
    for (const c of CLUSTERS) assert.deepEqual(multiRootValues(c), { pilot: undefined, proxy: undefined });
  });

  test('add: a new root; every cluster trusts old + new; intermediates still from the old root', async (t) => {
    const before = hashTree(dir);
    const r = await rotateRoot('--phase', 'add', '--key-size', '2048');
    assert.match(r.stdout, /created {2}certs\/_next\/root-cert\.pem \(SHA-256 [0-9a-f]{64}\) and its key \(0600, git-ignored\)/);
    assert.match(r.stdout, /phase add: root-cert\.pem of cluster-east-1, cluster-east-2, cluster-west-1 is now the old root followed by the new one/);
    assert.match(r.stdout, /then wait for the following before "meshgen rotate-root --phase switch":/);
    assert.match(r.stdout, /istiod restarted with ISTIO_MULTIROOT_MESH=true/);
    newRoot = read('certs/_next/root-cert.pem');
    assert.equal(fs.statSync(path.join(dir, 'certs/_next/root-key.pem')).mode & 0o777, 0o600);
    assert.equal(certificateInfo(newRoot).subject, certificateInfo(oldRoot).subject, 'same O= and CN=Root CA');
    assert.notEqual(certificateSha256(newRoot), certificateSha256(oldRoot));
    assert.deepEqual(parse(read('certs/rotation.yaml')), { phase: 'add', oldRoot: certificateSha256(oldRoot), newRoot: certificateSha256(newRoot) });
    const gi = read('.gitignore').split('\n');
    for (const l of ['certs/_next/root-key.pem', 'certs/_retired/*/root-key.pem']) assert.ok(gi.includes(l), l);

    // Before synth, certs/ holds the bundle but dist/ does not: CI's check notices.
    const ci = await runCli(['synth', '--check', '--frozen', '--workdir', dir]);
    assert.equal(ci.code, 1);
    await synth();

    bundles.add = oldRoot + newRoot;
    checkPhase('add', bundles.add, { skip: NO_OPENSSL });
    assert.ok(bundles.add.includes(oldRoot), 'istiod reloads in place: the new root-cert.pem contains the old one');
    for (const c of CLUSTERS) assert.equal(issuingRootIndex(read(`certs/${c}/ca-cert.pem`), [oldRoot]), 0, `${c} still from the old root`);

    // Only cacerts (and, with the wiring, the control plane) of each cluster and the sealed stores changed.
    const diff = treeDiff(before, hashTree(dir));
    assert.deepEqual(diff.removed, []);
    const dist = [...diff.added, ...diff.changed].filter((f) => f.startsWith('dist/'));
    for (const c of CLUSTERS) assert.ok(dist.includes(`dist/clusters/${c}/secrets/cacerts.yaml`), c);
    assert.ok(dist.includes('dist/README.md'), 'the trust chain shows the next root');
    for (const f of dist)
      assert.ok(/^dist\/clusters\/[^/]+\/secrets\/cacerts\.yaml$/.test(f) || CONTROL_PLANE_FILES.test(f) || f === 'dist/README.md', f);

    await t.test('a workload certificate of the old intermediate verifies against the bundle', { skip: NO_OPENSSL }, () => {
      const v = opensslVerify(bundles.add, oldLeaf, oldChain);
      assert.ok(v.ok, v.output);
    });

    const status = await rotateRoot();
    assert.match(status.stdout, /root rotation in phase add .*\nnext, once the cluster state below is reached: meshgen rotate-root --phase switch/);

    for (const phase of ['finish', 'done']) {
      const bad = await meshgen(['rotate-root', '--phase', phase, '--workdir', dir]);
      assert.equal(bad.code, 2);
      assert.match(
        bad.stderr,
        new RegExp(`says phase add, so --phase ${phase} cannot run.*fix: the next step is "meshgen rotate-root --phase switch"`),
      );
    }
  });

  test('add: the control plane runs with ISTIO_MULTIROOT_MESH and PROXY_CONFIG_XDS_AGENT', WIRING, () => {
    for (const c of CLUSTERS) assert.deepEqual(multiRootValues(c), { pilot: 'true', proxy: 'true' }, c);
  });

  test('add: meshgen rotate --cluster still issues from the old root, with the bundle', async (t) => {
    const r = await meshgen(['rotate', '--cluster', 'cluster-west-1', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /signed by certs\/root-cert\.pem/);
    assert.equal(issuingRootIndex(read('certs/cluster-west-1/ca-cert.pem'), [oldRoot, newRoot]), 0);
    await synth();
    checkPhase('add', bundles.add, { skip: NO_OPENSSL });
    t.diagnostic('cluster-west-1 rotated within the add phase');
  });

  test('switch: every intermediate from the new root; trust old + new (+ new)', async (t) => {
    const oldIntermediates = CLUSTERS.map((c) => read(`certs/${c}/ca-cert.pem`));
    const r = await rotateRoot('--phase', 'switch', '--ca-key-size', '2048');
    assert.match(r.stdout, /phase switch: new intermediate CAs from the new root for cluster-east-1, cluster-east-2, cluster-west-1/);
    assert.match(r.stdout, /then wait for the following before "meshgen rotate-root --phase finish":/);
    assert.equal(parse(read('certs/rotation.yaml')).phase, 'switch');
    await synth();

    bundles.switch = oldRoot + newRoot + newRoot;
    checkPhase('switch', bundles.switch, { skip: NO_OPENSSL });
    assert.ok(bundles.switch.includes(bundles.add), 'istiod reloads in place: add → switch');
    for (const [i, c] of CLUSTERS.entries()) {
      const cert = read(`certs/${c}/ca-cert.pem`);
      assert.notEqual(cert, oldIntermediates[i]);
      assert.equal(issuingRootIndex(cert, [newRoot]), 0, `${c} from the new root`);
      assert.equal(read(`certs/${c}/cert-chain.pem`), cert + newRoot, `${c}: cert-chain.pem = intermediate + new root`);
      assert.equal(certificateInfo(cert).subject, `O=meshgen example, CN=Intermediate CA, L=${c}`);
      assert.equal(fs.statSync(path.join(dir, `certs/${c}/ca-key.pem`)).mode & 0o777, 0o600);
    }
    newChain = read('certs/cluster-east-1/cert-chain.pem');
    newLeaf = await issueLeaf(read('certs/cluster-east-1/ca-cert.pem'), read('certs/cluster-east-1/ca-key.pem'));

    await t.test('workloads of the old and of the new intermediate trust each other', { skip: NO_OPENSSL }, () => {
      const old = opensslVerify(bundles.switch, oldLeaf, oldChain);
      assert.ok(old.ok, `old-phase leaf against the switch bundle: ${old.output}`);
      const fresh = opensslVerify(bundles.switch, newLeaf, newChain);
      assert.ok(fresh.ok, `new leaf against the switch bundle: ${fresh.output}`);
      const behind = opensslVerify(bundles.add, newLeaf, newChain);
      assert.ok(behind.ok, `new leaf against a proxy still on the add bundle: ${behind.output}`);
      assert.ok(opensslVerify(newRoot, read('certs/cluster-east-2/ca-cert.pem'), read('certs/cluster-east-2/cert-chain.pem')).ok);
    });

    // A re-run changes nothing; a missing intermediate is issued by synth from the new root.
    const snapshot = hashTree(path.join(dir, 'certs'));
    const again = await rotateRoot('--phase', 'switch');
    assert.match(again.stdout, /already issued by the new root: cluster-east-1, cluster-east-2, cluster-west-1/);
    assert.deepEqual(hashTree(path.join(dir, 'certs')), snapshot);
    for (const f of ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']) fs.rmSync(path.join(dir, 'certs/cluster-west-1', f));
    await synth('--ca-key-size', '2048');
    assert.equal(issuingRootIndex(read('certs/cluster-west-1/ca-cert.pem'), [newRoot]), 0, 'synth issues from the new root');
    checkPhase('switch', bundles.switch, { skip: NO_OPENSSL });
  });

  test('switch: the control plane still runs multi-root', WIRING, () => {
    for (const c of CLUSTERS) assert.deepEqual(multiRootValues(c), { pilot: 'true', proxy: 'true' }, c);
  });

  test('finish, interrupted right after recording the phase: synth refuses, naming the fix; a re-run completes it', async () => {
    const state = parse(read('certs/rotation.yaml')) as { oldRoot: string; newRoot: string };
    writeRotationState(dir, { phase: 'finish', oldRoot: state.oldRoot, newRoot: state.newRoot });
    const before = hashTree(path.join(dir, 'dist'));
    const s = await runCli(['synth', '--workdir', dir]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /certs\/root-cert\.pem: is still the old root, but certs\/rotation\.yaml says phase finish/);
    assert.match(s.stderr, /fix: run "meshgen rotate-root --phase finish" again to complete it/);
    assert.deepEqual(hashTree(path.join(dir, 'dist')), before);
  });

  test('finish: the new root alone; the old root retired under certs/_retired/<sha256>/', async (t) => {
    const r = await rotateRoot('--phase', 'finish');
    assert.match(r.stdout, /phase finish: the new root is now certs\/root-cert\.pem and certs\/root-key\.pem/);
    assert.match(r.stdout, /Multi-root stays on until "meshgen rotate-root --phase done"/);
    await synth();

    bundles.finish = newRoot;
    checkPhase('finish', bundles.finish, { skip: NO_OPENSSL });
    assert.ok(bundles.switch.includes(bundles.finish), 'istiod reloads in place: switch → finish');
    assert.equal(read('certs/root-cert.pem'), newRoot);
    assert.ok(new CertStore(dir).readRoot()?.keyPem, 'certs/root-key.pem is the new root key');
    assert.ok(!fs.existsSync(path.join(dir, 'certs/_next')));
    const retired = `${RETIRED_ROOTS_DIR}/${certificateSha256(oldRoot)}`;
    assert.equal(read(`${retired}/root-cert.pem`), oldRoot);
    assert.equal(read(`${retired}/root-key.pem`), oldKey);
    assert.equal(fs.statSync(path.join(dir, `${retired}/root-key.pem`)).mode & 0o777, 0o600);
    assert.equal(parse(read('certs/rotation.yaml')).phase, 'finish');

    await t.test('the old root is no longer trusted; the new intermediates are', { skip: NO_OPENSSL }, () => {
      assert.ok(!opensslVerify(bundles.finish, oldLeaf, oldChain).ok, 'a leaf of the old intermediate is rejected');
      assert.ok(opensslVerify(bundles.finish, newLeaf, newChain).ok);
    });

    // A re-run of finish, and a new intermediate afterwards, use the new root.
    const snapshot = hashTree(path.join(dir, 'certs'));
    await rotateRoot('--phase', 'finish');
    assert.deepEqual(hashTree(path.join(dir, 'certs')), snapshot);
    const rot = await meshgen(['rotate', '--cluster', 'cluster-east-2', '--ca-key-size', '2048', '--workdir', dir]);
    assert.equal(rot.code, 0, rot.stderr);
    assert.equal(issuingRootIndex(read('certs/cluster-east-2/ca-cert.pem'), [newRoot]), 0);
    await synth();
    checkPhase('finish', bundles.finish, { skip: NO_OPENSSL });
  });

  test('finish: multi-root stays on while the proxies drop the old root', WIRING, () => {
    for (const c of CLUSTERS) assert.deepEqual(multiRootValues(c), { pilot: 'true', proxy: 'true' }, c);
  });

  test('done: the rotation state is removed; cacerts unchanged', async () => {
    const before = hashTree(dir);
    const r = await rotateRoot('--phase', 'done');
    assert.match(r.stdout, /done: removed certs\/rotation\.yaml/);
    assert.ok(!fs.existsSync(path.join(dir, 'certs/rotation.yaml')));
    await synth();
    const diff = treeDiff(before, hashTree(dir));
    assert.deepEqual(diff.added, []);
    assert.deepEqual(diff.removed, ['certs/rotation.yaml']);
    // dist/README.md: the trust chain no longer names a rotation phase.
    for (const f of diff.changed) if (f !== 'dist/README.md') assert.match(f, CONTROL_PLANE_FILES);
    checkPhase('none', newRoot, { skip: NO_OPENSSL });
    const status = await rotateRoot();
    assert.match(status.stdout, /no root rotation in progress/);
  });

  test('done: the control plane is back to single-root', WIRING, () => {
    for (const c of CLUSTERS) assert.deepEqual(multiRootValues(c), { pilot: undefined, proxy: undefined }, c);
  });
});

describe('meshgen rotate-root refuses what it cannot do', () => {
  test('switch without the new root key', async () => {
    const dir = makeExampleWorkdir({ withPrivateKeys: true });
    try {
      assert.equal((await meshgen(['rotate-root', '--phase', 'add', '--key-size', '2048', '--workdir', dir])).code, 0);
      fs.rmSync(path.join(dir, 'certs/_next/root-key.pem'));
      const before = hashTree(dir);
      const r = await meshgen(['rotate-root', '--phase', 'switch', '--workdir', dir]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /certs\/_next\/root-key\.pem: is absent; the switch phase signs every new intermediate with the new root key/);
      assert.deepEqual(hashTree(dir), before);
      // finish before switch is refused too
      const f = await meshgen(['rotate-root', '--phase', 'finish', '--workdir', dir]);
      assert.equal(f.code, 2);
      assert.match(f.stderr, /says phase add, so --phase finish cannot run: the intermediates are still issued by the old root/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a root replaced by hand in the middle of a rotation is reported by synth', async () => {
    const dir = makeExampleWorkdir({ withPrivateKeys: true });
    try {
      assert.equal((await meshgen(['rotate-root', '--phase', 'add', '--key-size', '2048', '--workdir', dir])).code, 0);
      fs.copyFileSync(path.join(dir, 'certs/_next/root-cert.pem'), path.join(dir, 'certs/root-cert.pem'));
      fs.copyFileSync(path.join(dir, 'certs/_next/root-key.pem'), path.join(dir, 'certs/root-key.pem'));
      const s = await runCli(['synth', '--workdir', dir]);
      assert.equal(s.code, 2);
      assert.match(s.stderr, /certs\/root-cert\.pem: is not the old root recorded in certs\/rotation\.yaml .*it must not change before phase finish/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
