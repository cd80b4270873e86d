import * as crypto from 'node:crypto';
import { InputError, type Problem, show } from '../errors';

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
  const fix = fetchCertFix(where.file);
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
    fail(`the sealing certificate is not a PEM certificate: found ${show(pem.trim() === '' ? '(empty file)' : pem.trim())}`);
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

function fetchCertFix(file: string): string {
  return `fetch the current certificate with \`kubeseal --controller-name sealed-secrets --controller-namespace kube-system --fetch-cert > ${file}\``;
}

// OpenSSL prints times as `Jan  1 00:00:00 2016 GMT`; parse that exactly rather than trusting Date's lenient parser.
function parseOpenSslTime(s: string): Date | undefined {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? (\d{4}) GMT$/.exec(s);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]);
  if (month < 0) return undefined;
  return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
}
