import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { test } from 'node:test';
import {
  certificateInfo,
  createIntermediateCa,
  createRootCa,
  generateRsaKey,
  type IntermediateCaFiles,
  issueCertificate,
  type RootCaFiles,
  subjectKeyIdentifierOf,
  verifyIntermediate,
} from '../../src/pki';
import { useFixtureRsa4096Keys } from '../helpers/fixture-keys';

const WHERE = { cluster: 'cluster-east-1', dir: 'certs/cluster-east-1' };

let fixture: Promise<{ root: RootCaFiles; otherRoot: RootCaFiles; inter: IntermediateCaFiles }> | undefined;
function fixtures() {
  fixture ??= (async () => {
    const [root, otherRoot] = await Promise.all([
      createRootCa({ org: 'example.com', keySize: 2048 }),
      createRootCa({ org: 'example.com', keySize: 2048 }),
    ]);
    const inter = await createIntermediateCa({ org: 'example.com', cluster: 'cluster-east-1', root, keySize: 2048 });
    return { root, otherRoot, inter };
  })();
  return fixture;
}

test('createRootCa makes a 4096-bit, 3650-day, self-signed CA named O=<org>, CN=Root CA (defaults)', async (t) => {
  // GIVEN a fixed start (and a fixture key for the 4096-bit key asked for: keys.test.ts checks fresh generation)
  const now = new Date('2026-01-01T00:00:00Z');
  const fixtureKeys = useFixtureRsa4096Keys(t);

  // WHEN
  const root = await createRootCa({ org: 'example.com', now });

  // THEN
  assert.equal(fixtureKeys(), 1, 'one 4096-bit key was asked for');
  assert.match(root.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  const x = new crypto.X509Certificate(root.certPem);
  assert.equal(x.subject, 'O=example.com\nCN=Root CA');
  assert.equal(x.issuer, x.subject);
  assert.ok(x.ca);
  assert.ok(x.verify(x.publicKey));
  assert.ok(x.checkPrivateKey(crypto.createPrivateKey(root.keyPem)));
  const info = certificateInfo(root.certPem);
  assert.equal(info.keyType, 'rsa');
  assert.equal(info.keyBits, 4096);
  assert.equal(info.isCA, true);
  assert.equal(info.notBefore.toISOString(), '2026-01-01T00:00:00.000Z');
  assert.equal(info.notAfter.getTime() - info.notBefore.getTime(), 3650 * 86_400_000);
  assert.match(info.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
});

test('createIntermediateCa issues O=<org>, CN=Intermediate CA, L=<cluster> under the root, with the four cacerts files', async () => {
  const { root, inter } = await fixtures();

  const x = new crypto.X509Certificate(inter.caCertPem);
  const r = new crypto.X509Certificate(root.certPem);
  assert.equal(x.subject, 'O=example.com\nCN=Intermediate CA\nL=cluster-east-1');
  assert.equal(x.issuer, r.subject);
  assert.equal(x.subjectAltName, 'DNS:istiod.istio-system.svc');
  assert.ok(x.ca);
  assert.ok(x.checkIssued(r));
  assert.ok(x.verify(r.publicKey));
  assert.ok(x.checkPrivateKey(crypto.createPrivateKey(inter.caKeyPem)));
  assert.equal(inter.certChainPem, inter.caCertPem + root.certPem);
  assert.equal(inter.rootCertPem, root.certPem);
  assert.notDeepEqual(subjectKeyIdentifierOf(inter.caCertPem), subjectKeyIdentifierOf(root.certPem));
  assert.deepEqual(verifyIntermediate(inter, WHERE), []);
});

test('createIntermediateCa honours keySize, days and now', async () => {
  const { root } = await fixtures();
  const now = new Date('2027-06-01T12:00:00Z');

  const inter = await createIntermediateCa({ org: 'o', cluster: 'c', root, keySize: 3072, days: 30, now });

  const info = certificateInfo(inter.caCertPem);
  assert.equal(info.keyBits, 3072);
  assert.equal(info.notBefore.toISOString(), '2027-06-01T12:00:00.000Z');
  assert.equal(info.notAfter.toISOString(), '2027-07-01T12:00:00.000Z');
});

test('fails when the options are bad, before generating any key', async () => {
  const { root } = await fixtures();
  await assert.rejects(createRootCa({ org: ' ' }), /certificate organisation " " is empty/);
  await assert.rejects(createRootCa({ org: 'o', days: -1 }), /validity -1 days is not supported/);
  await assert.rejects(createIntermediateCa({ org: 'o', cluster: 'c', root, keySize: 512 }), /RSA key size 512 is not supported/);
});

test('fails when ca-cert.pem is a truncated PEM', async () => {
  const { root, inter } = await fixtures();
  const half = inter.caCertPem.slice(0, inter.caCertPem.length / 2);
  const lines = inter.caCertPem.split('\n');
  const missingMiddle = [...lines.slice(0, 5), ...lines.slice(10)].join('\n');

  for (const caCertPem of [half, missingMiddle, '', 'garbage']) {
    const problems = verifyIntermediate({ caCertPem, caKeyPem: inter.caKeyPem, rootCertPem: root.certPem }, WHERE);

    const p = problems.find((x) => x.file === 'certs/cluster-east-1/ca-cert.pem');
    assert.ok(p, `no problem for ${JSON.stringify(caCertPem.slice(-20))}: ${JSON.stringify(problems)}`);
    assert.match(p.message, /is not a valid PEM certificate/);
    assert.match(p.fix ?? '', /delete certs\/cluster-east-1\/ and run synth with the root key present to issue a new intermediate/);
  }
});

test('fails when ca-key.pem does not match the certificate', async () => {
  const { root, inter } = await fixtures();
  const other = await generateRsaKey(2048);

  const problems = verifyIntermediate({ ...inter, caKeyPem: other.privateKeyPem, rootCertPem: root.certPem }, WHERE);

  assert.equal(problems.length, 1);
  assert.equal(problems[0].file, 'certs/cluster-east-1/ca-key.pem');
  assert.match(problems[0].message, /does not match the certificate in certs\/cluster-east-1\/ca-cert.pem/);
});

test('fails when ca-key.pem is not a key', async () => {
  const { root, inter } = await fixtures();

  const problems = verifyIntermediate({ ...inter, caKeyPem: inter.caKeyPem.slice(0, 200), rootCertPem: root.certPem }, WHERE);

  assert.equal(problems.length, 1);
  assert.equal(problems[0].file, 'certs/cluster-east-1/ca-key.pem');
  assert.match(problems[0].message, /is not a valid PEM private key/);
});

test('fails when the intermediate was signed by another root', async () => {
  // GIVEN an intermediate of another root with the same subject (O=example.com, CN=Root CA)
  const { root, otherRoot } = await fixtures();
  const foreign = await createIntermediateCa({ org: 'example.com', cluster: 'cluster-east-1', root: otherRoot, keySize: 2048 });

  // WHEN it is checked against our root
  const problems = verifyIntermediate({ ...foreign, rootCertPem: root.certPem }, WHERE);

  // THEN
  assert.equal(problems.length, 1);
  assert.equal(problems[0].file, 'certs/cluster-east-1/ca-cert.pem');
  assert.match(problems[0].message, /was not signed by the root CA "O=example.com, CN=Root CA" of certs\/root-cert.pem/);
});

test('fails when the intermediate is not a CA certificate', async () => {
  const { root } = await fixtures();
  const key = await generateRsaKey(2048);
  const caCertPem = issueCertificate(
    {
      subject: [{ shortName: 'CN', value: 'not a ca' }],
      publicKeyPem: key.publicKeyPem,
      extensions: [{ name: 'basicConstraints', critical: true, cA: false }, { name: 'authorityKeyIdentifier' }],
      days: 1,
    },
    root,
  );

  const problems = verifyIntermediate({ caCertPem, caKeyPem: key.privateKeyPem, rootCertPem: root.certPem }, WHERE);

  assert.equal(problems.length, 1);
  assert.equal(problems[0].file, 'certs/cluster-east-1/ca-cert.pem');
  assert.match(problems[0].message, /"CN=not a ca" is not a CA/);
});

test('fails when the root certificate is garbage, naming the root file', async () => {
  const { inter } = await fixtures();

  const problems = verifyIntermediate({ ...inter, rootCertPem: 'nope' }, { ...WHERE, rootFile: 'certs/root-cert.pem' });

  assert.deepEqual(
    problems.map((p) => p.file),
    ['certs/root-cert.pem'],
  );
  assert.match(problems[0].message, /no "-----BEGIN CERTIFICATE-----" line/);
});

test('certificateInfo throws on garbage', () => {
  assert.throws(() => certificateInfo('garbage'));
});
