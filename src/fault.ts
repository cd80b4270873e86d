/**
 * Deterministic fault points, FOR TESTS ONLY: every step that commits something to the work directory (a key file, a
 * sealed store, a rename of the `dist/` swap, the `.gitignore` append, the lock release...) calls
 * {@link faultPoint} with its name. When the environment variable `MESHGEN_FAULT` names that point, the process kills
 * itself with SIGKILL there, exactly as a crash or `kill -9` would, so the crash tests can stop a run at every commit
 * step instead of at random times. `MESHGEN_FAULT=<point>@<n>` kills at the n-th time the point is reached (default
 * the first). Never set it outside tests: it makes meshgen crash on purpose.
 */

/** Every fault point, in the order a run reaches them. The crash test kills at each (a new point is tested automatically). */
export const FAULT_POINTS = [
  // src/lock.ts: the exclusive lock of the work directory.
  'lock.acquired',
  // src/fs-util.ts: the `.gitignore` append (before synth, prep or rotate write a private key).
  'gitignore.before-append',
  'gitignore.after-append',
  // src/fs-util.ts: every atomic file write (keys, certificates, tokens, stores written by seal-token, ...): the
  // temporary file is complete, not yet renamed into place / renamed.
  'atomic-write.before-rename',
  'atomic-write.after-rename',
  // src/pki/store.ts: a new root CA (prep: the certificate beside its place, the key, then the certificate renamed).
  'root.key-written',
  // src/pki/store.ts: a new intermediate CA (key first, ca-cert.pem last).
  'intermediate.key-written',
  'intermediate.written',
  // src/pki/store.ts: a rotation of an intermediate (every *.rotating file written; then each moved into place).
  'rotate.staged',
  'rotate.file-moved',
  // src/secrets/sealed-store.ts: synth's changed stores, written beside the store, then renamed into place.
  'sealed.pending-written',
  'sealed.before-commit',
  'sealed.store-committed',
  'sealed.store-removed',
  // src/commands/seal-token.ts: the stores are saved, the tokens not yet kept.
  'seal-token.stores-saved',
  // src/output/tree.ts: the swap of dist/ (staging complete; dist/ moved away; new tree in place, old not yet removed).
  'dist.staged',
  'dist.retired',
  'dist.swapped',
  // src/lock.ts: the work is done, the lock not yet released.
  'lock.before-release',
] as const;

/** The name of a fault point. */
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** The environment variable naming the fault point to kill at (tests only). */
export const FAULT_ENV = 'MESHGEN_FAULT';

const hits = new Map<string, number>();
let observer: ((point: FaultPoint) => void) | undefined;

/**
 * A commit step: with `MESHGEN_FAULT=<point>[@<n>]` naming it (tests only), the process is killed here with SIGKILL.
 * Otherwise nothing happens.
 */
export function faultPoint(point: FaultPoint): void {
  observer?.(point);
  const want = process.env[FAULT_ENV];
  if (!want) return;
  const at = want.lastIndexOf('@');
  const name = at < 0 ? want : want.slice(0, at);
  if (name !== point) return;
  const nth = at < 0 ? 1 : Number(want.slice(at + 1));
  const n = (hits.get(point) ?? 0) + 1;
  hits.set(point, n);
  if (n === nth) process.kill(process.pid, 'SIGKILL');
}

/** Tests only: calls `fn` with every fault point reached (to find which commands reach which points); undefined stops. */
export function observeFaultPoints(fn: ((point: FaultPoint) => void) | undefined): void {
  observer = fn;
}
