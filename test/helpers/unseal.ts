/**
 * A test-only "Sealed Secrets controller": decrypts what meshgen sealed, written from the Go source of
 * bitnami-labs/sealed-secrets and deliberately independent of `src/secrets/kubeseal.ts`.
 *
 * - `HybridDecrypt` (`pkg/crypto/crypto.go`): `uint16_be(rsaLen) ‖ rsa ‖ aes`; `rsa.DecryptOAEP(sha256, …, label)`
 *   gives the session key; AES-GCM with a zero nonce and no additional data opens the rest (16-byte tag at the end).
 * - `(*SealedSecret).Unseal` (`pkg/apis/sealedsecrets/v1alpha1/sealedsecret_expansion.go`): the label comes from the
 *   SealedSecret's own metadata (`labelFor(smeta)`: strict `<namespace>/<name>` unless a scope annotation says
 *   otherwise); every `spec.encryptedData` value is decrypted into `secret.Data[key]` and the template input `data[key]`;
 *   then every `spec.template.data` entry is deleted (null) or rendered as a Go text/template over `data`, overwriting
 *   `secret.Data[key]`; the Secret's name and namespace are forced to the SealedSecret's.
 *
 * Only the template subset meshgen emits is supported: literal text, `{{ index . "key" }}` and `{{ .key }}` (with
 * optional `{{-` / `-}}` trim markers). Anything else throws, so a new template construct in meshgen needs a test here.
 */
import * as crypto from 'node:crypto';

/** The parts of a SealedSecret object (as parsed from YAML) that `Unseal()` reads. */
export interface SealedSecretObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: {
    readonly encryptedData?: Readonly<Record<string, string>>;
    readonly data?: unknown;
    readonly template?: {
      readonly type?: string;
      readonly immutable?: boolean;
      readonly metadata?: {
        readonly name?: string;
        readonly namespace?: string;
        readonly labels?: Readonly<Record<string, string>>;
        readonly annotations?: Readonly<Record<string, string>>;
      };
      readonly data?: Readonly<Record<string, string | null>>;
    };
  };
}

/**
 * How a controller resolves a `spec.template.data` key that is also an `spec.encryptedData` key:
 * - `template-wins`: up to v0.36.x, the rendered template overwrites the decrypted value (`Unseal()` writes
 *   `secret.Data[key]` for every encrypted key, then for every template key);
 * - `encrypted-wins`: since bitnami-labs/sealed-secrets PR #1940 (merged after v0.36.6), encrypted values take
 *   precedence in the output Secret.
 */
export type SealedSecretsBehaviour = 'template-wins' | 'encrypted-wins';

/** Both behaviours, for tests that must hold on every controller version. */
export const SEALED_SECRETS_BEHAVIOURS: readonly SealedSecretsBehaviour[] = ['template-wins', 'encrypted-wins'];

/** The Secret the controller would create from a SealedSecret. */
export interface UnsealedSecret {
  /** The SealedSecret's `metadata.name` (the controller overrides the template's). */
  readonly name: string;
  /** The SealedSecret's `metadata.namespace` (the controller overrides the template's). */
  readonly namespace: string;
  /** `spec.template.type`. */
  readonly type: string | undefined;
  /** `spec.template.metadata.labels`. */
  readonly labels: Readonly<Record<string, string>>;
  /** `spec.template.metadata.annotations`. */
  readonly annotations: Readonly<Record<string, string>>;
  /** Decrypted `encryptedData`, then rendered `template.data` on top. */
  readonly data: Record<string, Buffer>;
}

const CLUSTER_WIDE = 'sealedsecrets.bitnami.com/cluster-wide';
const NAMESPACE_WIDE = 'sealedsecrets.bitnami.com/namespace-wide';
const GCM_TAG_BYTES = 16;

/** `labelFor(o)`: cluster-wide wins over namespace-wide; strict (`ns/name`) otherwise. */
function labelFor(namespace: string, name: string, annotations: Readonly<Record<string, string>> | undefined): Buffer {
  if (annotations?.[CLUSTER_WIDE] === 'true') return Buffer.alloc(0);
  if (annotations?.[NAMESPACE_WIDE] === 'true') return Buffer.from(namespace, 'utf8');
  return Buffer.from(`${namespace}/${name}`, 'utf8');
}

/** Go `base64.StdEncoding.DecodeString`: standard alphabet, padding required (CR/LF ignored). */
function decodeStdBase64(s: string): Buffer {
  const t = s.replace(/[\r\n]/g, '');
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(t)) {
    throw new Error(`illegal base64 data (not standard padded base64): ${JSON.stringify(s.slice(0, 40))}`);
  }
  return Buffer.from(t, 'base64');
}

/** Session keys already decrypted, per private key (see hybridDecrypt). */
const sessionKeys = new WeakMap<crypto.KeyObject, Map<string, Buffer>>();
/** Private keys already parsed, by PEM. */
const privateKeys = new Map<string, crypto.KeyObject>();

/** The KeyObject of a PEM private key, parsed once. */
function privateKeyOf(pem: string): crypto.KeyObject {
  let key = privateKeys.get(pem);
  if (key === undefined) {
    key = crypto.createPrivateKey(pem);
    privateKeys.set(pem, key);
  }
  return key;
}

/** `HybridDecrypt` with one private key. */
function hybridDecrypt(privateKey: crypto.KeyObject, ciphertext: Buffer, label: Buffer): Buffer {
  if (ciphertext.length < 2) throw new Error('SealedSecret data is too short');
  const rsaLen = ciphertext.readUInt16BE(0);
  if (ciphertext.length < rsaLen + 2) throw new Error('SealedSecret data is too short');
  const rsaCiphertext = ciphertext.subarray(2, rsaLen + 2);
  const aesCiphertext = ciphertext.subarray(rsaLen + 2);

  // The RSA step is the expensive one, and the rollout model unseals the same objects again and again (each behaviour,
  // each rollout): its result is remembered per key, label and ciphertext (failures are not).
  const memo = sessionKeys.get(privateKey) ?? new Map<string, Buffer>();
  sessionKeys.set(privateKey, memo);
  const memoKey = `${label.toString('base64')}:${rsaCiphertext.toString('base64')}`;
  let sessionKey = memo.get(memoKey);
  if (sessionKey === undefined) {
    try {
      sessionKey = crypto.privateDecrypt(
        { key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label },
        rsaCiphertext,
      );
    } catch (e) {
      throw new Error(`crypto/rsa: decryption error (label ${JSON.stringify(label.toString('utf8'))}): ${(e as Error).message}`);
    }
    memo.set(memoKey, sessionKey);
  }
  if (![16, 24, 32].includes(sessionKey.length)) throw new Error(`crypto/aes: invalid key size ${sessionKey.length}`);
  if (aesCiphertext.length < GCM_TAG_BYTES) throw new Error('cipher: message authentication failed (no GCM tag)');

  const body = aesCiphertext.subarray(0, aesCiphertext.length - GCM_TAG_BYTES);
  const tag = aesCiphertext.subarray(aesCiphertext.length - GCM_TAG_BYTES);
  const decipher = crypto.createDecipheriv(`aes-${sessionKey.length * 8}-gcm` as crypto.CipherGCMTypes, sessionKey, Buffer.alloc(12), {
    authTagLength: GCM_TAG_BYTES,
  });
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new Error('cipher: message authentication failed');
  }
}

/**
 * Decrypts one `spec.encryptedData` value sealed with the strict scope for `<namespace>/<name>`.
 *
 * @param privateKeyPem the controller's private key (`tls.key`, PKCS#1 or PKCS#8 PEM)
 * @param namespace the SealedSecret's namespace (part of the OAEP label)
 * @param name the SealedSecret's name (part of the OAEP label)
 * @param b64 the standard base64 ciphertext
 */
export function unsealValue(privateKeyPem: string, namespace: string, name: string, b64: string): Buffer {
  return hybridDecrypt(privateKeyOf(privateKeyPem), decodeStdBase64(b64), labelFor(namespace, name, undefined));
}

/**
 * Reproduces the controller's `Unseal()` on a SealedSecret object: decrypts `spec.encryptedData` with the label of the
 * SealedSecret's own metadata, then renders `spec.template.data` over the decrypted values (template keys win).
 * Collects every per-key failure and throws them together, like the controller.
 *
 * @param privateKeyPem the controller's private key
 * @param sealedSecret the SealedSecret as parsed from YAML
 */
export function unsealSealedSecret(
  privateKeyPem: string,
  sealedSecret: SealedSecretObject,
  behaviour: SealedSecretsBehaviour = 'template-wins',
): UnsealedSecret {
  const key = privateKeyOf(privateKeyPem);
  const meta = sealedSecret.metadata;
  const spec = sealedSecret.spec;
  if (sealedSecret.kind !== undefined && sealedSecret.kind !== 'SealedSecret') throw new Error(`not a SealedSecret: kind ${sealedSecret.kind}`);
  if (spec.data !== undefined && spec.data !== null) {
    throw new Error("using deprecated 'data' field, use 'encryptedData' or flip the feature flag");
  }
  const label = labelFor(meta.namespace, meta.name, meta.annotations);

  const secretData: Record<string, Buffer> = {};
  const templateInput = new Map<string, Buffer>();
  const errors: string[] = [];

  for (const [k, value] of Object.entries(spec.encryptedData ?? {})) {
    let plaintext: Buffer;
    try {
      plaintext = hybridDecrypt(key, decodeStdBase64(value), label);
    } catch (e) {
      errors.push(`${k}: ${(e as Error).message}`);
      continue;
    }
    secretData[k] = plaintext;
    templateInput.set(k, plaintext);
  }

  for (const [k, value] of Object.entries(spec.template?.data ?? {})) {
    // Newer controllers (bitnami-labs/sealed-secrets PR #1940): a decrypted key is not overwritten by the template.
    if (behaviour === 'encrypted-wins' && Object.hasOwn(spec.encryptedData ?? {}, k)) continue;
    if (value === null) {
      delete secretData[k];
      continue;
    }
    try {
      secretData[k] = renderTemplate(k, value, templateInput);
    } catch (e) {
      errors.push(`${k}: ${(e as Error).message}`);
    }
  }

  if (errors.length > 0) throw new Error(`cannot unseal ${meta.namespace}/${meta.name}:\n  ${errors.join('\n  ')}`);

  return {
    name: meta.name,
    namespace: meta.namespace,
    type: spec.template?.type,
    labels: { ...(spec.template?.metadata?.labels ?? {}) },
    annotations: { ...(spec.template?.metadata?.annotations ?? {}) },
    data: secretData,
  };
}

const TRIM_SPACE = /[ \t\r\n]/;
const IDENTIFIER = /^[\p{L}_][\p{L}\p{Nd}_]*$/u;

/**
 * Executes the supported subset of a Go text/template over a `map[string]string`, returning the bytes it writes.
 * Values are inserted as raw bytes (Go's `string(plaintext)` keeps them), literal text as UTF-8.
 */
function renderTemplate(templateName: string, source: string, input: ReadonlyMap<string, Buffer>): Buffer {
  const out: Buffer[] = [];
  let text = '';
  let pos = 0;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    if (open < 0) {
      text += source.slice(pos);
      break;
    }
    text += source.slice(pos, open);
    let inner = open + 2;
    // `{{- ` trims the whitespace before the action (the `-` must be followed by a space, tab, CR or LF).
    if (source[inner] === '-' && TRIM_SPACE.test(source[inner + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      inner += 1;
    }
    const close = source.indexOf('}}', inner);
    if (close < 0) throw new Error(`template: ${templateName}: unclosed action`);
    let end = close;
    let trimAfter = false;
    if (source[close - 1] === '-' && close - 2 >= inner && TRIM_SPACE.test(source[close - 2])) {
      trimAfter = true;
      end = close - 1;
    }
    out.push(Buffer.from(text, 'utf8'));
    text = '';
    out.push(evalAction(templateName, source.slice(inner, end).trim(), input));
    pos = close + 2;
    if (trimAfter) while (pos < source.length && TRIM_SPACE.test(source[pos])) pos++;
  }
  out.push(Buffer.from(text, 'utf8'));
  return Buffer.concat(out);
}

function evalAction(templateName: string, action: string, input: ReadonlyMap<string, Buffer>): Buffer {
  // `{{ .key }}`: a missing map key prints "<no value>" (missingkey=default on a map).
  if (action.startsWith('.') && IDENTIFIER.test(action.slice(1))) {
    return input.get(action.slice(1)) ?? Buffer.from('<no value>', 'utf8');
  }
  // `{{ index . "key" }}`: a missing key gives the map's zero value, the empty string.
  const m = /^index\s+\.\s+("(?:[^"\\]|\\.)*"|`[^`]*`)$/.exec(action);
  if (m) {
    const k = m[1].startsWith('`') ? m[1].slice(1, -1) : parseGoQuoted(templateName, m[1]);
    return input.get(k) ?? Buffer.alloc(0);
  }
  throw new Error(
    `template: ${templateName}: unsupported action {{ ${action} }}; this test controller knows only ` +
      '{{ .key }} and {{ index . "key" }} (extend test/helpers/unseal.ts if meshgen now emits more)',
  );
}

function parseGoQuoted(templateName: string, quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    throw new Error(`template: ${templateName}: unsupported string literal ${quoted}`);
  }
}
