/**
 * `meshgen rotate` (a new intermediate CA for some clusters, from the same root) and `meshgen rotate-root` (a new root
 * CA through the multi-root phases add → switch → finish → done; see `pki/rotation.ts` for the layout and the bundles).
 *
 * Both only write `certs/` (and `.gitignore`); `npm run synth` then reseals the changed `cacerts` and, during a root
 * rotation, sets the multi-root settings of the control plane.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, type Problem } from '../errors';
import { ensureGitignore, PRIVATE_DIR_MODE, readIfExists, writeFileAtomic, writePrivateFile } from '../fs-util';
import { withWorkdirLock } from '../lock';
import { type Logger, progressCounter } from '../log';
import {
  CERTS_DIR,
  CertStore,
  certificateInfo,
  certificateSha256,
  createIntermediateCa,
  createRootCa,
  type IntermediateCaFiles,
  issuingRootIndex,
  type KeyAlgorithm,
  keyMatches,
  NEXT_ROOT_CERT_FILE,
  NEXT_ROOT_DIR,
  NEXT_ROOT_KEY_FILE,
  organisationOf,
  parseCertificate,
  phaseBundle,
  RETIRED_ROOTS_DIR,
  ROOT_CERT_FILE,
  ROOT_KEY_FILE,
  ROTATION_FILE,
  type RotationPhase,
  type RotationState,
  rotationState,
  STAGED_SUFFIX,
  trustBundleFor,
  verifyIntermediate,
  withTrailingNewline,
  writeRotationState,
} from '../pki';
import { loadTopology } from '../topology/load';
import type { Cluster, Mesh, SecretsProvider } from '../topology/model';
import { nearest } from '../topology/validate';
import { GITIGNORE_LINES } from './prep';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What rotate and rotate-root make sure `.gitignore` has before they write a key: prep's lines, which keep every private
 * key out of git (the new intermediate's key as well as the files of a root rotation: {@link ROTATION_GITIGNORE_LINES}).
 */
const KEY_GITIGNORE_LINES = GITIGNORE_LINES;

/** `.gitignore` lines that keep the private keys of rotations out of git (all among prep's {@link GITIGNORE_LINES}). */
export const ROTATION_GITIGNORE_LINES = [
  '# meshgen: private keys of certificate rotations (meshgen rotate, meshgen rotate-root)',
  `certs/*/*${STAGED_SUFFIX}*`,
  NEXT_ROOT_KEY_FILE,
  `${RETIRED_ROOTS_DIR}/*/root-key.pem`,
];

// ---------------------------------------------------------------------------------------------------------------
// meshgen rotate
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link rotateIntermediates}; exactly one of `clusters`, `all`, `expiringWithinDays`. */
export interface RotateOptions {
  readonly workdir: string;
  /** Cluster names or kube contexts. */
  readonly clusters?: readonly string[];
  /** Every cluster that has an intermediate. */
  readonly all?: boolean;
  /** The clusters whose intermediate expires within this many days (0: the expired ones). */
  readonly expiringWithinDays?: number;
  /**
   * RSA key size of the new intermediates, when `pki.keyAlgorithm` of topology.yaml is `rsa-4096` (the default; the
   * new intermediates are of that algorithm, whatever the old ones were).
   * @default 4096
   */
  readonly caKeySize?: number;
  /**
   * Validity of the new intermediates in days.
   * @default 3650
   */
  readonly caDays?: number;
  /** The current time (expiry selection, start of validity). */
  readonly now?: Date;
  /** Progress of the key generation (on a TTY). */
  readonly log?: Logger;
}

/** One cluster whose intermediate `rotate` replaced. */
export interface RotatedIntermediate {
  readonly cluster: string;
  /** `issued`: a new intermediate; `completed`: the one of an interrupted rotation was moved into place. */
  readonly how: 'issued' | 'completed';
  readonly serialNumber: string;
  readonly notAfter: Date;
}

/** What {@link rotateIntermediates} did. */
export interface RotateResult {
  readonly rotated: readonly RotatedIntermediate[];
  /** Clusters left out, with why (`--all`: no intermediate yet, synth creates it). */
  readonly skipped: readonly { readonly cluster: string; readonly why: string }[];
  /** The root certificate file that signed the new intermediates. */
  readonly signerFile: string;
  /** The root rotation phase (`none` outside a root rotation). */
  readonly phase: 'none' | RotationPhase;
  /** `.gitignore` lines added. */
  readonly gitignore: readonly string[];
  /** How cacerts reach the clusters: `sealed-secrets` (synth reseals), `external-secrets` (upload with export-ca). */
  readonly provider: SecretsProvider;
}

/**
 * Issues a new intermediate CA for the selected clusters from the root that signs in the current phase (normally
 * `certs/root-cert.pem`), with the same organisation as the current intermediate, and replaces
 * `certs/<cluster>/{ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem}` per cluster so that an interruption
 * never leaves a mismatched key and certificate in use unnoticed (see {@link CertStore.replaceIntermediate}).
 * A rotation that was interrupted earlier is completed first (and counts as the rotation of that cluster).
 * Every new intermediate is generated before any file is written.
 *
 * @throws InputError on an unknown cluster, a cluster without an intermediate (`clusters`), a missing root key, or an
 *   invalid root. Nothing is written in that case.
 */
export async function rotateIntermediates(opts: RotateOptions): Promise<RotateResult> {
  return withWorkdirLock(opts.workdir, 'meshgen rotate', 'exclusive', () => rotateIntermediatesLocked(opts));
}

async function rotateIntermediatesLocked(opts: RotateOptions): Promise<RotateResult> {
  const workdir = path.resolve(opts.workdir);
  const modes = [opts.clusters !== undefined && opts.clusters.length > 0, Boolean(opts.all), opts.expiringWithinDays !== undefined];
  if (modes.filter(Boolean).length !== 1) {
    throw new InputError({
      file: 'command line',
      message: 'name the intermediates to rotate in exactly one way',
      fix: 'pass --cluster <name> (repeatable), --all, or --expiring-within <days>',
    });
  }
  const now = opts.now ?? new Date();
  const mesh = loadTopology(workdir);
  const store = new CertStore(workdir);
  const explicit = opts.clusters !== undefined && opts.clusters.length > 0;
  const candidates = explicit ? resolveClusters(mesh, opts.clusters ?? [], '--cluster') : [...mesh.clusters];

  // An interrupted rotation is finished first: a committed one is completed (that is the rotation asked for).
  const rotated: RotatedIntermediate[] = [];
  for (const c of candidates) {
    if (store.resumeRotation(c.name) === 'completed') {
      const info = certificateInfo(readCaCert(workdir, c.name) as string);
      rotated.push({ cluster: c.name, how: 'completed', serialNumber: info.serialNumber, notAfter: info.notAfter });
    }
  }
  const completed = new Set(rotated.map((r) => r.cluster));

  const problems: Problem[] = [];
  const skipped: { cluster: string; why: string }[] = [];
  const selected: Cluster[] = [];
  for (const c of candidates) {
    if (completed.has(c.name)) continue;
    const pem = readCaCert(workdir, c.name);
    if (pem === undefined) {
      if (explicit) {
        problems.push({
          file: `${CERTS_DIR}/${c.name}/ca-cert.pem`,
          message: `is missing: cluster ${c.name} has no intermediate CA to rotate yet`,
          fix: 'run `npm run synth`: it creates the missing intermediate CAs',
        });
      } else if (opts.all) skipped.push({ cluster: c.name, why: 'no intermediate CA yet (synth creates it)' });
      continue;
    }
    if (opts.expiringWithinDays !== undefined) {
      const cert = parseCertificate(pem);
      // An unreadable certificate needs replacing as much as an expiring one.
      if (!(cert instanceof Error) && new Date(cert.validTo).getTime() > now.getTime() + opts.expiringWithinDays * DAY_MS) continue;
    }
    selected.push(c);
  }
  if (problems.length > 0) throw new InputError(problems);

  const trust = store.readTrust();
  if (selected.length === 0) {
    return { rotated, skipped, signerFile: trust.signer.certFile, phase: trust.phase, gitignore: [], provider: mesh.secrets.provider };
  }
  const signer = store.readSigner(trust);
  if (signer.keyPem === undefined) throw new InputError(missingSignerKey(signer.keyFile, 'a new intermediate CA is signed with the root key'));
  const issuer = { certPem: signer.certPem, keyPem: signer.keyPem };

  const progress = counting(opts.log, `creating intermediate CAs (${mesh.pki.keyAlgorithm})`, selected.length);
  const fresh = await Promise.all(
    selected.map(async (c) => {
      const org = organisationOf(readCaCert(workdir, c.name)) ?? mesh.org ?? organisationOf(signer.certPem) ?? 'Istio';
      const made = await createIntermediateCa({
        org,
        cluster: c.name,
        root: issuer,
        keyAlgorithm: mesh.pki.keyAlgorithm,
        keySize: opts.caKeySize,
        days: opts.caDays,
        now,
      });
      progress();
      return { cluster: c.name, files: checked(c.name, { ...made, rootCertPem: trust.rootBundlePem }) };
    }),
  );

  const gitignore = ensureGitignore(workdir, KEY_GITIGNORE_LINES);
  for (const { cluster, files } of fresh) {
    store.replaceIntermediate(cluster, files);
    const info = certificateInfo(files.caCertPem);
    rotated.push({ cluster, how: 'issued', serialNumber: info.serialNumber, notAfter: info.notAfter });
  }
  for (const r of rotated) store.readIntermediate(r.cluster); // what synth will read must pass
  return { rotated, skipped, signerFile: signer.certFile, phase: trust.phase, gitignore, provider: mesh.secrets.provider };
}

// ---------------------------------------------------------------------------------------------------------------
// meshgen rotate-root
// ---------------------------------------------------------------------------------------------------------------

/** The steps of `rotate-root`: the three phases, then `done` (ends the rotation: multi-root settings off). */
export const ROOT_ROTATION_STEPS = ['add', 'switch', 'finish', 'done'] as const;
export type RootRotationStep = (typeof ROOT_ROTATION_STEPS)[number];

/** Options of {@link rotateRoot}. */
export interface RotateRootOptions {
  readonly workdir: string;
  readonly step: RootRotationStep;
  /**
   * RSA key size of the new root (`add`), when `pki.keyAlgorithm` of topology.yaml is `rsa-4096` (the default: the new
   * root and the intermediates of `switch` are of that algorithm, whatever the old root's is).
   * @default 4096
   */
  readonly keySize?: number;
  /**
   * Validity of the new root in days (`add`).
   * @default 3650
   */
  readonly days?: number;
  /**
   * RSA key size of the intermediates issued from the new root (`switch`).
   * @default 4096
   */
  readonly caKeySize?: number;
  /**
   * Validity of the intermediates issued from the new root (`switch`).
   * @default 3650
   */
  readonly caDays?: number;
  readonly now?: Date;
  /** Progress of the key generation (on a TTY). */
  readonly log?: Logger;
}

/** What {@link rotateRoot} did. */
export interface RotateRootResult {
  readonly step: RootRotationStep;
  /** SHA-256 of the old and the new root. */
  readonly oldRoot: string;
  readonly newRoot: string;
  /** Clusters whose files under `certs/<cluster>/` changed. */
  readonly changed: readonly string[];
  /** `switch`: clusters whose intermediate was already issued by the new root (a re-run). */
  readonly unchanged: readonly string[];
  /** `add`: the new root of an interrupted run was reused instead of creating another. */
  readonly reusedRoot: boolean;
  /** `finish`: where the old root went. */
  readonly retiredDir?: string;
  /** Things the user must know (e.g. a cluster's previous root-cert.pem is not byte-contained in the bundle). */
  readonly warnings: readonly string[];
  /** `.gitignore` lines added. */
  readonly gitignore: readonly string[];
  /** Clusters with an intermediate CA: with external-secrets, the ones whose cacerts must be uploaded again. */
  readonly clusters: readonly string[];
  readonly provider: SecretsProvider;
}

/**
 * Runs one step of a root rotation. Each step writes `certs/rotation.yaml` first (the intent) and then the files
 * under `certs/`; every step can be run again to complete an interrupted run, and reads in between report what is
 * left to do. After each step: `npm run synth`, commit, push, and wait (see the README) before the next.
 *
 * - `add`: creates the new root (`certs/_next/`, key 0600) with the O= of the current root; every cluster's
 *   `root-cert.pem` becomes `old + new`.
 * - `switch`: issues every cluster's intermediate from the new root (`cert-chain.pem` = intermediate + new root);
 *   `root-cert.pem` becomes `old + new + new`.
 * - `finish`: the new root becomes `certs/root-cert.pem` / `certs/root-key.pem`, the old one moves to
 *   `certs/_retired/<sha256>/`; every cluster's `root-cert.pem` becomes the new root alone. Multi-root stays on.
 * - `done`: removes `certs/rotation.yaml`, so synth turns the multi-root settings off again.
 *
 * @throws InputError when the step does not follow the current phase, a needed key is absent, or the files are not
 *   in the state the step starts from.
 */
export async function rotateRoot(opts: RotateRootOptions): Promise<RotateRootResult> {
  return withWorkdirLock(opts.workdir, `meshgen rotate-root --phase ${opts.step}`, 'exclusive', () => rotateRootLocked(opts));
}

async function rotateRootLocked(opts: RotateRootOptions): Promise<RotateRootResult> {
  const workdir = path.resolve(opts.workdir);
  const mesh = loadTopology(workdir);
  const store = new CertStore(workdir);
  const state = rotationState(workdir);
  const withCa = mesh.clusters.filter((c) => readCaCert(workdir, c.name) !== undefined).map((c) => c.name);
  assertNoInterruptedRotation(store, withCa);
  const run = async (): Promise<Omit<RotateRootResult, 'clusters' | 'provider'>> => {
    switch (opts.step) {
      case 'add':
        return rotateRootAdd(workdir, store, state, withCa, { ...opts, keyAlgorithm: mesh.pki.keyAlgorithm });
      case 'switch':
        return rotateRootSwitch(workdir, mesh, store, state, withCa, opts);
      case 'finish':
        return rotateRootFinish(workdir, store, state, withCa);
      case 'done':
        return rotateRootDone(workdir, store, state, withCa);
    }
  };
  return { ...(await run()), clusters: withCa, provider: mesh.secrets.provider };
}

/** Where a root rotation stands, for `meshgen rotate-root` without `--phase`. */
export interface RootRotationStatus {
  readonly phase: 'none' | RotationPhase;
  readonly state?: RotationState;
  /** The step to run next. */
  readonly next: RootRotationStep;
}

/** Reads the rotation state (validated against the root files). */
export function rootRotationStatus(workdir: string): RootRotationStatus {
  const trust = withWorkdirLock(workdir, 'meshgen rotate-root', 'shared', () => trustBundleFor(path.resolve(workdir)));
  const next: Record<'none' | RotationPhase, RootRotationStep> = { none: 'add', add: 'switch', switch: 'finish', finish: 'done' };
  return { phase: trust.phase, state: trust.state, next: next[trust.phase] };
}

type StepResult = Omit<RotateRootResult, 'clusters' | 'provider'>;

async function rotateRootAdd(
  workdir: string,
  store: CertStore,
  state: RotationState | undefined,
  clusters: string[],
  opts: RotateRootOptions & { readonly keyAlgorithm: KeyAlgorithm },
): Promise<StepResult> {
  if (state?.phase === 'switch') throw outOfOrder('add', state, 'the intermediates are already issued by the new root');
  if (state?.phase === 'finish') assertFinishComplete(workdir); // the previous rotation must be complete before a new one starts
  const root = store.readRoot();
  if (root === undefined) throw new InputError({ file: ROOT_CERT_FILE, message: 'the root CA is missing', fix: 'run `meshgen prep` first' });
  const oldPem = withTrailingNewline(root.certPem);
  const oldFp = certificateSha256(oldPem) as string;
  if (state?.phase === 'add' && state.oldRoot !== oldFp) trustBundleFor(workdir); // reports the changed root

  // Every intermediate must be a valid one of the old root before trust is extended.
  const problems: Problem[] = [];
  for (const cluster of clusters) problems.push(...checkIntermediate(workdir, cluster, [oldPem], ROOT_CERT_FILE));
  if (problems.length > 0) throw new InputError(problems);

  const gitignore = ensureGitignore(workdir, KEY_GITIGNORE_LINES);
  let reusedRoot = false;
  let nextPem = readIfExists(path.join(workdir, NEXT_ROOT_CERT_FILE));
  if (nextPem !== undefined) {
    // A run interrupted after creating the new root (or a re-run): keep that root, it may already be committed.
    const nextKey = readIfExists(path.join(workdir, NEXT_ROOT_KEY_FILE));
    const fp = certificateSha256(nextPem);
    const cert = parseCertificate(nextPem);
    const usable =
      fp !== undefined &&
      fp !== oldFp &&
      !(cert instanceof Error) &&
      cert.ca &&
      (state?.phase === 'add' ? fp === state.newRoot : nextKey !== undefined && keyMatchesPem(cert, nextKey));
    if (!usable) {
      throw new InputError({
        file: NEXT_ROOT_CERT_FILE,
        message: 'holds a root that is not the new root of a rotation in progress (or its key is missing or does not match)',
        fix: `delete ${NEXT_ROOT_DIR}/ and run "meshgen rotate-root --phase add" again to create a new root`,
      });
    }
    reusedRoot = state?.phase !== 'add';
  } else {
    if (state?.phase === 'add') trustBundleFor(workdir); // reports the missing new root
    const org = organisationOf(oldPem) ?? 'Istio';
    const created = await createRootCa({ org, keyAlgorithm: opts.keyAlgorithm, keySize: opts.keySize, days: opts.days, now: opts.now });
    writePrivateFile(path.join(workdir, NEXT_ROOT_KEY_FILE), created.keyPem);
    fs.chmodSync(path.join(workdir, NEXT_ROOT_DIR), PRIVATE_DIR_MODE);
    writeFileAtomic(path.join(workdir, NEXT_ROOT_CERT_FILE), created.certPem, 0o644, PRIVATE_DIR_MODE);
    nextPem = created.certPem;
  }
  const newFp = certificateSha256(nextPem) as string;
  writeRotationState(workdir, { phase: 'add', oldRoot: oldFp, newRoot: newFp });

  const bundle = phaseBundle('add', oldPem, nextPem);
  const warnings: string[] = [];
  const changed: string[] = [];
  for (const cluster of clusters) {
    const file = path.join(workdir, CERTS_DIR, cluster, 'root-cert.pem');
    const previous = readIfExists(file);
    if (previous !== undefined && previous !== bundle && !bundle.includes(previous)) {
      warnings.push(
        `${CERTS_DIR}/${cluster}/root-cert.pem differed in formatting from ${ROOT_CERT_FILE}; istiod compares the bytes of root-cert.pem ` +
          `and will not reload the bundle of ${cluster} in place: restart istiod there once the add phase is synced`,
      );
    }
    if (previous !== bundle) {
      writeFileAtomic(file, bundle, 0o644, PRIVATE_DIR_MODE);
      changed.push(cluster);
    }
  }
  for (const cluster of clusters) store.readIntermediate(cluster);
  return { step: 'add', oldRoot: oldFp, newRoot: newFp, changed, unchanged: [], reusedRoot, warnings, gitignore };
}

async function rotateRootSwitch(
  workdir: string,
  mesh: Mesh,
  store: CertStore,
  state: RotationState | undefined,
  clusters: string[],
  opts: RotateRootOptions,
): Promise<StepResult> {
  if (state === undefined || (state.phase !== 'add' && state.phase !== 'switch')) {
    throw outOfOrder('switch', state, state ? 'the old root is already dropped' : 'no root rotation is in progress');
  }
  const trust = trustBundleFor(workdir);
  const [oldPem, newPem] = trust.roots;
  const signer = store.readSigner({ ...trust, signer: { certPem: newPem, certFile: NEXT_ROOT_CERT_FILE, keyFile: NEXT_ROOT_KEY_FILE } });
  if (signer.keyPem === undefined)
    throw new InputError(missingSignerKey(NEXT_ROOT_KEY_FILE, 'the switch phase signs every new intermediate with the new root key'));
  const bundle = phaseBundle('switch', oldPem, newPem);

  // Every intermediate must chain to one of the two roots (a re-run finds some already switched).
  const problems: Problem[] = [];
  for (const cluster of clusters) problems.push(...checkIntermediate(workdir, cluster, [oldPem, newPem], trust.rootFiles.join(' + ')));
  if (problems.length > 0) throw new InputError(problems);
  const todo = clusters.filter((c) => {
    const dir = path.join(workdir, CERTS_DIR, c);
    return issuingRootIndex(readCaCert(workdir, c) as string, [newPem]) !== 0 || readIfExists(path.join(dir, 'root-cert.pem')) !== bundle;
  });

  const issuer = { certPem: signer.certPem, keyPem: signer.keyPem };
  const progress = counting(opts.log, `creating intermediate CAs (${mesh.pki.keyAlgorithm})`, todo.length);
  const fresh = await Promise.all(
    todo.map(async (cluster) => {
      const org = organisationOf(readCaCert(workdir, cluster)) ?? mesh.org ?? organisationOf(newPem) ?? 'Istio';
      const made = await createIntermediateCa({
        org,
        cluster,
        root: issuer,
        keyAlgorithm: mesh.pki.keyAlgorithm,
        keySize: opts.caKeySize,
        days: opts.caDays,
        now: opts.now,
      });
      progress();
      return { cluster, files: checked(cluster, { ...made, rootCertPem: bundle }) };
    }),
  );
  const gitignore = ensureGitignore(workdir, KEY_GITIGNORE_LINES);
  writeRotationState(workdir, { ...state, phase: 'switch' });
  for (const { cluster, files } of fresh) store.replaceIntermediate(cluster, files);
  for (const cluster of clusters) store.readIntermediate(cluster);
  const changed = fresh.map((f) => f.cluster);
  return {
    step: 'switch',
    oldRoot: state.oldRoot,
    newRoot: state.newRoot,
    changed,
    unchanged: clusters.filter((c) => !changed.includes(c)),
    reusedRoot: false,
    warnings: [],
    gitignore,
  };
}

function rotateRootFinish(workdir: string, store: CertStore, state: RotationState | undefined, clusters: string[]): StepResult {
  if (state === undefined || (state.phase !== 'switch' && state.phase !== 'finish')) {
    throw outOfOrder('finish', state, state ? 'the intermediates are still issued by the old root' : 'no root rotation is in progress');
  }
  if (state.phase === 'switch') {
    // Only when every intermediate comes from the new root may the old one go.
    store.readRoot();
    const trust = trustBundleFor(workdir);
    const problems: Problem[] = [];
    for (const cluster of clusters) {
      try {
        store.readIntermediate(cluster);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        problems.push(...e.problems);
        continue;
      }
      if (issuingRootIndex(readCaCert(workdir, cluster) as string, [trust.roots[1]]) !== 0) {
        problems.push({
          file: `${CERTS_DIR}/${cluster}/ca-cert.pem`,
          message: 'is still issued by the old root; dropping the old root now would break every workload certificate it signs',
          fix: 'run "meshgen rotate-root --phase switch" again (it issues the missing intermediates from the new root), synth, commit, and wait',
        });
      }
    }
    if (problems.length > 0) throw new InputError(problems);
  }
  const gitignore = ensureGitignore(workdir, KEY_GITIGNORE_LINES);
  if (state.phase === 'switch') writeRotationState(workdir, { ...state, phase: 'finish' });

  // Each step below is idempotent, so a re-run completes an interrupted finish.
  const retiredRel = `${RETIRED_ROOTS_DIR}/${state.oldRoot}`;
  const retired = path.join(workdir, retiredRel);
  const rootCertPath = path.join(workdir, ROOT_CERT_FILE);
  const rootKeyPath = path.join(workdir, ROOT_KEY_FILE);
  const nextPem = readIfExists(path.join(workdir, NEXT_ROOT_CERT_FILE));
  const nextKey = readIfExists(path.join(workdir, NEXT_ROOT_KEY_FILE));
  const rootPem = readIfExists(rootCertPath);
  const rootFp = rootPem === undefined ? undefined : certificateSha256(rootPem);
  if (rootFp === state.oldRoot) {
    if (nextPem === undefined || certificateSha256(nextPem) !== state.newRoot) {
      throw new InputError({
        file: NEXT_ROOT_CERT_FILE,
        message: `is ${nextPem === undefined ? 'missing' : 'not the new root recorded'} in ${ROTATION_FILE}, so it cannot become the root`,
        fix: `restore ${NEXT_ROOT_CERT_FILE} (SHA-256 ${state.newRoot}) from git and run "meshgen rotate-root --phase finish" again`,
      });
    }
    // 1. Keep the old root (certificate, and key where present) under certs/_retired/<sha256>/.
    fs.mkdirSync(retired, { recursive: true, mode: PRIVATE_DIR_MODE });
    fs.chmodSync(path.join(workdir, RETIRED_ROOTS_DIR), PRIVATE_DIR_MODE);
    fs.chmodSync(retired, PRIVATE_DIR_MODE);
    writeFileAtomic(path.join(retired, 'root-cert.pem'), rootPem as string, 0o644, PRIVATE_DIR_MODE);
    const oldKey = readIfExists(rootKeyPath);
    const oldCert = parseCertificate(rootPem as string);
    if (oldKey !== undefined && !(oldCert instanceof Error) && keyMatchesPem(oldCert, oldKey)) {
      writePrivateFile(path.join(retired, 'root-key.pem'), oldKey);
    }
    // 2. The new root becomes the root: key first, certificate last.
    if (nextKey !== undefined) writePrivateFile(rootKeyPath, nextKey);
    else fs.rmSync(rootKeyPath, { force: true });
    writeFileAtomic(rootCertPath, nextPem, 0o644, PRIVATE_DIR_MODE);
  } else if (rootFp === state.newRoot) {
    if (nextKey !== undefined && readIfExists(rootKeyPath) !== nextKey) writePrivateFile(rootKeyPath, nextKey);
  } else {
    trustBundleFor(workdir); // reports a root that is neither
  }
  const newPem = withTrailingNewline(readIfExists(rootCertPath) as string);
  const changed: string[] = [];
  for (const cluster of clusters) {
    const file = path.join(workdir, CERTS_DIR, cluster, 'root-cert.pem');
    if (readIfExists(file) !== newPem) {
      writeFileAtomic(file, newPem, 0o644, PRIVATE_DIR_MODE);
      changed.push(cluster);
    }
  }
  fs.rmSync(path.join(workdir, NEXT_ROOT_DIR), { recursive: true, force: true });
  for (const cluster of clusters) store.readIntermediate(cluster);
  return {
    step: 'finish',
    oldRoot: state.oldRoot,
    newRoot: state.newRoot,
    changed,
    unchanged: [],
    reusedRoot: false,
    retiredDir: retiredRel,
    warnings: [],
    gitignore,
  };
}

function rotateRootDone(workdir: string, store: CertStore, state: RotationState | undefined, clusters: string[]): StepResult {
  if (state?.phase !== 'finish') throw outOfOrder('done', state, state ? 'the old root is still trusted' : 'no root rotation is in progress');
  assertFinishComplete(workdir);
  for (const cluster of clusters) store.readIntermediate(cluster);
  writeRotationState(workdir, undefined);
  return { step: 'done', oldRoot: state.oldRoot, newRoot: state.newRoot, changed: [], unchanged: [], reusedRoot: false, warnings: [], gitignore: [] };
}

// ---------------------------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------------------------

/** A step counter over {@link progressCounter}: reports 0/total at once, then one step per call. */
function counting(log: Logger | undefined, label: string, total: number): () => void {
  if (log === undefined || total === 0) return () => {};
  const report = progressCounter(log, label);
  let done = 0;
  report(0, total);
  return () => report(++done, total);
}

/** After `finish`: the root swap is complete and `certs/_next/` is gone. */
function assertFinishComplete(workdir: string): void {
  trustBundleFor(workdir);
  if (fs.existsSync(path.join(workdir, NEXT_ROOT_DIR))) {
    throw new InputError({
      file: `${NEXT_ROOT_DIR}/`,
      message: 'still exists: "meshgen rotate-root --phase finish" was interrupted',
      fix: 'run "meshgen rotate-root --phase finish" again to complete it',
    });
  }
}

/** Finds clusters by name, else by kube context; every unknown value is one problem. */
export function resolveClusters(mesh: Mesh, values: readonly string[], flag: string): Cluster[] {
  const problems: Problem[] = [];
  const out: Cluster[] = [];
  for (const v of values) {
    const c = mesh.clusters.find((x) => x.name === v) ?? mesh.clusters.find((x) => x.context === v);
    if (c) {
      if (!out.includes(c)) out.push(c);
      continue;
    }
    const known = [...new Set(mesh.clusters.flatMap((x) => [x.name, x.context]))];
    const hint = nearest(v, known);
    problems.push({
      file: 'command line',
      path: flag,
      message: `${JSON.stringify(v)} is neither a cluster nor a context of topology.yaml${hint ? `; did you mean "${hint}"?` : ''}`,
      fix: `use one of: ${mesh.clusters.map((x) => (x.name === x.context ? x.name : `${x.name} (context ${x.context})`)).join(', ')}`,
    });
  }
  if (problems.length > 0) throw new InputError(problems);
  return out;
}

/** Appends the missing {@link ROTATION_GITIGNORE_LINES} to `.gitignore` (created if absent); returns the lines added. */
function readCaCert(workdir: string, cluster: string): string | undefined {
  return readIfExists(path.join(workdir, CERTS_DIR, cluster, 'ca-cert.pem'));
}

function keyMatchesPem(cert: crypto.X509Certificate, keyPem: string): boolean {
  try {
    return keyMatches(cert, crypto.createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** A freshly issued intermediate must pass what synth will check; anything else is a bug in meshgen. */
function checked(cluster: string, files: IntermediateCaFiles): IntermediateCaFiles {
  const problems = verifyIntermediate(files, { cluster, dir: `${CERTS_DIR}/${cluster}`, rootFile: 'the trust bundle' });
  if (problems.length > 0) throw new Error(`internal error: the new intermediate of ${cluster} does not verify: ${problems[0].message}`);
  return files;
}

/** Problems of a cluster's intermediate against some roots: parse, CA, chain to one of them, key match. */
function checkIntermediate(workdir: string, cluster: string, roots: readonly string[], rootFile: string): Problem[] {
  const dir = path.join(workdir, CERTS_DIR, cluster);
  const caCertPem = readIfExists(path.join(dir, 'ca-cert.pem'));
  if (caCertPem === undefined) return [];
  const caKeyPem = readIfExists(path.join(dir, 'ca-key.pem'));
  return verifyIntermediate({ caCertPem, caKeyPem, rootCertPem: roots.join('') }, { cluster, dir: `${CERTS_DIR}/${cluster}`, rootFile });
}

function assertNoInterruptedRotation(store: CertStore, clusters: readonly string[]): void {
  const left = clusters.filter((c) => store.interruptedRotation(c) !== 'none');
  if (left.length === 0) return;
  throw new InputError(
    left.map((c) => ({
      file: `${CERTS_DIR}/${c}/`,
      message: `holds *${STAGED_SUFFIX} files of an interrupted "meshgen rotate"`,
      fix: `run "meshgen rotate --cluster ${c}" first (it completes or discards them)`,
    })),
  );
}

function missingSignerKey(keyFile: string, why: string): Problem {
  return {
    file: keyFile,
    message: `is absent; ${why}`,
    fix: `put the root key at ${keyFile} (it is git-ignored; keep it offline otherwise) and run the command again`,
  };
}

function outOfOrder(step: RootRotationStep, state: RotationState | undefined, why: string): InputError {
  const next: Record<'none' | RotationPhase, string> = {
    none: '"meshgen rotate-root --phase add" starts one',
    add: 'the next step is "meshgen rotate-root --phase switch"',
    switch: 'the next step is "meshgen rotate-root --phase finish"',
    finish: 'the next step is "meshgen rotate-root --phase done" (or "--phase add" to start another rotation)',
  };
  return new InputError({
    file: ROTATION_FILE,
    message: `${state ? `says phase ${state.phase}` : 'does not exist'}, so --phase ${step} cannot run: ${why}`,
    fix: next[state?.phase ?? 'none'],
  });
}
