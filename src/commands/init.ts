/**
 * `meshgen init`: a new GitOps repository for one mesh, as a small project of its own that depends on meshgen (the way
 * `cdk8s init` and projen start a project). Taking a new meshgen version is then bumping that dependency.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, type Problem } from '../errors';
import { writeFileAtomic } from '../fs-util';
import { withWorkdirLock } from '../lock';
import { meshgenPackage, readPackageJson } from '../package-info';
import type { KeyAlgorithm } from '../pki';
import { scaffoldFiles } from './init-files';
import { checkPrepOptions, prepLocked } from './prep';

/** Options of {@link init}. */
export interface InitOptions {
  /** The directory of the new repository (created when absent). */
  readonly dir: string;
  readonly meshId: string;
  readonly org: string;
  /**
   * Where the new repository's meshgen dependency comes from: a version or range (`1.2.0`, `^1.2`), a dist-tag, a git
   * URL (`git+https://…`, `github:owner/repo#ref`) or the path of a meshgen checkout.
   * @default - `^<version of the running meshgen>`
   */
  readonly from?: string;
  /** Scaffold into a directory that is not empty (files that exist are kept). */
  readonly force?: boolean;
  /** Create the git repository and its first commit. @default true */
  readonly git?: boolean;
  /** The directory relative paths of `from` are resolved against. @default process.cwd() */
  readonly cwd?: string;
  readonly keySize?: number;
  readonly days?: number;
  /**
   * Key algorithm of the root CA and, through topology.yaml's `pki.keyAlgorithm`, of the intermediates.
   * @default 'rsa-4096'
   */
  readonly keyAlgorithm?: KeyAlgorithm;
}

/** What init did. */
export interface InitResult {
  readonly dir: string;
  /** The dependency spec written into package.json. */
  readonly dependency: string;
  readonly created: string[];
  readonly kept: string[];
  readonly warnings: string[];
  /** What happened with git, one line. */
  readonly git: string;
}

/** The dependency spec of meshgen in the new package.json, and how it was given. */
export interface MeshgenDependency {
  readonly spec: string;
  readonly kind: 'registry' | 'git' | 'url' | 'path';
}

/** Files of the scaffold that hold secrets: never committed (the .gitignore keeps them out; checked before committing). */
const PRIVATE_FILE = /(^|\/)(root-key\.pem|ca-key\.pem|reader-token)$/;

/**
 * Creates a new repository for the mesh `meshId` in `dir` (see the README, "Start your own mesh"). Everything is
 * checked before anything is created; a failure leaves no trace of this run (a directory created by it is removed).
 */
export async function init(opts: InitOptions): Promise<InitResult> {
  const dir = path.resolve(opts.dir);
  const problems: Problem[] = [...checkPrepOptions(opts.meshId, opts.org)];
  let dependency: MeshgenDependency | undefined;
  try {
    dependency = meshgenDependency(opts.from, opts.cwd ?? process.cwd());
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    problems.push(...e.problems);
  }
  const existed = fs.existsSync(dir);
  if (existed && !fs.statSync(dir).isDirectory()) {
    problems.push({ file: opts.dir, message: 'exists and is not a directory', fix: 'name a new directory for the repository' });
  } else if (existed && !opts.force && fs.readdirSync(dir).length > 0) {
    problems.push({
      file: opts.dir,
      message: `is not empty (${describeEntries(fs.readdirSync(dir))}); init starts a new repository`,
      fix: 'name a new or empty directory, or pass --force to add the files that are missing there (existing files are kept)',
    });
  }
  if (problems.length > 0) throw new InputError(problems);
  const dep = dependency as MeshgenDependency;

  const wasEmpty = !existed || fs.readdirSync(dir).length === 0;
  fs.mkdirSync(dir, { recursive: true });
  let result: Omit<InitResult, 'git'>;
  try {
    result = await withWorkdirLock(dir, 'meshgen init', 'exclusive', () => scaffold(dir, opts, dep));
  } catch (e) {
    // Nothing of a failed run stays behind: the directory was new or empty, so everything in it is this run's.
    if (!existed) fs.rmSync(dir, { recursive: true, force: true });
    else if (wasEmpty) for (const e of fs.readdirSync(dir)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
    throw e;
  }
  const git = opts.git === false ? 'git: skipped (--no-git)' : gitFirstCommit(dir, opts.meshId, result.warnings);
  return { ...result, git };
}

async function scaffold(dir: string, opts: InitOptions, dep: MeshgenDependency): Promise<Omit<InitResult, 'git'>> {
  const created: string[] = [];
  const kept: string[] = [];
  const warnings: string[] = [];
  // .gitignore first (node_modules/), prep adds its private-key lines to it before it writes the root key.
  const files = scaffoldFiles({ name: packageName(dir, opts.meshId), meshId: opts.meshId, dependency: dep.spec });
  const write = (file: string, content: string) => {
    if (fs.existsSync(path.join(dir, file))) kept.push(file);
    else {
      writeFileAtomic(path.join(dir, file), content);
      created.push(file);
    }
  };
  write('.gitignore', files['.gitignore']);
  const prepped = await prepLocked({
    workdir: dir,
    meshId: opts.meshId,
    org: opts.org,
    keySize: opts.keySize,
    days: opts.days,
    keyAlgorithm: opts.keyAlgorithm,
    // Where the schema is once `npm install` has run.
    schema: 'node_modules/meshgen/schema/topology.schema.json',
  });
  for (const [file, content] of Object.entries(files)) if (file !== '.gitignore') write(file, content);
  for (const f of prepped.created) if (!created.includes(f)) created.push(f);
  for (const f of prepped.kept) if (!f.startsWith('.gitignore')) kept.push(f);
  warnings.push(...prepped.warnings);
  if (dep.kind === 'path') {
    warnings.push(
      `package.json depends on meshgen at a local path (${dep.spec}): fine on this machine, but CI and other machines cannot ` +
        'install it; for a shared repository use --from <version> or --from <git URL>',
    );
  }
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { dir, dependency: dep.spec, created: created.sort(order), kept: kept.sort(order), warnings };
}

/**
 * Turns `--from` into the dependency spec of package.json: nothing → `^<own version>`; a version, range or dist-tag
 * (optionally as `meshgen@…`) as is; a git URL or GitHub shorthand as is; the path of a meshgen checkout → `file:<abs>`.
 */
export function meshgenDependency(from: string | undefined, cwd: string): MeshgenDependency {
  if (from === undefined) return { spec: `^${meshgenPackage().version}`, kind: 'registry' };
  const value = from.trim();
  const bad = (message: string, fix: string) => new InputError({ file: 'command line', path: '--from', message, fix });
  const kinds =
    'a version (1.2.0, ^1.2), a git URL (git+https://host/org/meshgen.git#v1.2.0, github:org/meshgen#v1.2.0) or the path of a meshgen checkout';
  if (value === '') throw bad('is empty', `pass ${kinds}`);
  if (/^(git\+[a-z]+:|git:\/\/|github:|gitlab:|bitbucket:|gist:|git@)/.test(value) || /^[a-z]+:\/\/.*\.git(#.*)?$/i.test(value)) {
    return { spec: value, kind: 'git' };
  }
  if (/^https?:\/\//.test(value)) return { spec: value, kind: 'url' };
  // A bare word that names a meshgen checkout in the current directory is that checkout, not a dist-tag.
  const isCheckout = readPackageJson(path.resolve(cwd, value))?.name === 'meshgen';
  const isPathLike =
    isCheckout || value.startsWith('file:') || value.startsWith('.') || value.startsWith('/') || value.startsWith('~/') || value.includes('/');
  if (isPathLike) {
    const raw = value.startsWith('file:') ? value.slice('file:'.length) : value;
    const abs = path.resolve(cwd, raw.startsWith('~/') ? path.join(process.env.HOME ?? '~', raw.slice(2)) : raw);
    if (fs.existsSync(abs)) {
      if (readPackageJson(abs)?.name !== 'meshgen') {
        throw bad(
          `${JSON.stringify(value)} is not a meshgen checkout (${abs} has no package.json named meshgen)`,
          `point --from at the directory of meshgen's package.json, or pass ${kinds}`,
        );
      }
      return { spec: `file:${abs}`, kind: 'path' };
    }
    // owner/repo#ref: GitHub shorthand, as npm reads it.
    if (/^\w[\w.-]*\/[\w.-]+(#\S+)?$/.test(value)) return { spec: value, kind: 'git' };
    throw bad(`${JSON.stringify(value)} does not exist`, `pass the path of a meshgen checkout, or ${kinds}`);
  }
  const version = value.startsWith('meshgen@') ? value.slice('meshgen@'.length) : value;
  // A semver version or range (1.2.0, ^1.2, ~1.2.3, >=1.0.0 <2, 1.x, *) or a dist-tag (latest, next).
  if (/^[\^~<>=v*xX0-9][\w.^~<>=*|+\- ]*$/.test(version) || /^[a-z][a-z0-9._-]*$/.test(version)) return { spec: version, kind: 'registry' };
  throw bad(`${JSON.stringify(value)} is neither a version, a git URL nor a path`, `pass ${kinds}`);
}

/** An npm package name for the repository: its directory name where valid, else `<mesh id>-mesh`. */
function packageName(dir: string, meshId: string): string {
  const base = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '');
  if (base !== '' && base.length <= 214 && base !== 'node_modules') return base;
  const fallback = `${meshId.toLowerCase().replace(/[^a-z0-9._~-]+/g, '-')}-mesh`.replace(/^[._-]+/, '');
  return fallback === '-mesh' ? 'mesh' : fallback;
}

function describeEntries(entries: string[]): string {
  const sorted = [...entries].sort();
  return sorted.length <= 3 ? sorted.join(', ') : `${sorted.slice(0, 3).join(', ')} and ${sorted.length - 3} more`;
}

/**
 * `git init`, `git add -A` and the first commit, with a fixed identity (meshgen <meshgen@localhost>) where git has
 * none configured. Skipped with a warning when git is absent or `dir` is a repository already; never commits a
 * private key (checked on the index, whatever the .gitignore says). Returns the line to print.
 */
function gitFirstCommit(dir: string, meshId: string, warnings: string[]): string {
  // Variables that point git at another repository (set inside a git hook, for instance) must not leak in.
  const env = { ...process.env };
  for (const v of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_PREFIX', 'GIT_COMMON_DIR']) delete env[v];
  const git = (args: string[]) => spawnSync('git', args, { cwd: dir, env, encoding: 'utf8' });
  const firstLine = (r: ReturnType<typeof git>) => (r.stderr || r.stdout || String(r.error ?? '')).trim().split('\n')[0];
  const manual = 'git init && git add -A && git commit -m "Start the mesh" (the .gitignore keeps the private keys out)';
  const version = git(['--version']);
  if (version.error || version.status !== 0) {
    warnings.push(`git is not installed: no repository was created; once it is, run: ${manual}`);
    return 'git: skipped (git not found)';
  }
  if (fs.existsSync(path.join(dir, '.git'))) {
    warnings.push('the directory is a git repository already: nothing was committed; review the new files and commit them');
    return 'git: skipped (already a repository)';
  }
  const step = (args: string[]) => {
    const r = git(args);
    if (r.error || r.status !== 0) throw new Error(`git ${args.filter((a) => !a.startsWith('user.')).join(' ')}: ${firstLine(r)}`);
    return r.stdout;
  };
  try {
    step(['init', '-q']);
    step(['add', '-A']);
    const staged = step(['ls-files', '-z']).split('\0').filter(Boolean);
    const secret = staged.filter((f) => PRIVATE_FILE.test(f) || /PRIVATE KEY-----/.test(fs.readFileSync(path.join(dir, f), 'utf8')));
    if (secret.length > 0) {
      step(['rm', '-q', '--cached', '-r', '.']);
      warnings.push(`nothing was committed: git would have committed ${secret.join(', ')}; check .gitignore (and your global excludes), then commit`);
      return 'git: initialized, nothing committed';
    }
    const hasIdentity = git(['config', 'user.email']).stdout.trim() !== '' && git(['config', 'user.name']).stdout.trim() !== '';
    const identity = hasIdentity ? [] : ['-c', 'user.name=meshgen', '-c', 'user.email=meshgen@localhost'];
    step([...identity, 'commit', '-q', '-m', `Start the Istio mesh ${meshId} (meshgen init)`]);
    const sha = step(['rev-parse', '--short', 'HEAD']).trim();
    return `git: initialized the repository; first commit ${sha}${hasIdentity ? '' : ' (author meshgen <meshgen@localhost>: git has no user.name/user.email)'}, without private keys`;
  } catch (e) {
    warnings.push(`${(e as Error).message}; the files are in place, commit them yourself: ${manual}`);
    return 'git: not committed';
  }
}
