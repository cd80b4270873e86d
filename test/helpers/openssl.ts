/** The real `openssl` for certificate tests (Istio's tools/certs/common.mk uses it). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

/** Why openssl tests are skipped, or false when openssl is on PATH. */
export const NO_OPENSSL: string | false = (() => {
  const probe = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return probe.error || probe.status !== 0 ? 'openssl is not on PATH, so the certificates cannot be checked against it' : false;
})();

/** Runs openssl in `cwd`; fails the test (with its output) unless it exits 0; returns stdout. */
export function openssl(args: string[], cwd: string): string {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/**
 * Signs a workload certificate with the intermediate in `caDir` (`ca-cert.pem`, `ca-key.pem`), as istiod would, over a
 * new key (`newkey`: `rsa:2048` or `ec` with `-pkeyopt`), in `leafDir`, and asserts that openssl verifies it against
 * `root` through `caDir/cert-chain.pem`.
 */
export function assertLeafVerifies(caDir: string, root: string, leafDir: string, newkey: readonly string[], message?: string): void {
  openssl(['req', '-new', '-newkey', ...newkey, '-nodes', '-subj', '/O=x/CN=workload', '-keyout', 'leaf.key', '-out', 'leaf.csr'], leafDir);
  const ca = ['-CA', path.join(caDir, 'ca-cert.pem'), '-CAkey', path.join(caDir, 'ca-key.pem')];
  openssl(['x509', '-req', '-sha256', '-days', '1', ...ca, '-set_serial', '7', '-in', 'leaf.csr', '-out', 'leaf.pem'], leafDir);
  const leaf = path.join(leafDir, 'leaf.pem');
  assert.equal(openssl(['verify', '-CAfile', root, '-untrusted', 'cert-chain.pem', leaf], caDir).trim(), `${leaf}: OK`, message);
}
