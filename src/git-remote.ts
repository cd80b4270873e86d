/**
 * The Git remote a work directory is pushed to, for `meshgen prep` to fill `gitops.repoURL` of a new topology.yaml.
 *
 * Only prep reads it, once, into the file: synth never reads Git (nor anything else of the environment), so that CI
 * and a laptop give the same output from the same committed inputs.
 */
import { spawnSync } from 'node:child_process';

/** What {@link originRemote} found. */
export interface OriginRemote {
  /** `git remote get-url origin`, when it is a URL Argo CD can use and carries no credentials. */
  readonly url?: string;
  /** Why the URL of origin was not taken (never repeats the URL, which may hold a token). */
  readonly skipped?: string;
  /** The work directory's path inside the repository (`git rev-parse --show-prefix`), e.g. `deploy/mesh/`; `''` at the top. */
  readonly prefix: string;
}

/**
 * Classifies a Git remote URL: an `https://` URL without user or password, an `ssh://` URL without password, or
 * scp-like `user@host:path` are usable as Argo CD's `repoURL`; anything else (a token in the URL, `http://`,
 * `git://`, `file://`, a local path) is not.
 *
 * @param url the output of `git remote get-url origin`.
 * @returns undefined when the URL is usable, else why not (without the URL itself).
 */
export function repoUrlProblem(url: string): string | undefined {
  if (/\s/.test(url) || url.length === 0) return 'it is empty or contains white space';
  const scp = /^([A-Za-z0-9._-]+)@([A-Za-z0-9.-]+):(?!\/\/)([^\s]+)$/.exec(url);
  if (scp) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'it is neither an https:// or ssh:// URL nor of the form user@host:path';
  }
  if (parsed.protocol === 'https:') {
    if (parsed.username !== '' || parsed.password !== '') return 'it carries a user name or token (https://user:token@host/...)';
    return parsed.hostname === '' ? 'it has no host' : undefined;
  }
  if (parsed.protocol === 'ssh:') {
    if (parsed.password !== '') return 'it carries a password';
    return parsed.hostname === '' ? 'it has no host' : undefined;
  }
  return `it is a ${parsed.protocol.replace(/:$/, '')}:// URL; Argo CD needs an https:// or ssh URL`;
}

/**
 * Reads `git remote get-url origin` and `git rev-parse --show-prefix` of a directory.
 *
 * @param dir the work directory.
 * @returns undefined when `dir` is not in a Git work tree with a remote named origin, or Git is not installed.
 */
export function originRemote(dir: string): OriginRemote | undefined {
  const git = (...args: string[]) =>
    spawnSync('git', ['-C', dir, ...args], {
      encoding: 'utf8',
      timeout: 10_000,
      // Never prompt (a credential helper cannot be asked anything by get-url, but be sure).
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  const remote = git('remote', 'get-url', 'origin');
  if (remote.error || remote.status !== 0) return undefined;
  const url = remote.stdout.trim();
  const prefixRun = git('rev-parse', '--show-prefix');
  const prefix = prefixRun.status === 0 ? prefixRun.stdout.trim() : '';
  const problem = repoUrlProblem(url);
  return problem === undefined ? { url, prefix } : { skipped: problem, prefix };
}
