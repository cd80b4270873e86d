import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { CertStore, createIntermediateCa, createRootCa, type RootCaFiles, verifyIntermediate } from '../../src/pki';
import { useFixtureRsa4096Keys } from '../helpers/fixture-keys';
import { assertLeafVerifies, openssl } from '../helpers/openssl';

// Checks the certificates against the real tool Istio's tools/certs/common.mk uses.
const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const skip = probe.error || probe.status !== 0 ? 'openssl is not on PATH, so the certificates cannot be checked against it' : false;

const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-openssl-'));
  tempDirs.push(d);
  return d;
}

function hexOf(text: string): string {
  return (text.match(/([0-9A-F]{2}:)+[0-9A-F]{2}/) ?? [''])[0];
}

/** Writes the files of a synthetic `certs/` tree and checks one cluster the way the brief and istiod require. */
function checkWithOpenssl(dir: string, cluster: string, opts: { org: string; keyBits: number; days: number }): void {
  const c = path.join(dir, 'certs', cluster);
  const root = path.join('..', 'root-cert.pem');
  // verify: directly, through the chain, and a workload leaf issued by the intermediate through cert-chain.pem
  assert.equal(openssl(['verify', '-x509_strict', '-CAfile', root, 'ca-cert.pem'], c).trim(), 'ca-cert.pem: OK');
  assert.equal(openssl(['verify', '-x509_strict', '-CAfile', root, '-untrusted', 'cert-chain.pem', 'ca-cert.pem'], c).trim(), 'ca-cert.pem: OK');
  assertLeafVerifies(c, root, tmp(), ['rsa:2048']);

  // x509 -text: subject, extensions, signature algorithm, key size
  const text = openssl(['x509', '-noout', '-text', '-in', 'ca-cert.pem'], c);
  assert.match(text, new RegExp(`Subject: O = ${opts.org}, CN = Intermediate CA, L = ${cluster}\\n`));
  assert.match(text, new RegExp(`Issuer: O = ${opts.org}, CN = Root CA\\n`));
  assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
  assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign\n/);
  assert.match(text, /X509v3 Subject Alternative Name: \n\s+DNS:istiod.istio-system.svc\n/);
  assert.match(text, /X509v3 Subject Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);
  assert.match(text, /Version: 3 \(0x2\)/);
  assert.equal(text.match(/Signature Algorithm: sha256WithRSAEncryption/g)?.length, 2);
  assert.match(text, new RegExp(`Public-Key: \\(${opts.keyBits} bit\\)`));
  assert.doesNotMatch(text, /Extended Key Usage|Netscape/);

  // AKI keyid = root's SKI
  const rootSki = hexOf(openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier', '-in', root], c));
  const aki = hexOf(openssl(['x509', '-noout', '-ext', 'authorityKeyIdentifier', '-in', 'ca-cert.pem'], c));
  assert.ok(rootSki.length === 59, rootSki);
  assert.equal(aki, rootSki);

  // validity and serial
  const dates = openssl(['x509', '-noout', '-startdate', '-enddate', '-in', 'ca-cert.pem'], c);
  const start = Date.parse((dates.match(/notBefore=(.*)/) ?? [])[1] ?? '');
  const end = Date.parse((dates.match(/notAfter=(.*)/) ?? [])[1] ?? '');
  assert.equal((end - start) / 86_400_000, opts.days);
  assert.ok(Math.abs(start - Date.now()) < 10 * 60_000, `notBefore ${new Date(start).toISOString()} is not now`);
  const serial = (openssl(['x509', '-noout', '-serial', '-in', 'ca-cert.pem'], c).match(/serial=([0-9A-F]+)/) ?? [])[1] ?? '';
  const n = BigInt(`0x${serial}`);
  assert.ok(n > 0n && n < 1n << 128n, serial);
  assert.ok(n.toString(2).length >= 64, `serial ${serial} has fewer than 64 bits`);
  // DER: the serial INTEGER's content is minimal and positive (a leading 00 only before a high bit)
  const serialLine =
    openssl(['asn1parse', '-in', 'ca-cert.pem'], c)
      .split('\n')
      .filter((l) => /prim: INTEGER/.test(l))[1] ?? '';
  const contentLength = Number((serialLine.match(/ l=\s*(\d+)/) ?? [])[1]);
  const valueHex = serial.length % 2 ? `0${serial}` : serial;
  assert.equal(contentLength, valueHex.length / 2 + (Number.parseInt(valueHex.slice(0, 2), 16) >= 0x80 ? 1 : 0), serialLine);
  assert.ok(contentLength <= 17, serialLine);

  // the key: a valid RSA key that belongs to the certificate
  assert.match(openssl(['rsa', '-check', '-noout', '-in', 'ca-key.pem'], c), /RSA key ok/);
  const certModulus = openssl(['x509', '-noout', '-modulus', '-in', 'ca-cert.pem'], c);
  const keyModulus = openssl(['rsa', '-noout', '-modulus', '-in', 'ca-key.pem'], c);
  assert.equal(keyModulus, certModulus);
  assert.match(fs.readFileSync(path.join(c, 'ca-key.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);

  // cert-chain.pem = cat ca-cert.pem root-cert.pem; root-cert.pem = cp root-cert.pem
  const cat = Buffer.concat([fs.readFileSync(path.join(c, 'ca-cert.pem')), fs.readFileSync(path.join(dir, 'certs', 'root-cert.pem'))]);
  assert.ok(fs.readFileSync(path.join(c, 'cert-chain.pem')).equals(cat));
  assert.ok(fs.readFileSync(path.join(c, 'root-cert.pem')).equals(fs.readFileSync(path.join(dir, 'certs', 'root-cert.pem'))));
}

function checkRootWithOpenssl(dir: string, opts: { org: string; keyBits: number; days: number }): void {
  const certs = path.join(dir, 'certs');
  assert.equal(openssl(['verify', '-x509_strict', '-CAfile', 'root-cert.pem', 'root-cert.pem'], certs).trim(), 'root-cert.pem: OK');
  const text = openssl(['x509', '-noout', '-text', '-in', 'root-cert.pem'], certs);
  assert.match(text, new RegExp(`Subject: O = ${opts.org}, CN = Root CA\\n`));
  assert.match(text, new RegExp(`Issuer: O = ${opts.org}, CN = Root CA\\n`));
  assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE\n/);
  assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign\n/);
  assert.match(text, /X509v3 Subject Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}\n/);
  assert.doesNotMatch(text, /Subject Alternative Name|pathlen/);
  assert.match(text, new RegExp(`Public-Key: \\(${opts.keyBits} bit\\)`));
  assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
  const dates = openssl(['x509', '-noout', '-startdate', '-enddate', '-in', 'root-cert.pem'], certs);
  const start = Date.parse((dates.match(/notBefore=(.*)/) ?? [])[1] ?? '');
  const end = Date.parse((dates.match(/notAfter=(.*)/) ?? [])[1] ?? '');
  assert.equal((end - start) / 86_400_000, opts.days);
  assert.match(openssl(['rsa', '-check', '-noout', '-in', 'root-key.pem'], certs), /RSA key ok/);
  assert.equal(
    openssl(['rsa', '-noout', '-modulus', '-in', 'root-key.pem'], certs),
    openssl(['x509', '-noout', '-modulus', '-in', 'root-cert.pem'], certs),
  );
  // The SKI is what OpenSSL computes for the same key with subjectKeyIdentifier=hash.
  openssl(['req', '-new', '-x509', '-key', 'root-key.pem', '-subj', '/CN=probe', '-days', '1', '-out', path.join(dir, 'probe.pem')], certs);
  const ours = hexOf(openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier', '-in', 'root-cert.pem'], certs));
  const theirs = hexOf(openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier', '-in', path.join(dir, 'probe.pem')], certs));
  assert.equal(ours, theirs);
}

test('default run (RSA 4096, 3650 days): root and intermediate pass openssl verify and match common.mk', { skip }, async (t) => {
  // GIVEN / WHEN a root and one intermediate made with every default (the 4096-bit keys asked for are fixture keys)
  const fixtureKeys = useFixtureRsa4096Keys(t);
  const dir = tmp();
  const store = new CertStore(dir);
  store.writeRoot(await createRootCa({ org: 'example.com' }));
  const { created } = await store.ensureIntermediates(['cluster-east-1'], { org: 'example.com', allowCreate: true });
  assert.deepEqual(created, ['cluster-east-1']);
  assert.equal(fixtureKeys(), 2, 'a 4096-bit key was asked for the root and for the intermediate');

  // THEN
  checkRootWithOpenssl(dir, { org: 'example.com', keyBits: 4096, days: 3650 });
  checkWithOpenssl(dir, 'cluster-east-1', { org: 'example.com', keyBits: 4096, days: 3650 });
});

test('small keys and custom validity: several clusters pass openssl verify', { skip }, async () => {
  const dir = tmp();
  const store = new CertStore(dir);
  store.writeRoot(await createRootCa({ org: 'Acme', keySize: 2048, days: 400 }));
  const clusters = ['east', 'west', 'north'];

  await store.ensureIntermediates(clusters, { org: 'Acme', keySize: 2048, days: 90, allowCreate: true });

  checkRootWithOpenssl(dir, { org: 'Acme', keyBits: 2048, days: 400 });
  for (const c of clusters) checkWithOpenssl(dir, c, { org: 'Acme', keyBits: 2048, days: 90 });
});

test("a root made by Istio's Makefile.selfsigned.mk (openssl) signs our intermediates", { skip }, async () => {
  // GIVEN a root created with the commands of tools/certs/Makefile.selfsigned.mk and root-ca.conf of common.mk
  const dir = tmp();
  const certs = path.join(dir, 'certs');
  fs.mkdirSync(certs);
  fs.writeFileSync(
    path.join(certs, 'root-ca.conf'),
    [
      '[ req ]',
      'encrypt_key = no',
      'prompt = no',
      'utf8 = yes',
      'default_md = sha256',
      'default_bits = 4096',
      'req_extensions = req_ext',
      'x509_extensions = req_ext',
      'distinguished_name = req_dn',
      '[ req_ext ]',
      'subjectKeyIdentifier = hash',
      'basicConstraints = critical, CA:true',
      'keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign',
      '[ req_dn ]',
      'O = Istio',
      'CN = Root CA',
      '',
    ].join('\n'),
  );
  openssl(['genrsa', '-out', 'root-key.pem', '2048'], certs);
  openssl(['req', '-sha256', '-new', '-key', 'root-key.pem', '-config', 'root-ca.conf', '-out', 'root-cert.csr'], certs);
  openssl(
    ['x509', '-req', '-sha256', '-days', '3650', '-signkey', 'root-key.pem', '-extensions', 'req_ext', '-extfile', 'root-ca.conf'].concat([
      '-in',
      'root-cert.csr',
      '-out',
      'root-cert.pem',
    ]),
    certs,
  );

  // WHEN meshgen issues an intermediate with it
  const store = new CertStore(dir);
  await store.ensureIntermediates(['cluster1'], { org: 'Istio', keySize: 2048, allowCreate: true });

  // THEN the result is what the Makefile would have made
  checkWithOpenssl(dir, 'cluster1', { org: 'Istio', keyBits: 2048, days: 3650 });
});

test('an intermediate made by openssl under our root passes verifyIntermediate, one of another root does not', { skip }, async () => {
  // GIVEN our root, and an intermediate issued with the <cluster>-cacerts commands of Makefile.selfsigned.mk
  const dir = tmp();
  const root: RootCaFiles = await createRootCa({ org: 'Istio', keySize: 2048 });
  fs.writeFileSync(path.join(dir, 'root-cert.pem'), root.certPem);
  fs.writeFileSync(path.join(dir, 'root-key.pem'), root.keyPem);
  fs.writeFileSync(
    path.join(dir, 'intermediate.conf'),
    [
      '[ req ]',
      'encrypt_key = no',
      'prompt = no',
      'utf8 = yes',
      'default_md = sha256',
      'req_extensions = req_ext',
      'x509_extensions = req_ext',
      'distinguished_name = req_dn',
      '[ req_ext ]',
      'subjectKeyIdentifier = hash',
      'basicConstraints = critical, CA:true, pathlen:0',
      'keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign',
      'subjectAltName=@san',
      '[ san ]',
      'DNS.1 = istiod.istio-system.svc',
      '[ req_dn ]',
      'O = Istio',
      'CN = Intermediate CA',
      'L = cluster1',
      '',
    ].join('\n'),
  );
  openssl(['genrsa', '-out', 'ca-key.pem', '2048'], dir);
  openssl(['req', '-sha256', '-new', '-config', 'intermediate.conf', '-key', 'ca-key.pem', '-out', 'cluster-ca.csr'], dir);
  openssl(
    ['x509', '-req', '-sha256', '-days', '3650', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial'].concat([
      '-extensions',
      'req_ext',
      '-extfile',
      'intermediate.conf',
      '-in',
      'cluster-ca.csr',
      '-out',
      'ca-cert.pem',
    ]),
    dir,
  );
  const files = {
    caCertPem: fs.readFileSync(path.join(dir, 'ca-cert.pem'), 'utf8'),
    caKeyPem: fs.readFileSync(path.join(dir, 'ca-key.pem'), 'utf8'),
    rootCertPem: root.certPem,
  };
  const where = { cluster: 'cluster1', dir: 'certs/cluster1' };

  // THEN
  assert.deepEqual(verifyIntermediate(files, where), []);
  const other = await createRootCa({ org: 'Istio', keySize: 2048 });
  assert.match(verifyIntermediate({ ...files, rootCertPem: other.certPem }, where)[0]?.message ?? '', /was not signed by the root CA/);
  // and openssl agrees that one of our intermediates does not chain to another root
  const ours = await createIntermediateCa({ org: 'Istio', cluster: 'c', root: other, keySize: 2048 });
  fs.writeFileSync(path.join(dir, 'foreign.pem'), ours.caCertPem);
  const r = spawnSync('openssl', ['verify', '-CAfile', 'root-cert.pem', 'foreign.pem'], { cwd: dir, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
});
