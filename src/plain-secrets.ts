/**
 * Secrets where only public values belong: credentials in a URL and private keys (PEM, or base64 of PEM). meshgen
 * copies topology.yaml's and base.yaml's values unsealed into dist/ (and so into git); these checks refuse such values
 * before anything is written, and `validate` and the tests look for them in dist/. The secret itself is never put in a
 * message: {@link maskUrl} shows a URL with its credentials replaced by `***`.
 */
import { clip } from './errors';

/** What kind of secret a value holds, and how to show the value without it. */
export interface PlainSecret {
  readonly kind: 'url-userinfo' | 'url-token' | 'private-key' | 'jwt';
  /** A few words: "credentials (user:password@) in the URL". */
  readonly what: string;
  /** The value with the secret masked (URLs), or a description (keys). Safe to print. */
  readonly shown: string;
}

/** A URL with a scheme and an authority: `scheme://[userinfo@]host...`. */
const URL_RE = /\b([A-Za-z][A-Za-z0-9+.-]*):\/\/([^\s/?#"'<>]*)([^\s"'<>]*)/g;

/** Query parameters whose value is a credential (`?token=`, `access_token=`, `X-Amz-Signature=`, `sig=`...). */
const SECRET_PARAM =
  /^(?:.*[_.-])?(?:token|access[_-]?token|id[_-]?token|private[_-]?token|password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|apikey|key|sig|signature|credential|credentials|auth|authorization|session)$/i;

/** A JSON Web Token (a Kubernetes service-account token, an OIDC token). */
export const JWT = /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/;

/** The PEM header of a private key (PKCS#1, PKCS#8, SEC1, OpenSSH, encrypted). */
export const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * The first secret found in a string, or undefined. Checked: every URL in it (user info other than an ssh user name,
 * a credential in the query string), and a private key in PEM form or base64-encoded (as `certificateAuthorityData`
 * would carry one).
 */
export function plainSecretIn(value: string): PlainSecret | undefined {
  if (PRIVATE_KEY_PEM.test(value) || base64HoldsPrivateKey(value)) {
    return { kind: 'private-key', what: 'a private key', shown: '(a private key; not shown)' };
  }
  if (JWT.test(value)) return { kind: 'jwt', what: 'a bearer token (a JWT)', shown: '(a token; not shown)' };
  for (const m of value.matchAll(URL_RE)) {
    const [, scheme, authority, rest] = m;
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      // `ssh://git@github.com/org/repo.git`: an SSH login name, no secret; a password there is one.
      const sshUser = /^(ssh|git\+ssh)$/i.test(scheme) && !userinfo.includes(':');
      if (!sshUser) {
        return {
          kind: 'url-userinfo',
          what: `credentials (${userinfo.includes(':') ? 'user:password' : 'a user name or token'}@) in the URL`,
          shown: maskUrl(m[0]),
        };
      }
    }
    if (secretParams(rest).length > 0) {
      return { kind: 'url-token', what: `a credential in the URL's query (${secretParams(rest).join(', ')}=)`, shown: maskUrl(m[0]) };
    }
  }
  return undefined;
}

/**
 * A URL with its user info replaced by `***` and the values of credential query parameters by `***`, shortened to a
 * printable length: `https://***@host:6443/?token=***`.
 */
export function maskUrl(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/s.exec(url);
  if (!m) return clip(url.replace(/[^/]+/g, '***'), 80);
  const [, scheme, authority, rest] = m;
  const at = authority.lastIndexOf('@');
  const host = at >= 0 ? `***@${authority.slice(at + 1)}` : authority;
  const masked = rest.replace(/([?&;])([^=&;#]*)=([^&;#]*)/g, (all, sep: string, name: string) =>
    SECRET_PARAM.test(safeDecode(name)) ? `${sep}${name}=***` : all,
  );
  return clip(`${scheme}${host}${masked}`, 80);
}

/** Whether a string holds a URL with credentials (user info or a credential query parameter). */
export function hasUrlCredentials(value: string): boolean {
  const s = plainSecretIn(value);
  return s !== undefined && (s.kind === 'url-userinfo' || s.kind === 'url-token');
}

function secretParams(rest: string): string[] {
  const q = rest.indexOf('?');
  if (q < 0) return [];
  const query = rest.slice(q + 1).split('#')[0];
  return [
    ...new Set(
      query
        .split(/[&;]/)
        .map((p) => safeDecode(p.split('=')[0]))
        .filter((name) => name !== '' && SECRET_PARAM.test(name)),
    ),
  ];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Whether base64 in the string (the whole of it, or any run of it) decodes to text holding a PEM private key. */
function base64HoldsPrivateKey(value: string): boolean {
  const compact = value.replace(/\s+/g, '');
  if (compact.length < 40) return false;
  const candidates = [compact, ...(compact.match(/[A-Za-z0-9+/_-]{40,}={0,2}/g) ?? [])];
  // Concatenated base64 strings: decoding stops at the first padding, so each piece is decoded on its own too.
  for (const c of candidates) {
    for (const piece of [c, ...c.split(/=+/)]) {
      if (piece.length < 40) continue;
      const text = Buffer.from(piece, 'base64').toString('latin1');
      if (/PRIVATE KEY/.test(text)) return true;
    }
  }
  return false;
}
