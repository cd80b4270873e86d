import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { test } from 'node:test';
import * as forge from 'node-forge';
import {
  type CertificateExtension,
  createRootCa,
  generateRsaKey,
  issueCertificate,
  keyIdentifier,
  pemCertificates,
  randomSerialNumber,
  subjectKeyIdentifierOf,
} from '../../src/pki';

const CA_EXTENSIONS: CertificateExtension[] = [
  { name: 'subjectKeyIdentifier' },
  { name: 'basicConstraints', critical: true, cA: true },
  { name: 'keyUsage', critical: true, keyCertSign: true },
];

test('randomSerialNumber gives positive, minimal, at most 128-bit DER integers', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const hex = randomSerialNumber();
    seen.add(hex);
    assert.match(hex, /^([0-9a-f]{2})+$/);
    const bytes = Buffer.from(hex, 'hex');
    assert.ok(bytes.length <= 16, hex);
    assert.equal(bytes[0] & 0x80, 0, `sign bit set: ${hex}`);
    if (bytes.length > 1) assert.ok(bytes[0] !== 0 || (bytes[1] & 0x80) !== 0, `not minimal: ${hex}`);
    assert.ok(BigInt(`0x${hex}`) > 0n);
  }
  assert.equal(seen.size, 2000);
});

test('keyIdentifier is the SHA-1 of the RSAPublicKey, as OpenSSL subjectKeyIdentifier=hash', async () => {
  const { publicKeyPem } = await generateRsaKey(2048);
  const key = crypto.createPublicKey(publicKeyPem);
  const expected = crypto
    .createHash('sha1')
    .update(key.export({ type: 'pkcs1', format: 'der' }))
    .digest();

  assert.deepEqual(keyIdentifier(key.export({ type: 'spki', format: 'der' })), expected);
});

test('issueCertificate signs natively: valid self-signed certificate with the given serial, validity and SKI', async () => {
  // GIVEN
  const key = await generateRsaKey(2048);
  const now = new Date('2030-01-02T03:04:05Z');

  // WHEN
  const pem = issueCertificate(
    {
      subject: [{ shortName: 'CN', value: 'Test CA' }],
      publicKeyPem: key.publicKeyPem,
      extensions: CA_EXTENSIONS,
      days: 10,
      now,
      serialNumber: '00ff01',
    },
    { keyPem: key.privateKeyPem },
  );

  // THEN
  assert.match(pem, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
  const x = new crypto.X509Certificate(pem);
  assert.ok(x.verify(crypto.createPublicKey(key.publicKeyPem)));
  assert.ok(x.checkIssued(x));
  assert.equal(x.serialNumber, 'FF01');
  assert.equal(new Date(x.validFrom).toISOString(), '2030-01-02T03:04:05.000Z');
  assert.equal(new Date(x.validTo).toISOString(), '2030-01-12T03:04:05.000Z');
  assert.equal(x.ca, true);
  const spki = crypto.createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' });
  assert.deepEqual(subjectKeyIdentifierOf(pem), keyIdentifier(spki));
  // node-forge reads back the same certificate and the sha256WithRSAEncryption signature verifies there too.
  const parsed = forge.pki.certificateFromPem(pem);
  assert.equal(parsed.signatureOid, '1.2.840.113549.1.1.11');
  assert.ok(parsed.verify(parsed));
});

test('issueCertificate copies the issuer name byte for byte and sets the AKI to the issuer SKI', async () => {
  const root = await createRootCa({ org: 'Ünïcode & Co', keySize: 2048 });
  const leafKey = await generateRsaKey(2048);

  const pem = issueCertificate(
    {
      subject: [{ shortName: 'CN', value: 'leaf' }],
      publicKeyPem: leafKey.publicKeyPem,
      extensions: [{ name: 'authorityKeyIdentifier' }],
      days: 1,
    },
    root,
  );

  const x = new crypto.X509Certificate(pem);
  const r = new crypto.X509Certificate(root.certPem);
  assert.equal(x.issuer, r.subject);
  assert.match(x.issuer, /O=Ünïcode & Co/);
  assert.ok(x.checkIssued(r));
  assert.ok(x.verify(r.publicKey));
  const aki = forge.pki.certificateFromPem(pem).getExtension('authorityKeyIdentifier') as { value: string };
  assert.ok(
    Buffer.from(aki.value, 'binary')
      .toString('hex')
      .endsWith(subjectKeyIdentifierOf(root.certPem)?.toString('hex') ?? 'missing'),
  );
});

test('fails when the signing key does not match the issuer certificate', async () => {
  const root = await createRootCa({ org: 'example.com', keySize: 2048 });
  const other = await generateRsaKey(2048);

  assert.throws(
    () =>
      issueCertificate(
        { subject: [{ shortName: 'CN', value: 'x' }], publicKeyPem: other.publicKeyPem, extensions: [], days: 1 },
        { certPem: root.certPem, keyPem: other.privateKeyPem },
      ),
    /the signing key does not match the issuer certificate "O=example.com, CN=Root CA"/,
  );
});

test('fails when the signing key or the subject key is neither RSA nor ECDSA P-256 / P-384', async () => {
  const p521 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const ed = crypto.generateKeyPairSync('ed25519');
  const key = await generateRsaKey(2048);
  const pem = (k: crypto.KeyObject) => k.export({ type: k.type === 'private' ? 'pkcs8' : 'spki', format: 'pem' }).toString();
  const template = { subject: [{ shortName: 'CN' as const, value: 'x' }], publicKeyPem: key.publicKeyPem, extensions: [], days: 1 };

  assert.throws(
    () => issueCertificate(template, { keyPem: pem(p521.privateKey) }),
    /the signing key is EC secp521r1; meshgen signs with RSA or ECDSA/,
  );
  assert.throws(() => issueCertificate(template, { keyPem: pem(ed.privateKey) }), /the signing key is ed25519/);
  assert.throws(
    () => issueCertificate({ ...template, publicKeyPem: pem(ed.publicKey) }, { keyPem: key.privateKeyPem }),
    /the subject key is ed25519; meshgen issues CA certificates for RSA and ECDSA P-256 \/ P-384 keys only/,
  );
});

test('fails when a subject value is too long or the validity is not a positive integer', async () => {
  const key = await generateRsaKey(2048);
  const base = { publicKeyPem: key.publicKeyPem, extensions: [], days: 1 };
  const signer = { keyPem: key.privateKeyPem };

  assert.throws(() => issueCertificate({ ...base, subject: [{ shortName: 'O', value: 'x'.repeat(65) }] }, signer), /must be 1 to 64 characters/);
  assert.throws(() => issueCertificate({ ...base, subject: [{ shortName: 'CN', value: 'x' }], days: 0 }, signer), /validity 0 days is not supported/);
});

test('pemCertificates reads every block and ignores CRLF line endings', async () => {
  const root = await createRootCa({ org: 'example.com', keySize: 2048 });
  const der = new crypto.X509Certificate(root.certPem).raw;

  const blocks = pemCertificates(`junk\r\n${root.certPem.replace(/\n/g, '\r\n')}${root.certPem}`);

  assert.equal(blocks.length, 2);
  assert.ok(blocks[0].equals(der));
  assert.ok(blocks[1].equals(der));
  assert.deepEqual(pemCertificates('nothing here'), []);
});
