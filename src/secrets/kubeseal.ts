import * as crypto from 'node:crypto';
import type { SealingCert } from './sealing-cert';

/** Bytes of the random AES-256 session key (`sessionKeyBytes` in sealed-secrets `pkg/crypto/crypto.go`). */
const SESSION_KEY_BYTES = 32;
/** AES-GCM standard nonce size; always zero, which is safe because every session key is used once. */
const ZERO_NONCE = Buffer.alloc(12);

/**
 * The RSA-OAEP label of a strict-scope SealedSecret: `<namespace>/<name>`.
 *
 * Same bytes as `EncryptionLabel(namespace, name, StrictScope)` in sealed-secrets
 * `pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go` (`fmt.Sprintf("%s/%s", namespace, name)`). The controller
 * decrypts with the label built from the SealedSecret's own `metadata.namespace` and `metadata.name`, so a value sealed
 * for one name cannot be unsealed under another.
 */
export function sealingLabel(namespace: string, name: string): Buffer {
  return Buffer.from(`${namespace}/${name}`, 'utf8');
}

/**
 * Seals one Secret value for a strict-scope SealedSecret, exactly as `kubeseal --cert` does.
 *
 * This is sealed-secrets' `HybridEncrypt`: a random 32-byte session key is wrapped with RSA-OAEP (SHA-256 for the OAEP
 * hash and MGF1, label {@link sealingLabel}), the value is encrypted with AES-256-GCM under that key with a 12-byte zero
 * nonce and no additional data, and the result is `uint16_be(len(rsa)) ‖ rsa ‖ gcm ciphertext ‖ 16-byte tag`, in
 * standard padded base64 (the form of `spec.encryptedData.<key>`). The output differs on every call (random session key
 * and OAEP seed); reuse committed ciphertext to avoid churn.
 *
 * @param cert a certificate from `loadSealingCert` (parsed and expiry-checked once, reused for every value)
 * @param namespace the SealedSecret's `metadata.namespace`
 * @param name the SealedSecret's `metadata.name`
 * @param plaintext the value; a string is encoded as UTF-8
 */
export function sealValue(cert: SealingCert, namespace: string, name: string, plaintext: Buffer | string): string {
  if (!namespace || !name) {
    throw new Error(
      `sealValue: namespace ${JSON.stringify(namespace)} and name ${JSON.stringify(name)} must both be set for a strict-scope ` +
        'SealedSecret; pass metadata.namespace and metadata.name of the SealedSecret',
    );
  }
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const sessionKey = crypto.randomBytes(SESSION_KEY_BYTES);

  const rsaCiphertext = crypto.publicEncrypt(
    {
      key: cert.publicKey,
      padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
      oaepLabel: sealingLabel(namespace, name),
    },
    sessionKey,
  );

  const cipher = crypto.createCipheriv('aes-256-gcm', sessionKey, ZERO_NONCE);
  const body = Buffer.concat([cipher.update(data), cipher.final()]);
  const tag = cipher.getAuthTag();

  const prefix = Buffer.allocUnsafe(2);
  prefix.writeUInt16BE(rsaCiphertext.length, 0);
  return Buffer.concat([prefix, rsaCiphertext, body, tag]).toString('base64');
}
