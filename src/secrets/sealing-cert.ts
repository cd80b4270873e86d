import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { InputError, type Problem, show } from '../errors';

/** RSA keys shorter than this are refused (NIST SP 800-131A; Sealed Secrets' own keys are 4096 bits). */
export const MIN_RSA_BITS = 2048;

/**
 * A Sealed Secrets controller certificate, parsed and checked once, ready to seal many values.
 */
export interface SealingCert {
  /** The PEM of the certificate that was used (the first `CERTIFICATE` block of the file). */
  readonly pem: string;
  /** The controller's RSA public key. */
  readonly publicKey: crypto.KeyObject;
  /** `sha256:` followed by the lowercase hex SHA-256 of the certificate's DER. */
  readonly fingerprint: string;
  /** The certificate's NotAfter; sealing with it is refused after this instant. */
  readonly notAfter: Date;
}

/** Where a sealing certificate came from, for error messages. */
export interface SealingCertSource {
  /** Path of the certificate file, relative to the work directory where possible. */
  readonly file: string;
  /** Dotted YAML path of the setting that named the file (e.g. `contexts.context-east-1.sealingCert`). */
  readonly path?: string;
  /** 1-based line of that setting, when known. */
  readonly line?: number;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Parses a Sealed Secrets controller certificate (the output of `kubeseal --fetch-cert`) the way `kubeseal --cert` does.
 *
 * Like kubeseal's `ParseKey`, only the first `CERTIFICATE` block is used, its key must be RSA, and a certificate whose
 * NotAfter has passed is refused ("failed to encrypt using an expired certificate"); one that is not valid yet is
 * accepted. Throws an `InputError` with one problem naming `where.file`, the value found and how to fix it.
 *
 * @param pem the file's content
 * @param where the file (and the topology setting that named it), for error messages
 * @param now the current time, for the expiry check
 */
export function loadSealingCert(pem: string, where: SealingCertSource, now: Date = new Date()): SealingCert {
  const fix = sealingCertFix(where.file);
  function fail(message: string, fixText: string = fix): never {
    const problem: Problem = { file: where.file, path: where.path, line: where.line, message, fix: fixText };
    throw new InputError(problem);
  }

  const block = CERT_BLOCK.exec(pem);
  if (!block) {
    if (pem.includes('-----BEGIN CERTIFICATE-----')) {
      fail('the sealing certificate is truncated: "-----BEGIN CERTIFICATE-----" has no matching "-----END CERTIFICATE-----"');
    }
    const found = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem);
    if (found) {
      fail(`the sealing certificate file holds a "${found[1]}" PEM block, not a "CERTIFICATE"; kubeseal --cert needs the controller's certificate`);
    }
    // The content is not quoted: the file may be anything (a path outside the work directory, a key, /etc/passwd).
    const what = pem.trim() === '' ? 'the file is empty' : /^\s*</.test(pem) ? 'it looks like HTML (an error page?)' : 'it holds no PEM block';
    fail(`the sealing certificate is not a PEM certificate: ${what}`);
  }
  const certPem = block[0];

  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(certPem);
  } catch (e) {
    fail(`the sealing certificate could not be parsed (truncated or corrupt PEM): ${(e as Error).message}`);
  }

  const keyType = x509.publicKey.asymmetricKeyType;
  if (keyType !== 'rsa') {
    fail(
      `the sealing certificate has a ${show(keyType)} public key, but Sealed Secrets encrypts with RSA-OAEP ` +
        `(kubeseal: "expected RSA public key"); subject ${show(x509.subject.replace(/\n/g, ', '))}`,
      `${fix}; the controller's own certificate always has an RSA key (bring-your-own keys must be RSA)`,
    );
  }

  const bits = x509.publicKey.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined || bits < MIN_RSA_BITS) {
    fail(
      `the sealing certificate has a ${bits ?? 'unknown'}-bit RSA key: RSA below ${MIN_RSA_BITS} bits is refused (such a key can be broken, ` +
        'and whoever breaks it reads every secret sealed with it)',
      `${fix}, from a controller whose key has at least ${MIN_RSA_BITS} bits (the controller generates 4096-bit keys; bring-your-own keys must be as long)`,
    );
  }

  const notAfter = parseOpenSslTime(x509.validTo);
  if (!notAfter) fail(`the sealing certificate has an unreadable NotAfter ${show(x509.validTo)}`);
  if (now.getTime() > notAfter.getTime()) {
    fail(
      `the sealing certificate expired on ${notAfter.toISOString()} (NotAfter); kubeseal refuses it too: ` +
        '"failed to encrypt using an expired certificate"',
      `${fix} (the controller renews its key every 30 days by default; if its certificate itself expired, ` +
        'let the controller generate a new key first)',
    );
  }

  return {
    pem: `${certPem}\n`,
    publicKey: x509.publicKey,
    fingerprint: `sha256:${crypto.createHash('sha256').update(x509.raw).digest('hex')}`,
    notAfter,
  };
}

/** Whether a path relative to the work directory stays inside it (not absolute, no leading `..`). */
export function isInsideWorkdir(file: string): boolean {
  const n = path.normalize(file);
  return !path.isAbsolute(n) && n !== '..' && !n.startsWith(`..${path.sep}`);
}

/**
 * How to get a sealing certificate to `file`: the `kubeseal --fetch-cert` redirect, for a file inside the work
 * directory only. A path outside it (a system file, another repository) is never suggested as a redirect target:
 * the fix is to fetch into the work directory and point `sealingCert` there.
 */
export function sealingCertFix(file: string, context?: string, cluster?: string): string {
  const kubeseal = `kubeseal${context ? ` --context ${context}` : ''} --controller-name sealed-secrets --controller-namespace kube-system --fetch-cert`;
  if (isInsideWorkdir(file)) return `fetch the current certificate with \`${kubeseal} > ${file}\``;
  const inside = `sealing-certs/${cluster ?? '<cluster>'}.pem`;
  return (
    `${show(file)} is outside the work directory (CI does not have it): fetch the certificate into it with \`${kubeseal} > ${inside}\`` +
    ` and set ${context ? `contexts.${context}.sealingCert` : 'sealingCert'}: ${inside}`
  );
}

// OpenSSL prints times as `Jan  1 00:00:00 2016 GMT`; parse that exactly rather than trusting Date's lenient parser.
function parseOpenSslTime(s: string): Date | undefined {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? (\d{4}) GMT$/.exec(s);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]);
  if (month < 0) return undefined;
  return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
}
