/**
 * ECDSA CA keys (`pki.keyAlgorithm: ecdsa-p256 | ecdsa-p384`): keys istiod reads, certificates signed with
 * ecdsa-with-SHA256/384, and chains across algorithms (an RSA root over ECDSA intermediates and the other way round),
 * checked by Node and by openssl as Istio's tools/certs would. RSA keys here are 2048-bit (fast); EC keys take ms.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import {
  CertStore,
  certificateInfo,
  createIntermediateCa,
  createRootCa,
  ECDSA_WITH_SHA256_OID,
  ECDSA_WITH_SHA384_OID,
  generateKey,
  type KeyAlgorithm,
  keyAlgorithmOf,
  type RootCaFiles,
  SHA256_WITH_RSA_OID,
  signatureAlgorithmFor,
  verifyIntermediate,
} from '../../src/pki';
import { assertLeafVerifies, openssl } from '../helpers/openssl';

const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const noOpenssl = probe.error || probe.status !== 0 ? 'openssl is not on PATH' : false;

const tempDirs: string[] = [];
after(() => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-ecdsa-'));
  tempDirs.push(d);
  return d;
}

/** The signatureAlgorithm of a certificate (outer), as OID and whether the AlgorithmIdentifier has parameters. */
function signatureAlgorithmOfDer(der: Buffer): { oid: string; hasParameters: boolean } {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }: walk the DER by hand.
  const readLength = (at: number): { length: number; start: number } => {
    const first = der[at];
    if (first < 0x80) return { length: first, start: at + 1 };
    const n = first & 0x7f;
    let length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[at + 1 + i];
    return { length, start: at + 1 + n };
  };
  const outer = readLength(1);
  const tbs = readLength(outer.start + 1);
  const algAt = tbs.start + tbs.length;
  assert.equal(der[algAt], 0x30, 'signatureAlgorithm is a SEQUENCE');
  const alg = readLength(algAt + 1);
  assert.equal(der[alg.start], 0x06, 'its first element is an OID');
  const oidLen = readLength(alg.start + 1);
  const oidBytes = der.subarray(oidLen.start, oidLen.start + oidLen.length);
  const arcs = [Math.floor(oidBytes[0] / 40), oidBytes[0] % 40];
  let v = 0;
  for (const b of oidBytes.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  return { oid: arcs.join('.'), hasParameters: oidLen.start + oidLen.length < alg.start + alg.length };
}

const roots = new Map<string, Promise<RootCaFiles>>();
/** One root per algorithm for the whole file (RSA roots are 2048-bit). */
function rootOf(algorithm: KeyAlgorithm): Promise<RootCaFiles> {
  let r = roots.get(algorithm);
  if (!r) {
    r = createRootCa({ org: 'example.com', keyAlgorithm: algorithm, keySize: 2048 });
    roots.set(algorithm, r);
  }
  return r;
}

test('generateKey makes PKCS#8 EC keys on P-256 and P-384 with a named curve, as istiod parses them', async () => {
  for (const [algorithm, curve, oid] of [
    ['ecdsa-p256', 'prime256v1', '2a8648ce3d030107'],
    ['ecdsa-p384', 'secp384r1', '2b81040022'],
  ] as const) {
    const { privateKeyPem, publicKeyPem } = await generateKey(algorithm);
    // Istio's ParsePemEncodedKey: a "PRIVATE KEY" block goes to x509.ParsePKCS8PrivateKey, which wants
    // PrivateKeyInfo { version 0, AlgorithmIdentifier { id-ecPublicKey, namedCurve OID }, ECPrivateKey }.
    assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    const der = Buffer.from(privateKeyPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const hex = der.toString('hex');
    assert.ok(hex.includes('06072a8648ce3d0201'), 'AlgorithmIdentifier id-ecPublicKey (1.2.840.10045.2.1)');
    assert.ok(hex.includes(oid), `namedCurve ${curve} (not explicit parameters, which Go rejects)`);
    const key = crypto.createPrivateKey(privateKeyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, curve);
    assert.equal(keyAlgorithmOf(key), algorithm);
    assert.equal(crypto.createPublicKey(publicKeyPem).asymmetricKeyDetails?.namedCurve, curve);
  }
  await assert.rejects(
    generateKey('ecdsa-p521' as KeyAlgorithm),
    /key algorithm "ecdsa-p521" is not supported; use one of rsa-4096, ecdsa-p256, ecdsa-p384/,
  );
});

test('the signature algorithm follows the signing key: RSA sha256WithRSAEncryption, P-256 SHA-256, P-384 SHA-384', async () => {
  const rsa = await rootOf('rsa-4096');
  const p256 = await rootOf('ecdsa-p256');
  const p384 = await rootOf('ecdsa-p384');
  assert.deepEqual(signatureAlgorithmFor(crypto.createPrivateKey(rsa.keyPem)), {
    name: 'sha256WithRSAEncryption',
    oid: SHA256_WITH_RSA_OID,
    hash: 'sha256',
  });
  assert.deepEqual(signatureAlgorithmFor(crypto.createPrivateKey(p256.keyPem)), {
    name: 'ecdsa-with-SHA256',
    oid: ECDSA_WITH_SHA256_OID,
    hash: 'sha256',
  });
  assert.deepEqual(signatureAlgorithmFor(crypto.createPrivateKey(p384.keyPem)), {
    name: 'ecdsa-with-SHA384',
    oid: ECDSA_WITH_SHA384_OID,
    hash: 'sha384',
  });

  // In the certificates: the outer signatureAlgorithm; ECDSA without parameters (RFC 5758), RSA with NULL (RFC 4055).
  const inter = await createIntermediateCa({ org: 'example.com', cluster: 'c1', root: p384, keyAlgorithm: 'ecdsa-p256' });
  assert.deepEqual(signatureAlgorithmOfDer(new crypto.X509Certificate(p256.certPem).raw), { oid: ECDSA_WITH_SHA256_OID, hasParameters: false });
  assert.deepEqual(signatureAlgorithmOfDer(new crypto.X509Certificate(inter.caCertPem).raw), { oid: ECDSA_WITH_SHA384_OID, hasParameters: false });
  assert.deepEqual(signatureAlgorithmOfDer(new crypto.X509Certificate(rsa.certPem).raw), { oid: SHA256_WITH_RSA_OID, hasParameters: true });
});

test('chains across algorithms verify, key usage drops keyEncipherment for EC keys, and another root is refused', async () => {
  const where = { cluster: 'c1', dir: 'certs/c1' };
  const cases: [KeyAlgorithm, KeyAlgorithm][] = [
    ['rsa-4096', 'ecdsa-p256'],
    ['rsa-4096', 'ecdsa-p384'],
    ['ecdsa-p256', 'ecdsa-p256'],
    ['ecdsa-p384', 'ecdsa-p256'],
    ['ecdsa-p256', 'rsa-4096'],
  ];
  for (const [rootAlg, interAlg] of cases) {
    const root = await rootOf(rootAlg);
    const inter = await createIntermediateCa({ org: 'example.com', cluster: 'c1', root, keyAlgorithm: interAlg, keySize: 2048 });
    const label = `${rootAlg} root → ${interAlg} intermediate`;
    assert.deepEqual(verifyIntermediate(inter, where), [], label);
    const x = new crypto.X509Certificate(inter.caCertPem);
    assert.ok(x.ca && x.checkIssued(new crypto.X509Certificate(root.certPem)), label);
    assert.ok(x.checkPrivateKey(crypto.createPrivateKey(inter.caKeyPem)), label);
    assert.equal(certificateInfo(inter.caCertPem).keyAlgorithm, interAlg, label);
    assert.equal(inter.certChainPem, inter.caCertPem + root.certPem);
    // Another root of the same algorithm did not sign it.
    const other = await createRootCa({ org: 'example.com', keyAlgorithm: rootAlg, keySize: 2048 });
    assert.match(verifyIntermediate({ ...inter, rootCertPem: other.certPem }, where)[0]?.message ?? '', /was not signed by the root CA/, label);
  }
  const ec = await createIntermediateCa({ org: 'o', cluster: 'c', root: await rootOf('rsa-4096'), keyAlgorithm: 'ecdsa-p256' });
  const info = certificateInfo(ec.caCertPem);
  assert.equal(info.keyType, 'ec');
  assert.equal(info.keyDescription, 'ECDSA P-256');
  assert.equal(info.keyBits, undefined);
});

test('CertStore reads an ECDSA root and issues intermediates of the asked algorithm; a P-521 root key is refused', async () => {
  const dir = tmp();
  const store = new CertStore(dir);
  store.writeRoot(await rootOf('ecdsa-p384'));
  assert.ok(store.readRoot()?.keyPem);
  const { created } = await store.ensureIntermediates(['east', 'west'], { org: 'example.com', keyAlgorithm: 'ecdsa-p256', allowCreate: true });
  assert.deepEqual(created, ['east', 'west']);
  for (const c of created) {
    assert.equal(certificateInfo(fs.readFileSync(path.join(dir, 'certs', c, 'ca-cert.pem'), 'utf8')).keyAlgorithm, 'ecdsa-p256');
    assert.ok(store.readIntermediate(c));
  }

  const bad = tmp();
  const p521 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const other = await rootOf('ecdsa-p256');
  new CertStore(bad).writeRoot({ certPem: other.certPem, keyPem: p521.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
  assert.throws(
    () => new CertStore(bad).readRoot(),
    /certs\/root-key\.pem: holds a key meshgen cannot sign with \(EC secp521r1\); meshgen signs intermediates with RSA or ECDSA P-256 \/ P-384/,
  );
});

test(
  'openssl: P-256 and P-384 chains (RSA root → EC intermediate, EC root → EC intermediate) verify as istiod needs',
  { skip: noOpenssl },
  async () => {
    const cases: { root: KeyAlgorithm; inter: KeyAlgorithm; sig: string; curve: string; bits: number }[] = [
      { root: 'rsa-4096', inter: 'ecdsa-p256', sig: 'sha256WithRSAEncryption', curve: 'P-256', bits: 256 },
      { root: 'rsa-4096', inter: 'ecdsa-p384', sig: 'sha256WithRSAEncryption', curve: 'P-384', bits: 384 },
      { root: 'ecdsa-p256', inter: 'ecdsa-p256', sig: 'ecdsa-with-SHA256', curve: 'P-256', bits: 256 },
      { root: 'ecdsa-p384', inter: 'ecdsa-p384', sig: 'ecdsa-with-SHA384', curve: 'P-384', bits: 384 },
    ];
    for (const c of cases) {
      const dir = tmp();
      const store = new CertStore(dir);
      store.writeRoot(await rootOf(c.root));
      await store.ensureIntermediates(['cluster1'], { org: 'example.com', keyAlgorithm: c.inter, keySize: 2048, allowCreate: true });
      const cd = path.join(dir, 'certs', 'cluster1');
      const root = path.join('..', 'root-cert.pem');
      const label = `${c.root} → ${c.inter}`;

      assert.equal(openssl(['verify', '-x509_strict', '-CAfile', root, 'ca-cert.pem'], cd).trim(), 'ca-cert.pem: OK', label);
      assert.equal(openssl(['verify', '-x509_strict', '-CAfile', root, '-untrusted', 'cert-chain.pem', 'ca-cert.pem'], cd).trim(), 'ca-cert.pem: OK');
      // A workload certificate signed by the EC intermediate (as istiod would) verifies through cert-chain.pem.
      assertLeafVerifies(cd, root, tmp(), ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], label);

      const text = openssl(['x509', '-noout', '-text', '-in', 'ca-cert.pem'], cd);
      assert.match(text, /Public Key Algorithm: id-ecPublicKey/, label);
      assert.match(text, new RegExp(`Public-Key: \\(${c.bits} bit\\)`), label);
      assert.match(text, new RegExp(`NIST CURVE: ${c.curve}`), label);
      assert.equal(text.match(new RegExp(`Signature Algorithm: ${c.sig}`, 'g'))?.length, 2, label);
      assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
      assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Certificate Sign\n/, label);
      assert.match(text, /X509v3 Subject Alternative Name: \n\s+DNS:istiod.istio-system.svc\n/);
      assert.match(text, /X509v3 Authority Key Identifier: \n/);
      // The subject key identifier is what OpenSSL computes for the same key (subjectKeyIdentifier=hash).
      openssl(['req', '-new', '-x509', '-key', 'ca-key.pem', '-subj', '/CN=probe', '-days', '1', '-out', 'probe.pem'], cd);
      const ski = (f: string) => openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier', '-in', f], cd).split('\n')[1]?.trim();
      assert.equal(ski('ca-cert.pem'), ski('probe.pem'), label);
      // The key: a valid EC key of that curve, in PKCS#8, belonging to the certificate.
      assert.match(openssl(['pkey', '-check', '-noout', '-in', 'ca-key.pem'], cd), /Key is valid/);
      assert.equal(openssl(['pkey', '-pubout', '-in', 'ca-key.pem'], cd), openssl(['x509', '-noout', '-pubkey', '-in', 'ca-cert.pem'], cd), label);

      const rootText = openssl(['x509', '-noout', '-text', '-in', 'root-cert.pem'], path.join(dir, 'certs'));
      if (c.root !== 'rsa-4096') {
        assert.equal(
          openssl(['verify', '-x509_strict', '-CAfile', 'root-cert.pem', 'root-cert.pem'], path.join(dir, 'certs')).trim(),
          'root-cert.pem: OK',
        );
        assert.match(rootText, /X509v3 Key Usage: critical\n\s+Digital Signature, Non Repudiation, Certificate Sign\n/);
        assert.match(rootText, /Public Key Algorithm: id-ecPublicKey/);
      } else {
        assert.match(rootText, /Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign\n/);
      }
    }
  },
);
