/**
 * Generates the demo Sealed Secrets controller key pairs of the bundled example mesh, and the bad certificates the
 * sealing tests need. Demo only: the private keys are test fixtures, never use them for a real cluster.
 *
 *   npx tsx scripts/make-demo-sealing-keys.ts [--force]
 *
 * Writes (skipping files that exist, unless `--force`):
 * - `sealing-certs/<cluster>.pem`: self-signed certificate like the one the controller generates (committed; the
 *   example topology's `sealingCert` defaults to it);
 * - `test/fixtures/sealing-keys/<cluster>.key`: its 4096-bit RSA private key, PKCS#1 PEM as in the controller's
 *   `tls.key` (mode 0600);
 * - `test/fixtures/sealing-certs/{expired,ec,truncated,garbage}.pem`: certificates `loadSealingCert` must refuse.
 *
 * The certificate mirrors `SignKeyWithNotBefore` in sealed-secrets `pkg/crypto/keys.go`: random 128-bit serial,
 * validity 10*365 days, keyUsage (critical) encipherOnly, basicConstraints (critical) CA:true, a subjectKeyIdentifier
 * (Go adds one to CA certificates), SHA-256 with RSA. The subject is `CN=sealed-secret, O=sealed-secret`, as in the
 * upstream "bring your own certificates" guide (the controller itself uses only a CN, from `--my-cn`). Keys come from
 * Node's native crypto; the certificate is DER-encoded here and signed with `crypto.sign`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic, writePrivateFile } from '../src/fs-util';

const CLUSTERS = ['cluster-east-1', 'cluster-east-2', 'cluster-west-1'];
const ROOT = path.resolve(__dirname, '..');
const CERT_DIR = path.join(ROOT, 'sealing-certs');
const KEY_DIR = path.join(ROOT, 'test', 'fixtures', 'sealing-keys');
const BAD_DIR = path.join(ROOT, 'test', 'fixtures', 'sealing-certs');
const DAY_MS = 24 * 60 * 60 * 1000;
const SUBJECT = [
  ['2.5.4.3', 'sealed-secret'],
  ['2.5.4.10', 'sealed-secret'],
] as const;

// --- minimal DER encoder -------------------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const boolTrue = (): Buffer => Buffer.from([0x01, 0x01, 0xff]);
const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
const printable = (s: string): Buffer => tlv(0x13, Buffer.from(s, 'ascii'));

/** A non-negative INTEGER from big-endian magnitude bytes. */
function integer(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let b = magnitude.subarray(i);
  if (b.length === 0) b = Buffer.from([0]);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** X.509 Time: UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5, as Go does). */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2026-05-08T12:34:56.789Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(digits.slice(2), 'ascii'));
  return tlv(0x18, Buffer.from(digits, 'ascii'));
}

function name(rdns: readonly (readonly [string, string])[]): Buffer {
  return seq(...rdns.map(([type, value]) => set(seq(oid(type), printable(value)))));
}

/** The content of the subjectPublicKey BIT STRING of a SubjectPublicKeyInfo (what Go hashes for the key id). */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  const header = (at: number): { start: number; end: number } => {
    const first = spki[at + 1];
    if (first < 0x80) return { start: at + 2, end: at + 2 + first };
    const n = first & 0x7f;
    const len = spki.subarray(at + 2, at + 2 + n).reduce((acc, b) => acc * 256 + b, 0);
    return { start: at + 2 + n, end: at + 2 + n + len };
  };
  const outer = header(0);
  const algorithm = header(outer.start);
  const bitString = header(algorithm.end);
  return spki.subarray(bitString.start + 1, bitString.end);
}

interface CertOptions {
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: crypto.KeyObject;
  readonly privateKey: crypto.KeyObject;
}

/** A self-signed certificate shaped like the sealed-secrets controller's, as PEM. */
function selfSignedCert(o: CertOptions): string {
  const isRsa = o.privateKey.asymmetricKeyType === 'rsa';
  const sigAlg = isRsa ? seq(oid('1.2.840.113549.1.1.11'), nullValue()) : seq(oid('1.2.840.10045.4.3.2'));
  const spki = o.publicKey.export({ type: 'spki', format: 'der' });
  const keyId = crypto.createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
  const extensions = seq(
    // keyUsage: encipherOnly is bit 7, i.e. the last bit of the first byte; Go marks keyUsage critical.
    seq(oid('2.5.29.15'), boolTrue(), octets(tlv(0x03, Buffer.from([0x00, 0x01])))),
    seq(oid('2.5.29.19'), boolTrue(), octets(seq(boolTrue()))),
    seq(oid('2.5.29.14'), octets(octets(keyId))),
  );
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(crypto.randomBytes(16)),
    sigAlg,
    name(SUBJECT),
    seq(time(o.notBefore), time(o.notAfter)),
    name(SUBJECT),
    spki,
    explicit(3, extensions),
  );
  const signature = crypto.sign('sha256', tbs, o.privateKey);
  const der = seq(tbs, sigAlg, bits(signature));
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

// --- files ---------------------------------------------------------------------------------------------------------

const force = process.argv.includes('--force');
const rel = (f: string): string => path.relative(ROOT, f);

function rsaPair(bitsLength: number): { publicKey: crypto.KeyObject; privateKey: crypto.KeyObject } {
  return crypto.generateKeyPairSync('rsa', { modulusLength: bitsLength, publicExponent: 0x10001 });
}

/** Go truncates certificate times to whole seconds. */
function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function makeClusterKeys(cluster: string): void {
  const certFile = path.join(CERT_DIR, `${cluster}.pem`);
  const keyFile = path.join(KEY_DIR, `${cluster}.key`);
  const haveCert = fs.existsSync(certFile);
  const haveKey = fs.existsSync(keyFile);
  if (!force && haveCert && haveKey) {
    const cert = new crypto.X509Certificate(fs.readFileSync(certFile));
    if (!cert.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(keyFile)))) {
      throw new Error(`${rel(keyFile)} is not the key of ${rel(certFile)}; rerun with --force to regenerate both`);
    }
    console.log(`skip ${rel(certFile)} and ${rel(keyFile)} (exist; --force regenerates)`);
    return;
  }
  if (!force && (haveCert || haveKey)) {
    throw new Error(
      `${rel(haveCert ? certFile : keyFile)} exists but ${rel(haveCert ? keyFile : certFile)} does not; ` +
        'the certificate and key must be generated together: rerun with --force',
    );
  }
  const { publicKey, privateKey } = rsaPair(4096);
  const now = Date.now();
  const pem = selfSignedCert({ notBefore: wholeSeconds(now), notAfter: wholeSeconds(now + 3650 * DAY_MS), publicKey, privateKey });
  writeFileAtomic(certFile, pem);
  writePrivateFile(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  console.log(`wrote ${rel(certFile)} and ${rel(keyFile)} (RSA 4096, valid 10 years)`);
}

function makeBadCert(file: string, make: () => string, what: string): void {
  const target = path.join(BAD_DIR, file);
  if (!force && fs.existsSync(target)) {
    console.log(`skip ${rel(target)} (exists; --force regenerates)`);
    return;
  }
  writeFileAtomic(target, make());
  console.log(`wrote ${rel(target)} (${what})`);
}

function main(): void {
  for (const cluster of CLUSTERS) makeClusterKeys(cluster);

  makeBadCert(
    'expired.pem',
    () => {
      const { publicKey, privateKey } = rsaPair(2048);
      return selfSignedCert({ notBefore: new Date('2015-01-01T00:00:00Z'), notAfter: new Date('2016-01-01T00:00:00Z'), publicKey, privateKey });
    },
    'RSA 2048, expired on 2016-01-01',
  );
  makeBadCert(
    'ec.pem',
    () => {
      const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const now = Date.now();
      return selfSignedCert({ notBefore: wholeSeconds(now), notAfter: wholeSeconds(now + 3650 * DAY_MS), publicKey, privateKey });
    },
    'EC P-256 key, valid 10 years',
  );
  makeBadCert(
    'truncated.pem',
    () => {
      const { publicKey, privateKey } = rsaPair(2048);
      const now = Date.now();
      const lines = selfSignedCert({ notBefore: wholeSeconds(now), notAfter: wholeSeconds(now + 3650 * DAY_MS), publicKey, privateKey })
        .trimEnd()
        .split('\n');
      return `${lines.slice(0, Math.floor(lines.length / 2)).join('\n')}\n`;
    },
    'first half of a certificate PEM, no END line',
  );
  makeBadCert(
    'garbage.pem',
    () => '<html><head><title>404 Not Found</title></head><body>no cert.pem here</body></html>\n',
    'an HTML error page instead of a certificate',
  );
}

main();
