import * as crypto from 'node:crypto';

/** Smallest RSA modulus meshgen accepts; Istio's tools/certs use 4096, Go rejects keys below 1024. */
export const MIN_RSA_KEY_BITS = 2048;

/** Default RSA modulus, as `ROOTCA_KEYSZ` / `INTERMEDIATE_KEYSZ` in Istio's tools/certs/common.mk. */
export const DEFAULT_RSA_KEY_BITS = 4096;

/** An RSA key pair in PEM form. */
export interface RsaKeyPair {
  /** PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`), as OpenSSL 3's `openssl genrsa` writes it. */
  readonly privateKeyPem: string;
  /** SubjectPublicKeyInfo public key (`-----BEGIN PUBLIC KEY-----`). */
  readonly publicKeyPem: string;
}

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
