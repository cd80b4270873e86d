import * as crypto from 'node:crypto';

/** Smallest RSA modulus meshgen accepts; Istio's tools/certs use 4096, Go rejects keys below 1024. */
export const MIN_RSA_KEY_BITS = 2048;

/** Default RSA modulus, as `ROOTCA_KEYSZ` / `INTERMEDIATE_KEYSZ` in Istio's tools/certs/common.mk. */
export const DEFAULT_RSA_KEY_BITS = 4096;

/**
 * The key algorithms of new CA keys (`pki.keyAlgorithm` in topology.yaml, `meshgen prep --key-algorithm`):
 * - `rsa-4096`: RSA as Istio's tools/certs/common.mk (`--key-size` / `--ca-key-size` bits, default 4096),
 *   certificates signed sha256WithRSAEncryption;
 * - `ecdsa-p256`: ECDSA on NIST P-256 (prime256v1), certificates it signs use ecdsa-with-SHA256;
 * - `ecdsa-p384`: ECDSA on NIST P-384 (secp384r1), certificates it signs use ecdsa-with-SHA384.
 *
 * istiod reads every one of them from `cacerts` (`security/pkg/pki/util/crypto.go`, `ParsePemEncodedKey`: PKCS#8
 * `PRIVATE KEY` blocks go through Go's `x509.ParsePKCS8PrivateKey`, which returns RSA and ECDSA keys alike).
 */
export const KEY_ALGORITHMS = ['rsa-4096', 'ecdsa-p256', 'ecdsa-p384'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** The default key algorithm: RSA, as Istio's common.mk. */
export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'rsa-4096';

/** OpenSSL's names of the curves of {@link KEY_ALGORITHMS}, as Node reports them in `asymmetricKeyDetails.namedCurve`. */
const CURVES: Record<Exclude<KeyAlgorithm, 'rsa-4096'>, string> = { 'ecdsa-p256': 'prime256v1', 'ecdsa-p384': 'secp384r1' };

/** A key pair in PEM form. */
export interface KeyPair {
  /** PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`), as OpenSSL 3's `openssl genrsa` / `genpkey` write it. */
  readonly privateKeyPem: string;
  /** SubjectPublicKeyInfo public key (`-----BEGIN PUBLIC KEY-----`). */
  readonly publicKeyPem: string;
}

/** An RSA key pair in PEM form. */
export type RsaKeyPair = KeyPair;

/**
 * Generates an RSA key pair with Node's native crypto (OpenSSL), off the main thread.
 *
 * Equivalent of `openssl genrsa <bits>` (public exponent 65537). Calls run in parallel on libuv's thread pool,
 * so `Promise.all` over many keys uses every core; node-forge's pure-JavaScript keygen (~25 s per 4096-bit key)
 * is never used.
 *
 * @param bits modulus size in bits; an integer of at least 2048.
 */
export function generateRsaKey(bits: number = DEFAULT_RSA_KEY_BITS): Promise<RsaKeyPair> {
  return new Promise((resolve, reject) => {
    assertKeySize(bits); // throwing inside the executor rejects the promise
    crypto.generateKeyPair(
      'rsa',
      {
        modulusLength: bits,
        publicExponent: 0x10001,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (err, publicKeyPem, privateKeyPem) => {
        if (err) reject(err);
        else resolve({ privateKeyPem, publicKeyPem });
      },
    );
  });
}

/**
 * Generates a CA key pair of the given algorithm with Node's native crypto (OpenSSL), off the main thread.
 *
 * ECDSA keys are PKCS#8 with a named curve (as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`
 * writes them), which Go's `x509.ParsePKCS8PrivateKey` and so istiod read; a P-256 key takes well under a millisecond,
 * an RSA-4096 key about half a second of one core.
 *
 * @param algorithm one of {@link KEY_ALGORITHMS}.
 * @param rsaBits modulus size for `rsa-4096` (a size other than 4096 is what `--key-size` asks for); ignored for ECDSA.
 */
export function generateKey(algorithm: KeyAlgorithm = DEFAULT_KEY_ALGORITHM, rsaBits: number = DEFAULT_RSA_KEY_BITS): Promise<KeyPair> {
  if (algorithm === 'rsa-4096') return generateRsaKey(rsaBits);
  return new Promise((resolve, reject) => {
    assertKeyAlgorithm(algorithm);
    crypto.generateKeyPair(
      'ec',
      {
        namedCurve: CURVES[algorithm],
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (err, publicKeyPem, privateKeyPem) => {
        if (err) reject(err);
        else resolve({ privateKeyPem, publicKeyPem });
      },
    );
  });
}

/**
 * Throws when `algorithm` is not one of {@link KEY_ALGORITHMS}.
 *
 * @param algorithm the requested key algorithm.
 */
export function assertKeyAlgorithm(algorithm: string): asserts algorithm is KeyAlgorithm {
  if (!(KEY_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new Error(`key algorithm ${JSON.stringify(algorithm)} is not supported; use one of ${KEY_ALGORITHMS.join(', ')} (default rsa-4096)`);
  }
}

/**
 * The key algorithm of a key (public or private), as meshgen names it, or undefined when meshgen cannot sign with it
 * (RSA of any size counts as `rsa-4096`, the RSA family; EC keys count only on P-256 and P-384).
 *
 * @param key a key object.
 */
export function keyAlgorithmOf(key: crypto.KeyObject): KeyAlgorithm | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'rsa-4096';
  if (key.asymmetricKeyType !== 'ec') return undefined;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return (Object.keys(CURVES) as (keyof typeof CURVES)[]).find((a) => CURVES[a] === curve);
}

/**
 * A short human description of a key: `RSA 4096`, `ECDSA P-256`, or e.g. `ed25519` / `EC secp521r1` for keys meshgen
 * does not sign with.
 *
 * @param key a key object.
 */
export function describeKey(key: crypto.KeyObject): string {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d?.modulusLength ?? ''}`.trim();
  const alg = keyAlgorithmOf(key);
  if (alg === 'ecdsa-p256') return 'ECDSA P-256';
  if (alg === 'ecdsa-p384') return 'ECDSA P-384';
  if (key.asymmetricKeyType === 'ec') return `EC ${d?.namedCurve ?? 'unknown curve'}`;
  return String(key.asymmetricKeyType);
}

/**
 * Throws when `bits` is not a usable RSA key size.
 *
 * @param bits the requested modulus size.
 */
export function assertKeySize(bits: number): void {
  if (!Number.isInteger(bits) || bits < MIN_RSA_KEY_BITS || bits > 16384) {
    throw new Error(`RSA key size ${JSON.stringify(bits)} is not supported; use an integer from ${MIN_RSA_KEY_BITS} to 16384 (default 4096)`);
  }
}

/**
 * Derives the SPKI public key PEM of a private key PEM.
 *
 * @param privateKeyPem a PKCS#1 or PKCS#8 private key.
 */
export function publicKeyPemOf(privateKeyPem: string): string {
  return crypto.createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
}
