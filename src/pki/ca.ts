import * as crypto from 'node:crypto';
import { type Problem, show } from '../errors';
import { assertDays, type CertificateExtension, issueCertificate } from './certificate';
import {
  assertKeyAlgorithm,
  assertKeySize,
  DEFAULT_KEY_ALGORITHM,
  DEFAULT_RSA_KEY_BITS,
  describeKey,
  generateKey,
  type KeyAlgorithm,
  keyAlgorithmOf,
} from './keys';

/** Default validity of the root and intermediate CAs, as `ROOTCA_DAYS` / `INTERMEDIATE_DAYS` in Istio's common.mk. */
export const DEFAULT_CA_DAYS = 3650;

/** DNS SAN of every intermediate, as `INTERMEDIATE_SAN_DNS` in Istio's common.mk. */
export const INTERMEDIATE_SAN_DNS = 'istiod.istio-system.svc';

/** `keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign` (root and intermediate). */
const CA_KEY_USAGE: CertificateExtension = {
  name: 'keyUsage',
  critical: true,
  digitalSignature: true,
  nonRepudiation: true,
  keyEncipherment: true,
  keyCertSign: true,
};

/**
 * The keyUsage of an ECDSA CA: common.mk's set without keyEncipherment, which an EC key cannot do (it encrypts
 * nothing) and which RFC 5480 §3 does not allow with id-ecPublicKey: `critical, digitalSignature, nonRepudiation,
 * keyCertSign`. Like common.mk's set it has no cRLSign (meshgen issues no CRL).
 */
const EC_CA_KEY_USAGE: CertificateExtension = {
  name: 'keyUsage',
  critical: true,
  digitalSignature: true,
  nonRepudiation: true,
  keyCertSign: true,
};

/** The keyUsage extension of a CA certificate for a key of this algorithm. */
export function caKeyUsage(algorithm: KeyAlgorithm): CertificateExtension {
  return algorithm === 'rsa-4096' ? CA_KEY_USAGE : EC_CA_KEY_USAGE;
}

/** A root CA: its certificate (public, committed) and key (private, git-ignored). */
export interface RootCaFiles {
  /** `certs/root-cert.pem`. */
  readonly certPem: string;
  /** `certs/root-key.pem` (PKCS#8). */
  readonly keyPem: string;
}

/** The four files Istio's `cacerts` Secret holds for one cluster. */
export interface IntermediateCaFiles {
  /** `ca-cert.pem`: the intermediate CA certificate istiod signs workload certificates with. */
  readonly caCertPem: string;
  /** `ca-key.pem`: the intermediate's private key (PKCS#8). */
  readonly caKeyPem: string;
  /** `cert-chain.pem`: intermediate then root, as `cat ca-cert.pem root-cert.pem`. */
  readonly certChainPem: string;
  /** `root-cert.pem`: a copy of the mesh's root certificate. */
  readonly rootCertPem: string;
}

/** Options of {@link createRootCa}. */
export interface RootCaOptions {
  /** Organisation, the subject's `O` (`ROOTCA_ORG`). */
  readonly org: string;
  /**
   * Algorithm of the new key (see {@link KEY_ALGORITHMS}).
   * @default 'rsa-4096'
   */
  readonly keyAlgorithm?: KeyAlgorithm;
  /**
   * RSA modulus size in bits (`rsa-4096` only; ignored for ECDSA keys).
   * @default 4096
   */
  readonly keySize?: number;
  /**
   * Validity in days.
   * @default 3650
   */
  readonly days?: number;
  /**
   * Start of validity.
   * @default - the current time
   */
  readonly now?: Date;
}

/** Options of {@link createIntermediateCa}. */
export interface IntermediateCaOptions extends RootCaOptions {
  /** The cluster name; becomes the subject's `L`, as the directory name does in common.mk. */
  readonly cluster: string;
  /** The root CA that signs the intermediate. */
  readonly root: RootCaFiles;
}

/**
 * Creates a self-signed root CA exactly as Istio's `make -f tools/certs/Makefile.selfsigned.mk root-ca` does.
 *
 * Subject `O=<org>, CN=Root CA`; SHA-256; extensions subjectKeyIdentifier (hash), basicConstraints critical CA:true,
 * keyUsage critical digitalSignature, nonRepudiation, keyEncipherment, keyCertSign. The key comes from Node's native
 * keygen: RSA by default, or ECDSA with `keyAlgorithm` (then self-signed ecdsa-with-SHA256/384, and keyUsage without
 * keyEncipherment, see {@link caKeyUsage}).
 *
 * @see https://github.com/istio/istio/blob/master/tools/certs/common.mk
 */
export async function createRootCa(opts: RootCaOptions): Promise<RootCaFiles> {
  assertOptions(opts);
  const algorithm = opts.keyAlgorithm ?? DEFAULT_KEY_ALGORITHM;
  const key = await generateKey(algorithm, opts.keySize ?? DEFAULT_RSA_KEY_BITS);
  const certPem = issueCertificate(
    {
      subject: [
        { shortName: 'O', value: opts.org },
        { shortName: 'CN', value: 'Root CA' },
      ],
      publicKeyPem: key.publicKeyPem,
      extensions: [{ name: 'subjectKeyIdentifier' }, { name: 'basicConstraints', critical: true, cA: true }, caKeyUsage(algorithm)],
      days: opts.days ?? DEFAULT_CA_DAYS,
      now: opts.now,
    },
    { keyPem: key.privateKeyPem },
  );
  return { certPem, keyPem: key.privateKeyPem };
}

/**
 * Creates a cluster's intermediate CA signed by the root, exactly as Istio's `make -f ... <cluster>-cacerts` does.
 *
 * Subject `O=<org>, CN=Intermediate CA, L=<cluster>` (OpenSSL's `[req_dn]` order); issuer = the root's subject;
 * extensions subjectKeyIdentifier, basicConstraints critical CA:true pathlen:0, keyUsage critical digitalSignature,
 * nonRepudiation, keyEncipherment, keyCertSign, subjectAltName `DNS:istiod.istio-system.svc`, and
 * authorityKeyIdentifier = the root's subject key identifier. Returns the four `cacerts` files. The intermediate's key
 * is of `keyAlgorithm` whatever the root's is; the signature is the root's ({@link signatureAlgorithmFor}).
 *
 * @see https://istio.io/latest/docs/tasks/security/cert-management/plugin-ca-cert/
 */
export async function createIntermediateCa(opts: IntermediateCaOptions): Promise<IntermediateCaFiles> {
  assertOptions(opts);
  if (opts.cluster.length === 0) throw new Error('cluster name is empty; pass the cluster name that becomes the subject L');
  const algorithm = opts.keyAlgorithm ?? DEFAULT_KEY_ALGORITHM;
  const key = await generateKey(algorithm, opts.keySize ?? DEFAULT_RSA_KEY_BITS);
  const caCertPem = issueCertificate(
    {
      subject: [
        { shortName: 'O', value: opts.org },
        { shortName: 'CN', value: 'Intermediate CA' },
        { shortName: 'L', value: opts.cluster },
      ],
      publicKeyPem: key.publicKeyPem,
      extensions: [
        { name: 'subjectKeyIdentifier' },
        { name: 'basicConstraints', critical: true, cA: true, pathLenConstraint: 0 },
        caKeyUsage(algorithm),
        { name: 'subjectAltName', dnsNames: [INTERMEDIATE_SAN_DNS] },
        { name: 'authorityKeyIdentifier' },
      ],
      days: opts.days ?? DEFAULT_CA_DAYS,
      now: opts.now,
    },
    { keyPem: opts.root.keyPem, certPem: opts.root.certPem },
  );
  const rootCertPem = withTrailingNewline(opts.root.certPem);
  return { caCertPem, caKeyPem: key.privateKeyPem, certChainPem: caCertPem + rootCertPem, rootCertPem };
}

/** Where an intermediate's files live, for naming them in problems. */
export interface IntermediateLocation {
  /** The cluster name. */
  readonly cluster: string;
  /** The cluster's directory relative to the work directory, e.g. `certs/cluster-east-1`. */
  readonly dir: string;
  /**
   * The file the root certificate was read from.
   * @default 'certs/root-cert.pem'
   */
  readonly rootFile?: string;
}

/**
 * Checks an intermediate CA the way istiod will: it parses, it is a CA, it is signed by the root, and its key matches.
 *
 * `rootCertPem` may hold several roots (istiod's `root-cert.pem` "may contain multiple roots"): during a root rotation
 * it is the trust bundle, and the intermediate must be signed by one of them.
 *
 * Never throws on bad input: a truncated or garbage PEM, a non-CA certificate, an intermediate of another root or a
 * key of another certificate each give a {@link Problem} naming the file, what is wrong and how to fix it.
 * Expiry is not checked here (see {@link certificateInfo}).
 *
 * @param files the intermediate certificate, optionally its key, and the root certificate(s) it must chain to.
 * @param where names of the files, for the problems.
 * @returns the problems found; empty when the intermediate is usable.
 */
export function verifyIntermediate(
  files: { readonly caCertPem: string; readonly caKeyPem?: string; readonly rootCertPem: string },
  where: IntermediateLocation,
): Problem[] {
  const certFile = `${where.dir}/ca-cert.pem`;
  const keyFile = `${where.dir}/ca-key.pem`;
  const rootFile = where.rootFile ?? 'certs/root-cert.pem';
  const reissue = `delete ${where.dir}/ and run synth with the root key present to issue a new intermediate`;
  const problems: Problem[] = [];

  const roots = parseRoots(files.rootCertPem);
  if (roots instanceof Error) {
    problems.push({
      file: rootFile,
      message: `is not a valid PEM certificate (${roots.message})`,
      fix: `restore ${rootFile} from git, or run "meshgen prep --force" to create a new root (every intermediate must then be reissued)`,
    });
  }
  const cert = parseCertificate(files.caCertPem);
  if (cert instanceof Error) {
    problems.push({ file: certFile, message: `is not a valid PEM certificate (${cert.message})`, fix: `restore it from git, or ${reissue}` });
  } else {
    if (!cert.ca) {
      problems.push({
        file: certFile,
        message: `certificate "${oneLine(cert.subject)}" is not a CA (basicConstraints CA:TRUE is missing), so istiod cannot sign with it`,
        fix: reissue,
      });
    }
    if (!(roots instanceof Error) && !roots.some((root) => isSignedBy(cert, root))) {
      const by =
        roots.length === 1
          ? `the root CA "${oneLine(roots[0].subject)}" of ${rootFile}`
          : `any of the ${roots.length} root CAs of ${rootFile} (${[...new Set(roots.map((r) => `"${oneLine(r.subject)}"`))].join(', ')})`;
      problems.push({
        file: certFile,
        message: `certificate "${oneLine(cert.subject)}" (issuer "${oneLine(cert.issuer)}") was not signed by ${by}`,
        fix: `${reissue}, or restore the ${rootFile} it was issued by`,
      });
    }
  }
  if (files.caKeyPem !== undefined) {
    let key: crypto.KeyObject | undefined;
    try {
      key = crypto.createPrivateKey(files.caKeyPem);
    } catch (e) {
      problems.push({ file: keyFile, message: `is not a valid PEM private key (${errorMessage(e)})`, fix: `restore it, or ${reissue}` });
    }
    if (key && !(cert instanceof Error) && !keyMatches(cert, key)) {
      problems.push({
        file: keyFile,
        message: `does not match the certificate in ${certFile} (the public keys differ)`,
        fix: `restore the key that belongs to ${certFile}, or ${reissue}`,
      });
    }
  }
  return problems;
}

/**
 * Which of `roots` signed `caCertPem`.
 *
 * @param caCertPem an intermediate certificate.
 * @param roots candidate root certificates (PEM, one each).
 * @returns the index in `roots` of the first one that issued and signed it, or -1 (also when a text does not parse).
 */
export function issuingRootIndex(caCertPem: string, roots: readonly string[]): number {
  const cert = parseCertificate(caCertPem);
  if (cert instanceof Error) return -1;
  return roots.findIndex((pem) => {
    const root = parseCertificate(pem);
    return !(root instanceof Error) && isSignedBy(cert, root);
  });
}

/** Facts about a certificate, for `validate` and progress output. */
export interface CertificateInfo {
  /** Subject, one line, e.g. `O=example.com, CN=Intermediate CA, L=cluster-east-1`. */
  readonly subject: string;
  /** Issuer, one line. */
  readonly issuer: string;
  /** Serial number, upper-case hex. */
  readonly serialNumber: string;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** SHA-256 fingerprint, colon-separated upper-case hex as OpenSSL prints it. */
  readonly fingerprint256: string;
  /** Whether basicConstraints says CA:TRUE. */
  readonly isCA: boolean;
  /** Key algorithm, e.g. `rsa`, `ec`. */
  readonly keyType: string;
  /** Modulus size for RSA keys. */
  readonly keyBits?: number;
  /** The key as meshgen names its algorithms (`rsa-4096` for any RSA size); undefined for keys meshgen does not make. */
  readonly keyAlgorithm?: KeyAlgorithm;
  /** The key in words, e.g. `RSA 4096`, `ECDSA P-256`. */
  readonly keyDescription: string;
}

/**
 * Describes the first certificate of a PEM text.
 *
 * @param pem a PEM certificate.
 * @throws Error when the text is not a valid certificate.
 */
export function certificateInfo(pem: string): CertificateInfo {
  const x = new crypto.X509Certificate(pem);
  const details = x.publicKey.asymmetricKeyDetails;
  return {
    subject: oneLine(x.subject),
    issuer: oneLine(x.issuer),
    serialNumber: x.serialNumber,
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    fingerprint256: x.fingerprint256,
    isCA: x.ca,
    keyType: x.publicKey.asymmetricKeyType ?? 'unknown',
    keyBits: details?.modulusLength,
    keyAlgorithm: keyAlgorithmOf(x.publicKey),
    keyDescription: describeKey(x.publicKey),
  };
}

/**
 * Parses a PEM certificate, returning the error instead of throwing it.
 *
 * @param pem the text of a PEM file.
 */
export function parseCertificate(pem: string): crypto.X509Certificate | Error {
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) return new Error('no "-----BEGIN CERTIFICATE-----" line');
  if (!/-----END CERTIFICATE-----/.test(pem)) return new Error('no "-----END CERTIFICATE-----" line: the file is truncated');
  try {
    return new crypto.X509Certificate(pem);
  } catch (e) {
    return new Error(errorMessage(e));
  }
}

/**
 * Whether `key` is the private key of `cert`.
 *
 * @param cert a parsed certificate.
 * @param key a private key.
 */
export function keyMatches(cert: crypto.X509Certificate, key: crypto.KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

function isSignedBy(cert: crypto.X509Certificate, issuer: crypto.X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Every certificate of a PEM text that may hold several (a root bundle); an Error when there is none or one is broken. */
function parseRoots(pem: string): crypto.X509Certificate[] | Error {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  // One certificate or none: the messages of parseCertificate (missing BEGIN/END lines, truncation).
  if (blocks.length <= 1) {
    const one = parseCertificate(pem);
    return one instanceof Error ? one : [one];
  }
  const certs: crypto.X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    const c = parseCertificate(block);
    if (c instanceof Error) return new Error(`certificate ${i + 1} of ${blocks.length}: ${c.message}`);
    certs.push(c);
  }
  return certs;
}

function assertOptions(opts: RootCaOptions): void {
  if (typeof opts.org !== 'string' || opts.org.trim().length === 0) {
    throw new Error(`certificate organisation ${show(opts.org)} is empty; set "org" in topology.yaml or pass --org / ORG_NAME to prep`);
  }
  // Checked before the (slow) key generation, so a bad option fails at once.
  assertKeyAlgorithm(opts.keyAlgorithm ?? DEFAULT_KEY_ALGORITHM);
  assertKeySize(opts.keySize ?? DEFAULT_RSA_KEY_BITS);
  assertDays(opts.days ?? DEFAULT_CA_DAYS);
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

function withTrailingNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The O= of a certificate's subject, or undefined when there is none or the text does not parse. */
export function organisationOf(certPem: string | undefined): string | undefined {
  if (certPem === undefined) return undefined;
  const cert = parseCertificate(certPem);
  if (cert instanceof Error) return undefined;
  const o = cert.subject.split('\n').find((l) => l.startsWith('O='));
  return o ? o.slice(2) : undefined;
}
