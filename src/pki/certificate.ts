import * as crypto from 'node:crypto';
import * as forge from 'node-forge';
import { show } from '../errors';
import { describeKey, KEY_ALGORITHMS, type KeyAlgorithm, keyAlgorithmOf } from './keys';

/** OID of sha256WithRSAEncryption (RFC 4055): the signature of every certificate an RSA key signs. */
export const SHA256_WITH_RSA_OID = '1.2.840.113549.1.1.11';
/** OID of ecdsa-with-SHA256 (RFC 5758 §3.2): the signature of every certificate a P-256 key signs. */
export const ECDSA_WITH_SHA256_OID = '1.2.840.10045.4.3.2';
/** OID of ecdsa-with-SHA384 (RFC 5758 §3.2): the signature of every certificate a P-384 key signs. */
export const ECDSA_WITH_SHA384_OID = '1.2.840.10045.4.3.3';

/** How a key signs a certificate: the digest, and the signatureAlgorithm written into the certificate. */
export interface SignatureAlgorithm {
  /** OpenSSL's name, as `openssl x509 -text` prints it. */
  readonly name: 'sha256WithRSAEncryption' | 'ecdsa-with-SHA256' | 'ecdsa-with-SHA384';
  readonly oid: string;
  /** The digest passed to `crypto.sign`. */
  readonly hash: 'sha256' | 'sha384';
}

const SIGNATURE_ALGORITHMS: Record<KeyAlgorithm, SignatureAlgorithm> = {
  'rsa-4096': { name: 'sha256WithRSAEncryption', oid: SHA256_WITH_RSA_OID, hash: 'sha256' },
  'ecdsa-p256': { name: 'ecdsa-with-SHA256', oid: ECDSA_WITH_SHA256_OID, hash: 'sha256' },
  'ecdsa-p384': { name: 'ecdsa-with-SHA384', oid: ECDSA_WITH_SHA384_OID, hash: 'sha384' },
};

/**
 * The signature algorithm of the certificates a key signs: sha256WithRSAEncryption for RSA (as common.mk's
 * `-sha256`), ecdsa-with-SHA256 for P-256 and ecdsa-with-SHA384 for P-384 (the digest matching the curve's strength,
 * as Go's x509 and OpenSSL choose by default).
 *
 * @param key the signing key (private or public).
 * @throws Error for keys meshgen cannot sign with (other curves, Ed25519, DSA...).
 */
export function signatureAlgorithmFor(key: crypto.KeyObject): SignatureAlgorithm {
  const algorithm = keyAlgorithmOf(key);
  if (algorithm === undefined) {
    throw new Error(
      `the signing key is ${describeKey(key)}; meshgen signs with RSA or ECDSA on P-256 / P-384 keys (${KEY_ALGORITHMS.join(', ')}), so use such a CA key`,
    );
  }
  return SIGNATURE_ALGORITHMS[algorithm];
}

const SUBJECT_KEY_IDENTIFIER_OID = '2.5.29.14';
const DAY_MS = 24 * 60 * 60 * 1000;

/** Upper bounds of X.520 (RFC 5280 appendix A); OpenSSL refuses longer values ("string too long"). */
const MAX_LENGTH: Record<NameAttribute['shortName'], number> = { C: 2, ST: 128, L: 128, O: 64, OU: 64, CN: 64 };

/** One relative distinguished name of a subject, e.g. `{ shortName: 'O', value: 'example.com' }`. */
export interface NameAttribute {
  /** Short name of the attribute type, as OpenSSL prints it. */
  readonly shortName: 'C' | 'ST' | 'L' | 'O' | 'OU' | 'CN';
  /** The value; encoded as UTF8String, as OpenSSL does with `utf8 = yes`. */
  readonly value: string;
}

/** A certificate extension, in the words of OpenSSL's x509v3 config. */
export type CertificateExtension =
  /** `subjectKeyIdentifier = hash`: SHA-1 of the subject's public key bits. */
  | { readonly name: 'subjectKeyIdentifier' }
  /** `authorityKeyIdentifier = keyid`: the issuer's subject key identifier. */
  | { readonly name: 'authorityKeyIdentifier' }
  /** `basicConstraints = [critical,] CA:<cA>[, pathlen:<pathLenConstraint>]`. */
  | { readonly name: 'basicConstraints'; readonly critical?: boolean; readonly cA: boolean; readonly pathLenConstraint?: number }
  /** `keyUsage = [critical,] <usages>`. */
  | {
      readonly name: 'keyUsage';
      readonly critical?: boolean;
      readonly digitalSignature?: boolean;
      readonly nonRepudiation?: boolean;
      readonly keyEncipherment?: boolean;
      readonly dataEncipherment?: boolean;
      readonly keyAgreement?: boolean;
      readonly keyCertSign?: boolean;
      readonly cRLSign?: boolean;
    }
  /** `subjectAltName = DNS:<name>, ...`. */
  | { readonly name: 'subjectAltName'; readonly dnsNames: readonly string[] };

/** What to put into a new certificate. */
export interface CertificateTemplate {
  /** Subject RDNs, in the order they appear in the certificate (OpenSSL keeps the config's `[req_dn]` order). */
  readonly subject: readonly NameAttribute[];
  /** The subject's public key (SPKI PEM): RSA, or EC on P-256 / P-384. */
  readonly publicKeyPem: string;
  /** Extensions, in the order they appear in the certificate. */
  readonly extensions: readonly CertificateExtension[];
  /** Validity in days from `now`. */
  readonly days: number;
  /**
   * Start of validity (notBefore); notAfter is `now + days`.
   * @default - the current time
   */
  readonly now?: Date;
  /**
   * Serial number as minimal big-endian hex (positive DER INTEGER content).
   * @default - a random 128-bit positive serial (`randomSerialNumber()`)
   */
  readonly serialNumber?: string;
}

/** Who signs a certificate. */
export interface CertificateSigner {
  /** The signer's private key (PKCS#1, SEC 1 or PKCS#8 PEM): RSA, or EC on P-256 / P-384. */
  readonly keyPem: string;
  /**
   * The signer's certificate: its subject becomes the issuer and its subject key identifier the authority key identifier.
   * @default - self-signed: issuer = subject, signed with `keyPem`
   */
  readonly certPem?: string;
}

type Asn1 = forge.asn1.Asn1;
type FromDer = (bytes: string, options: { strict?: boolean; parseAllBytes?: boolean; decodeBitStrings?: boolean }) => Asn1;
const fromDer = forge.asn1.fromDer as unknown as FromDer;
const getTBSCertificate = (forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): Asn1 }).getTBSCertificate;

/**
 * Builds and signs an X.509 v3 certificate: node-forge assembles the TBSCertificate, Node's crypto (OpenSSL) signs it.
 *
 * The signature algorithm follows the signing key ({@link signatureAlgorithmFor}): sha256WithRSAEncryption (PKCS#1
 * v1.5) for RSA, ecdsa-with-SHA256 / ecdsa-with-SHA384 for P-256 / P-384, computed natively over the DER of the
 * TBSCertificate (node-forge signs with neither ECDSA nor, at a usable speed, RSA-4096). The subject key may be of
 * another algorithm than the signer's (an RSA root signs an ECDSA intermediate and the other way round): its
 * SubjectPublicKeyInfo is copied as Node encodes it. ECDSA AlgorithmIdentifiers have no parameters (RFC 5758 §3.2),
 * RSA ones a NULL (RFC 4055), and the ECDSA signature is the DER `Ecdsa-Sig-Value` (RFC 3279 §2.2.3) in the BIT
 * STRING. For a signer with a certificate, the issuer name is copied byte for byte from the signer's subject, as RFC
 * 5280 name chaining expects.
 *
 * @param template subject, public key, extensions and validity of the new certificate.
 * @param signer the issuing key, and its certificate unless self-signed.
 * @returns the certificate as PEM (LF line endings, trailing newline).
 */
export function issueCertificate(template: CertificateTemplate, signer: CertificateSigner): string {
  const signingKey = crypto.createPrivateKey(signer.keyPem);
  const signature = signatureAlgorithmFor(signingKey);
  const issuerCert = signer.certPem === undefined ? undefined : new crypto.X509Certificate(signer.certPem);
  if (issuerCert && !issuerCert.checkPrivateKey(signingKey)) {
    throw new Error(
      `the signing key does not match the issuer certificate "${issuerCert.subject.replace(/\n/g, ', ')}"; pass the key of that certificate`,
    );
  }
  assertDays(template.days);
  const now = template.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new Error('the start of validity is an invalid Date; pass a valid `now`');

  const subjectKey = crypto.createPublicKey(template.publicKeyPem);
  if (keyAlgorithmOf(subjectKey) === undefined) {
    throw new Error(`the subject key is ${describeKey(subjectKey)}; meshgen issues CA certificates for RSA and ECDSA P-256 / P-384 keys only`);
  }
  const subjectSpki = subjectKey.export({ type: 'spki', format: 'der' });
  const subjectKeyId = keyIdentifier(subjectSpki);
  const issuer = issuerCert ? readTbs(issuerCert.raw) : undefined;
  const issuerSki = issuer?.subjectKeyIdentifier;
  // Without a subjectKeyIdentifier on the issuer, fall back to the hash of its key, as OpenSSL's `keyid` does.
  const authorityKeyId = !issuer ? subjectKeyId : issuerSki !== undefined ? Buffer.from(issuerSki, 'binary') : keyIdentifierOfSpkiAsn1(issuer.spki);

  const cert = forge.pki.createCertificate();
  cert.version = 2;
  cert.serialNumber = template.serialNumber ?? randomSerialNumber();
  cert.validity.notBefore = now;
  cert.validity.notAfter = new Date(now.getTime() + template.days * DAY_MS);
  // node-forge only encodes RSA keys: it gets a placeholder, replaced below by the subject's SubjectPublicKeyInfo.
  cert.publicKey = PLACEHOLDER_PUBLIC_KEY;
  cert.setSubject(toForgeAttributes(template.subject));
  cert.setIssuer(issuer ? [] : toForgeAttributes(template.subject));
  cert.setExtensions(template.extensions.map((e) => toForgeExtension(e, subjectKeyId, authorityKeyId)));
  cert.siginfo.algorithmOid = signature.oid;

  const tbs = getTBSCertificate(cert);
  // TBSCertificate: [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, [3] extensions
  const fields = tbs.value as Asn1[];
  fields[2] = algorithmIdentifier(signature);
  if (issuer) fields[3] = issuer.subject;
  fields[6] = fromDer(subjectSpki.toString('binary'), { decodeBitStrings: false });
  const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  // Node signs ECDSA as DER (dsaEncoding 'der' is the default), which is what X.509 carries.
  const signatureValue = crypto.sign(signature.hash, tbsDer, signingKey);

  const { UNIVERSAL } = forge.asn1.Class;
  const certificate = forge.asn1.create(UNIVERSAL, forge.asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(signature),
    forge.asn1.create(UNIVERSAL, forge.asn1.Type.BITSTRING, false, `\x00${signatureValue.toString('binary')}`),
  ]);
  const der = Buffer.from(forge.asn1.toDer(certificate).getBytes(), 'binary');
  const result = new crypto.X509Certificate(der);
  if (!result.verify(issuerCert ? issuerCert.publicKey : crypto.createPublicKey(signingKey))) {
    throw new Error('internal error: the certificate just signed does not verify with its issuer key; please report this as a meshgen bug');
  }
  return result.toString();
}

/** A syntactically valid RSA public key for node-forge's TBSCertificate encoder; never written into a certificate. */
const PLACEHOLDER_PUBLIC_KEY = forge.pki.setRsaPublicKey(new forge.jsbn.BigInteger('3', 10), new forge.jsbn.BigInteger('3', 10));

/** `AlgorithmIdentifier` of a signature: RSA with a NULL parameter (RFC 4055), ECDSA without parameters (RFC 5758). */
function algorithmIdentifier(signature: SignatureAlgorithm): Asn1 {
  const { UNIVERSAL } = forge.asn1.Class;
  const oid = forge.asn1.create(UNIVERSAL, forge.asn1.Type.OID, false, forge.asn1.oidToDer(signature.oid).getBytes());
  const parts = signature.oid === SHA256_WITH_RSA_OID ? [oid, forge.asn1.create(UNIVERSAL, forge.asn1.Type.NULL, false, '')] : [oid];
  return forge.asn1.create(UNIVERSAL, forge.asn1.Type.SEQUENCE, true, parts);
}

/**
 * Returns a random serial number as a positive DER INTEGER in minimal hex: 128 random bits with the top bit cleared.
 *
 * RFC 5280 §4.1.2.2 wants serials positive, unique per issuer and at most 20 octets; CA/B Forum wants at least
 * 64 random bits. The hex never starts with a needless `00` octet and never has the sign bit set.
 */
export function randomSerialNumber(): string {
  for (;;) {
    const bytes = crypto.randomBytes(16);
    bytes[0] &= 0x7f;
    const n = BigInt(`0x${bytes.toString('hex')}`);
    if (n === 0n) continue;
    let hex = n.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    if (Number.parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
    return hex;
  }
}

/**
 * Computes a key identifier as OpenSSL's `subjectKeyIdentifier = hash` does (RFC 5280 §4.2.1.2 method 1):
 * the SHA-1 of the subjectPublicKey BIT STRING's value, without tag, length and unused-bits octet.
 *
 * @param spkiDer the DER of a SubjectPublicKeyInfo.
 */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  return keyIdentifierOfSpkiAsn1(fromDer(spkiDer.toString('binary'), { decodeBitStrings: false }));
}

/**
 * Reads the subject key identifier extension of a certificate.
 *
 * @param certPem a PEM certificate (the first one, if the text holds several).
 * @returns the key identifier, or undefined when the certificate has no such extension.
 */
export function subjectKeyIdentifierOf(certPem: string): Buffer | undefined {
  const ski = readTbs(new crypto.X509Certificate(certPem).raw).subjectKeyIdentifier;
  return ski === undefined ? undefined : Buffer.from(ski, 'binary');
}

/**
 * Splits a PEM text into the DER of each `CERTIFICATE` block, in order.
 *
 * Tolerates CRLF line endings and text around the blocks; used to compare files by content rather than by bytes.
 *
 * @param pem text holding zero or more PEM certificates.
 */
export function pemCertificates(pem: string): Buffer[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => Buffer.from(b.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64'));
}

/**
 * Throws when `days` is not a usable certificate validity.
 *
 * @param days validity in days.
 */
export function assertDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 36500) {
    throw new Error(`certificate validity ${JSON.stringify(days)} days is not supported; use an integer from 1 to 36500 (default 3650)`);
  }
}

function toForgeAttributes(subject: readonly NameAttribute[]): forge.pki.CertificateField[] {
  return subject.map((a) => {
    const max = MAX_LENGTH[a.shortName];
    if (max === undefined)
      throw new Error(`subject attribute ${show(a.shortName)} is not supported; use one of: ${Object.keys(MAX_LENGTH).join(', ')}`);
    if (a.value.length === 0 || a.value.length > max) {
      throw new Error(`subject ${a.shortName}=${show(a.value)} must be 1 to ${max} characters long (X.520); shorten it`);
    }
    return { shortName: a.shortName, value: a.value, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class };
  });
}

function toForgeExtension(e: CertificateExtension, subjectKeyId: Buffer, authorityKeyId: Buffer): Record<string, unknown> {
  const { UNIVERSAL, CONTEXT_SPECIFIC } = forge.asn1.Class;
  switch (e.name) {
    case 'subjectKeyIdentifier':
      return { name: e.name, value: forge.asn1.create(UNIVERSAL, forge.asn1.Type.OCTETSTRING, false, subjectKeyId.toString('binary')) };
    case 'authorityKeyIdentifier':
      // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, ... }; only the keyid, as OpenSSL 3 writes it.
      return {
        name: e.name,
        value: forge.asn1.create(UNIVERSAL, forge.asn1.Type.SEQUENCE, true, [
          forge.asn1.create(CONTEXT_SPECIFIC, 0 as forge.asn1.Type, false, authorityKeyId.toString('binary')),
        ]),
      };
    case 'basicConstraints': {
      if (e.pathLenConstraint !== undefined && (!Number.isInteger(e.pathLenConstraint) || e.pathLenConstraint < 0)) {
        throw new Error(`basicConstraints pathlen ${JSON.stringify(e.pathLenConstraint)} is invalid; use a non-negative integer`);
      }
      const out: Record<string, unknown> = { name: e.name, critical: e.critical ?? false, cA: e.cA };
      if (e.pathLenConstraint !== undefined) out.pathLenConstraint = e.pathLenConstraint;
      return out;
    }
    case 'keyUsage':
      return { ...e, critical: e.critical ?? false };
    case 'subjectAltName':
      if (e.dnsNames.length === 0) throw new Error('subjectAltName needs at least one DNS name; remove the extension or add a name');
      return { name: e.name, altNames: e.dnsNames.map((value) => ({ type: 2, value })) };
  }
}

interface TbsParts {
  readonly subject: Asn1;
  readonly spki: Asn1;
  /** Binary string, as forge uses; undefined when the certificate has no subjectKeyIdentifier extension. */
  readonly subjectKeyIdentifier?: string;
}

function readTbs(certDer: Buffer): TbsParts {
  const cert = fromDer(certDer.toString('binary'), { decodeBitStrings: false });
  const fields = children(children(cert)[0]);
  const hasVersion = fields[0].tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && (fields[0].type as number) === 0;
  const at = hasVersion ? 1 : 0;
  const subject = fields[at + 4];
  const spki = fields[at + 5];
  let subjectKeyIdentifier: string | undefined;
  const extensions = fields.find((f) => f.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && (f.type as number) === 3);
  for (const ext of extensions ? children(children(extensions)[0]) : []) {
    const parts = children(ext);
    if (forge.asn1.derToOid(parts[0].value as string) !== SUBJECT_KEY_IDENTIFIER_OID) continue;
    const octets = parts[parts.length - 1].value as string;
    subjectKeyIdentifier = fromDer(octets, {}).value as string;
  }
  return { subject, spki, subjectKeyIdentifier };
}

function keyIdentifierOfSpkiAsn1(spki: Asn1): Buffer {
  const bits = children(spki)[1].value as string;
  return crypto
    .createHash('sha1')
    .update(Buffer.from(bits.slice(1), 'binary'))
    .digest();
}

function children(node: Asn1): Asn1[] {
  if (!Array.isArray(node.value)) throw new Error('malformed certificate: expected an ASN.1 SEQUENCE');
  return node.value;
}
