import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hashTree } from './workdir';

/**
 * Asserts that no private key, bearer token or kept token of the work directory appears in plaintext under its
 * `dist/` or `sealed/`: PEM private-key blocks, JWT-shaped strings, URLs with credentials (`https://user:pw@host`,
 * `https://token@host`, `?token=` / `access_token=`; an ssh login name such as `ssh://git@host` is not one), and the
 * exact content of every private file kept in `certs/` (each line of a PEM body, so a re-wrapped copy is found too).
 * Returns the number of files scanned.
 */
export function assertNoSecrets(workdir: string): number {
  const needles: string[] = [];
  for (const [f] of hashTree(path.join(workdir, 'certs'))) {
    if (!/(^|\/)(root-key\.pem|ca-key\.pem|reader-token)$/.test(f)) continue;
    const text = fs.readFileSync(path.join(workdir, 'certs', f), 'utf8');
    needles.push(...(text.includes('-----BEGIN') ? text.split('\n').filter((l) => l.length >= 40) : [text.trim()]));
  }
  let n = 0;
  for (const dir of ['dist', 'sealed']) {
    for (const [f] of hashTree(path.join(workdir, dir))) {
      const text = fs.readFileSync(path.join(workdir, dir, f), 'utf8');
      assert.doesNotMatch(text, /BEGIN [A-Z ]*PRIVATE KEY/, `${dir}/${f} holds a private key`);
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./, `${dir}/${f} holds a JWT`);
      for (const url of urlsWithCredentials(text)) assert.fail(`${dir}/${f} holds a URL with credentials: ${url.slice(0, 40)}...`);
      for (const needle of needles) assert.ok(!text.includes(needle), `${dir}/${f} holds a secret of certs/`);
      n++;
    }
  }
  return n;
}

/** URLs with user info (other than an ssh login name) or a credential in the query string. */
export function urlsWithCredentials(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\b([a-z][a-z0-9+.-]*):\/\/([^\s/?#"'<>]*)([^\s"'<>]*)/gi)) {
    const [url, scheme, authority, rest] = m;
    const at = authority.lastIndexOf('@');
    const sshLogin = /^(ssh|git\+ssh)$/i.test(scheme) && !authority.slice(0, Math.max(at, 0)).includes(':');
    if (at >= 0 && !sshLogin) out.push(url);
    else if (/[?&;](access_token|token|private_token|password|passwd|secret|api_?key|sig|signature)=/i.test(rest)) out.push(url);
  }
  return out;
}
