import * as path from 'node:path';
import { InputError, type Problem } from '../errors';
import { READ_LIMITS, readIfExists, writePrivateFile } from '../fs-util';

/** Where a cluster's reader token is kept on the machine that sealed it (git-ignored, mode 0600). */
export function tokenFile(cluster: string): string {
  return `certs/${cluster}/reader-token`;
}

/**
 * Checks a reader token: not empty, one line, no whitespace or control characters inside. A single
 * trailing newline (as `kubectl ... | base64 -d` or an editor leaves) is removed.
 */
export function normalizeToken(raw: string, source: string): string {
  const token = raw.replace(/\r?\n$/, '');
  const problems: Problem[] = [];
  if (token.length === 0) {
    problems.push({
      file: source,
      message: 'the token is empty',
      fix: "read it with `kubectl -n istio-system get secret istio-reader-service-account-istio-remote-secret-token -o jsonpath='{.data.token}' | base64 -d`",
    });
  } else if (/\s/.test(token)) {
    problems.push({
      file: source,
      message: 'the token contains whitespace or line breaks',
      fix: 'pass the bare token (one line, as `base64 -d` prints it)',
    });
  } else if (/[^\x21-\x7e]/.test(token)) {
    problems.push({
      file: source,
      message: 'the token contains non-printable or non-ASCII characters',
      fix: 'pass the decoded token, not the base64 of it or a binary file',
    });
  }
  if (problems.length > 0) throw new InputError(problems);
  return token;
}

/** Reads a cluster's kept reader token, if this machine has it. */
export function readKeptToken(workdir: string, cluster: string): string | undefined {
  const raw = readIfExists(path.join(workdir, tokenFile(cluster)), READ_LIMITS.token);
  return raw === undefined ? undefined : normalizeToken(raw, tokenFile(cluster));
}

/** Keeps a reader token for later reseals (new primaries, renewed sealing certificates). */
export function keepToken(workdir: string, cluster: string, token: string): void {
  writePrivateFile(path.join(workdir, tokenFile(cluster)), `${token}\n`);
}
