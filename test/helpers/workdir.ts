/**
 * Work directories for tests: fresh copies of the bundled example mesh, and a way to tell whether a run changed them.
 *
 * The example work directory is the repository root. Its private files are git-ignored, so the copies kept under
 * `test/fixtures/example-private/` are used instead of whatever the root happens to hold on this machine.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';

/** The repository root, which is the example work directory. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

const PRIVATE_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'example-private');
const PUBLIC_CERT_FILES = ['ca-cert.pem', 'cert-chain.pem', 'root-cert.pem'];
const COPIED_DIRS = ['sealing-certs', 'sealed', 'dist'];

/** Options of {@link makeExampleWorkdir}. */
export interface ExampleWorkdirOptions {
  /**
   * Also copy the private files of the example, mode 0600: `certs/root-key.pem`, `certs/<cluster>/ca-key.pem`, and
   * each context's reader token as `certs/<cluster>/reader-token` (where `seal-token` keeps it).
   * @default false
   */
  readonly withPrivateKeys?: boolean;
}

/**
 * Copies the example work directory into a new temporary directory and returns its path (the caller removes it).
 *
 * Copied: `topology.yaml`, `base.yaml`, the public files of `certs/`, `sealing-certs/`, `sealed/` and `dist/`.
 */
export function makeExampleWorkdir(opts: ExampleWorkdirOptions = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-example-'));
  for (const f of ['topology.yaml', 'base.yaml']) fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dir, f));
  for (const d of COPIED_DIRS) fs.cpSync(path.join(REPO_ROOT, d), path.join(dir, d), { recursive: true });

  const clusters = exampleClusters();
  fs.mkdirSync(path.join(dir, 'certs'));
  fs.copyFileSync(path.join(REPO_ROOT, 'certs', 'root-cert.pem'), path.join(dir, 'certs', 'root-cert.pem'));
  for (const cluster of clusters.values()) {
    fs.mkdirSync(path.join(dir, 'certs', cluster));
    for (const f of PUBLIC_CERT_FILES) fs.copyFileSync(path.join(REPO_ROOT, 'certs', cluster, f), path.join(dir, 'certs', cluster, f));
  }

  if (opts.withPrivateKeys) {
    copyPrivate(path.join(PRIVATE_DIR, 'root-key.pem'), path.join(dir, 'certs', 'root-key.pem'));
    for (const [context, cluster] of clusters) {
      copyPrivate(path.join(PRIVATE_DIR, cluster, 'ca-key.pem'), path.join(dir, 'certs', cluster, 'ca-key.pem'));
      copyPrivate(path.join(PRIVATE_DIR, 'tokens', `${context}.token`), path.join(dir, 'certs', cluster, 'reader-token'));
    }
  }
  return dir;
}

/**
 * The SHA-256 (hex) of every file under `dir`, keyed by its path relative to `dir` (with `/`); empty when `dir` does
 * not exist. Compare two results with `assert.deepEqual` to check that nothing was added, changed or removed.
 */
export function hashTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(child);
      // A symlink is compared by its target (it may point at /dev/zero or a FIFO, which cannot be read).
      else if (e.isSymbolicLink()) out.set(child, `symlink:${fs.readlinkSync(path.join(dir, child))}`);
      else
        out.set(
          child,
          crypto
            .createHash('sha256')
            .update(fs.readFileSync(path.join(dir, child)))
            .digest('hex'),
        );
    }
  };
  if (fs.existsSync(dir)) walk('');
  return out;
}

// Context → cluster of the example topology (`cluster:`, else the context name).
function exampleClusters(): Map<string, string> {
  const topology = parse(fs.readFileSync(path.join(REPO_ROOT, 'topology.yaml'), 'utf8')) as { contexts: Record<string, { cluster?: string }> };
  return new Map(Object.entries(topology.contexts).map(([context, c]) => [context, c.cluster ?? context]));
}

function copyPrivate(from: string, to: string): void {
  fs.copyFileSync(from, to);
  fs.chmodSync(to, 0o600);
}
