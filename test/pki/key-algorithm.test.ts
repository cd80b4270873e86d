/**
 * `pki.keyAlgorithm` of topology.yaml end to end, on a copy of the bundled example mesh (RSA root and intermediates):
 * synth issues new intermediates with the configured algorithm and keeps the existing ones (a mixed mesh), the sealed
 * `cacerts` carry the EC key as PEM, `rotate` and `rotate-root` issue the new algorithm, validate accepts every chain;
 * and `prep --key-algorithm` makes an ECDSA root and writes the setting.
 */
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { InputError } from '../../src/errors';
import { certificateInfo } from '../../src/pki';
import { parseTopology } from '../../src/topology/load';
import { runCli } from '../helpers/cli';
import { makeExampleWorkdir } from '../helpers/workdir';
import { NO_OPENSSL, opensslVerify, unsealCacerts } from '../rotate/helpers';

const MINIMAL = 'mesh_id: m\ncontexts:\n  c1:\n    network: n1\n';

test('topology.yaml: pki.keyAlgorithm defaults to rsa-4096, takes the ECDSA ones, and rejects others with a hint', () => {
  assert.equal(parseTopology(MINIMAL).pki.keyAlgorithm, 'rsa-4096');
  assert.equal(parseTopology(`${MINIMAL}pki:\n  keyAlgorithm: ecdsa-p256\n`).pki.keyAlgorithm, 'ecdsa-p256');
  assert.equal(parseTopology(`${MINIMAL}pki:\n  keyAlgorithm: ecdsa-p384\n`).pki.keyAlgorithm, 'ecdsa-p384');
  const problems = (text: string) => {
    try {
      parseTopology(text);
    } catch (e) {
      if (e instanceof InputError) return e.message;
      throw e;
    }
    assert.fail('no problem reported');
  };
  assert.match(
    problems(`${MINIMAL}pki:\n  keyAlgorithm: ecdsa-p265\n`),
    /pki\.keyAlgorithm.*"ecdsa-p265" is not allowed; did you mean "ecdsa-p256"\?/s,
  );
  assert.match(problems(`${MINIMAL}pki:\n  keyAlgorithm: ecdsa-p265\n`), /use one of "rsa-4096", "ecdsa-p256", "ecdsa-p384"/);
  assert.match(problems(`${MINIMAL}pki:\n  algorithm: ecdsa-p256\n`), /unknown key "algorithm"; did you mean "keyAlgorithm"\?/);
});

describe('pki.keyAlgorithm: synth, rotate and rotate-root issue the configured algorithm; validate accepts every mix', () => {
  let dir: string;
  const read = (rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
  const setAlgorithm = (algorithm: string) => {
    const file = path.join(dir, 'topology.yaml');
    const text = fs.readFileSync(file, 'utf8').replace(/\npki:\n {2}keyAlgorithm: .*\n/, '\n');
    fs.writeFileSync(file, text.replace('\ncontexts:\n', `\npki:\n  keyAlgorithm: ${algorithm}\ncontexts:\n`));
    assert.equal(parse(fs.readFileSync(file, 'utf8')).pki.keyAlgorithm, algorithm);
  };
  const cli = async (...args: string[]) => {
    const r = await runCli([...args, '--workdir', dir]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r;
  };
  const synth = async () => {
    const r = await cli('synth');
    await cli('synth', '--check', '--frozen');
    return r;
  };
  const keyOf = (cluster: string) => certificateInfo(read(`certs/${cluster}/ca-cert.pem`)).keyDescription;

  before(() => {
    dir = makeExampleWorkdir({ withPrivateKeys: true });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('synth: a new intermediate is ECDSA P-256, the existing RSA ones stay; cacerts carries the EC key', async () => {
    setAlgorithm('ecdsa-p256');
    fs.rmSync(path.join(dir, 'certs', 'cluster-west-1'), { recursive: true });

    const r = await synth();
    assert.match(r.stderr, /created intermediate CAs \(ecdsa-p256 keys in certs\/<cluster>\/ca-key\.pem\): cluster-west-1/);
    assert.equal(keyOf('cluster-west-1'), 'ECDSA P-256');
    assert.equal(keyOf('cluster-east-1'), 'RSA 4096');
    assert.equal(keyOf('cluster-east-2'), 'RSA 4096');

    // The sealed cacerts unseal to the PEM files, the EC key in PKCS#8 matching the certificate.
    const cacerts = unsealCacerts(dir, 'cluster-west-1');
    assert.equal(cacerts['ca-key.pem'], read('certs/cluster-west-1/ca-key.pem'));
    assert.match(cacerts['ca-key.pem'], /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(new crypto.X509Certificate(cacerts['ca-cert.pem']).checkPrivateKey(crypto.createPrivateKey(cacerts['ca-key.pem'])));
    assert.equal(cacerts['cert-chain.pem'], cacerts['ca-cert.pem'] + read('certs/root-cert.pem'));

    const v = await cli('validate');
    assert.match(v.stdout, /validate: ok/);
    assert.match(
      v.stdout,
      /note: intermediate CAs whose key is not ecdsa-p256 \(pki\.keyAlgorithm\), kept as they are: cluster-east-1 \(RSA 4096\), cluster-east-2 \(RSA 4096\)/,
    );
  });

  test('rotate --cluster issues the configured algorithm', async () => {
    await cli('rotate', '--cluster', 'cluster-east-1');
    assert.equal(keyOf('cluster-east-1'), 'ECDSA P-256');
    await synth();
    const v = await cli('validate');
    assert.match(v.stdout, /kept as they are: cluster-east-2 \(RSA 4096\);/);
  });

  test('rotate-root with ecdsa-p384: an EC root, then every intermediate P-384 under it; chains verify in every phase', async () => {
    setAlgorithm('ecdsa-p384');
    await cli('rotate-root', '--phase', 'add');
    const next = certificateInfo(read('certs/_next/root-cert.pem'));
    assert.equal(next.keyDescription, 'ECDSA P-384');
    assert.equal(certificateInfo(read('certs/root-cert.pem')).keyDescription, 'RSA 4096');
    await synth();

    await cli('rotate-root', '--phase', 'switch');
    for (const c of ['cluster-east-1', 'cluster-east-2', 'cluster-west-1']) {
      assert.equal(keyOf(c), 'ECDSA P-384', c);
      const x = new crypto.X509Certificate(read(`certs/${c}/ca-cert.pem`));
      assert.ok(x.verify(new crypto.X509Certificate(read('certs/_next/root-cert.pem')).publicKey), c);
      if (!NO_OPENSSL) {
        const v = opensslVerify(read('certs/_next/root-cert.pem'), read(`certs/${c}/ca-cert.pem`));
        assert.ok(v.ok, v.output);
      }
    }
    await synth();
    await cli('rotate-root', '--phase', 'finish');
    await synth();
    await cli('rotate-root', '--phase', 'done');
    await synth();
    assert.equal(certificateInfo(read('certs/root-cert.pem')).keyDescription, 'ECDSA P-384');
    const v = await cli('validate');
    assert.match(v.stdout, /validate: ok/);
    assert.doesNotMatch(v.stdout, /whose key is not/);
  });
});

test('prep --key-algorithm ecdsa-p256: an ECDSA root, and pki.keyAlgorithm in the new topology.yaml; --force follows the setting', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-prep-ec-'));
  try {
    const r = await runCli(['prep', '--mesh-id', 'm', '--org', 'o', '--key-algorithm', 'ecdsa-p256', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(certificateInfo(fs.readFileSync(path.join(dir, 'certs', 'root-cert.pem'), 'utf8')).keyDescription, 'ECDSA P-256');
    assert.match(fs.readFileSync(path.join(dir, 'certs', 'root-key.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    const topology = fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8');
    assert.equal(parse(topology).pki.keyAlgorithm, 'ecdsa-p256');

    // prep --force without --key-algorithm replaces the root with the algorithm topology.yaml configures.
    fs.writeFileSync(path.join(dir, 'topology.yaml'), topology.replace('keyAlgorithm: ecdsa-p256', 'keyAlgorithm: ecdsa-p384'));
    const again = await runCli(['prep', '--mesh-id', 'm', '--org', 'o', '--force', '--workdir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(certificateInfo(fs.readFileSync(path.join(dir, 'certs', 'root-cert.pem'), 'utf8')).keyDescription, 'ECDSA P-384');
    assert.doesNotMatch(again.stderr, /note:/);
    // An explicit other algorithm wins, with a note that topology.yaml still says otherwise.
    const rsa = await runCli([
      'prep',
      '--mesh-id',
      'm',
      '--org',
      'o',
      '--force',
      '--key-algorithm',
      'rsa-4096',
      '--key-size',
      '2048',
      '--workdir',
      dir,
    ]);
    assert.equal(rsa.code, 0, rsa.stderr);
    assert.equal(certificateInfo(fs.readFileSync(path.join(dir, 'certs', 'root-cert.pem'), 'utf8')).keyDescription, 'RSA 2048');
    assert.match(rsa.stderr, /note: topology\.yaml was kept: set pki\.keyAlgorithm: rsa-4096 there for new intermediate CAs to use it too/);

    const bad = await runCli(['prep', '--mesh-id', 'm', '--org', 'o', '--key-algorithm', 'dsa', '--workdir', dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /key-algorithm/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
