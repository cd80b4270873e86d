import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError, type Problem, show } from '../errors';
import { faultPoint } from '../fault';
import { PRIVATE_DIR_MODE, readIfExists, TMP_SUFFIX, writeFileAtomic, writePrivateFile } from '../fs-util';
import { createIntermediateCa, type IntermediateCaFiles, issuingRootIndex, keyMatches, parseCertificate, verifyIntermediate } from './ca';
import { pemCertificates } from './certificate';
import { describeKey, type KeyAlgorithm, keyAlgorithmOf } from './keys';
import {
  NEXT_ROOT_CERT_FILE,
  NEXT_ROOT_KEY_FILE,
  RETIRED_ROOTS_DIR,
  ROOT_CERT_FILE,
  ROOT_KEY_FILE,
  type RotationPhase,
  rotationState,
  type TrustBundle,
  trustBundleFor,
  withTrailingNewline,
} from './rotation';

/** The certificate store's folder, relative to the work directory. */
export const CERTS_DIR = 'certs';

const PUBLIC_FILE_MODE = 0o644;

/** The root certificate while {@link CertStore.writeRoot} writes the key (a temporary name: git-ignored, swept). */
const ROOT_CERT_PENDING = `root-cert.pem${TMP_SUFFIX}pending`;

/**
 * Suffix of a cluster's files staged by a rotation: all four are written in full under `<file>.rotating` (the key
 * first, `ca-cert.pem.rotating` last), then renamed into place in the same order, `ca-cert.pem` last. So
 * `ca-cert.pem.rotating` exists exactly while a rotation is committed but not finished, and the files can always be
 * completed (rolled forward); without it, staged files are an unfinished staging and the files in use are untouched.
 */
export const STAGED_SUFFIX = '.rotating';

/** The `cacerts` files in the order a rotation stages them and moves them into place: the certificate last. */
const ROTATION_ORDER = ['ca-key.pem', 'root-cert.pem', 'cert-chain.pem', 'ca-cert.pem'] as const;

/**
 * State of a cluster's files after an interrupted rotation: `staging` (some `*.rotating` files, no
 * `ca-cert.pem.rotating`: the files in use are untouched), `replacing` (`ca-cert.pem.rotating` exists: some files may
 * already be the new ones, so `ca-key.pem` and `ca-cert.pem` may not match), or `none`.
 */
export type InterruptedRotation = 'none' | 'staging' | 'replacing';

/** The roots an intermediate may chain to and what each cluster's `root-cert.pem` must be (see {@link TrustBundle}). */
interface Trust {
  readonly phase: 'none' | RotationPhase;
  readonly roots: readonly string[];
  readonly rootFiles: readonly string[];
  readonly bundle: string;
}

/** A cluster's intermediate CA as read from `certs/<cluster>/`; the key is absent where it is not kept (e.g. in CI). */
export interface IntermediatePublic {
  /** `certs/<cluster>/ca-cert.pem`. */
  readonly caCertPem: string;
  /** `certs/<cluster>/cert-chain.pem` (intermediate + the root that issued it). */
  readonly certChainPem: string;
  /** `certs/<cluster>/root-cert.pem`: `certs/root-cert.pem`, or during a root rotation the trust bundle of the phase. */
  readonly rootCertPem: string;
  /** `certs/<cluster>/ca-key.pem`, when present. */
  readonly caKeyPem?: string;
}

/** Options of {@link CertStore.ensureIntermediates}. */
export interface EnsureIntermediatesOptions {
  /** Organisation (`O`) of new intermediates. */
  readonly org: string;
  /**
   * Key algorithm of new intermediates (`pki.keyAlgorithm`); existing intermediates keep theirs.
   * @default 'rsa-4096'
   */
  readonly keyAlgorithm?: KeyAlgorithm;
  /**
   * RSA modulus size of new intermediates (`rsa-4096` only).
   * @default 4096
   */
  readonly keySize?: number;
  /**
   * Validity of new intermediates in days.
   * @default 3650
   */
  readonly days?: number;
  /** Whether missing intermediates may be created; false in frozen mode (`synth --frozen`). */
  readonly allowCreate: boolean;
  /** Called with (0, total) before creating `total` intermediates, then after each one. */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Write the new intermediates to `certs/<cluster>/` at once. False: keep them in memory only (returned in
   * `pending`), for a caller that writes them with {@link CertStore.writeIntermediate} once its whole run can complete.
   * @default true
   */
  readonly write?: boolean;
}

/** Result of {@link CertStore.ensureIntermediates}. */
export interface EnsureIntermediatesResult {
  /** Clusters whose intermediate was created by this call, in the order they were asked for. */
  readonly created: string[];
  /** Every asked-for cluster's intermediate, in the order they were asked for. */
  readonly intermediates: Map<string, IntermediatePublic>;
  /** With `write: false`: the files of the created intermediates, not written yet. */
  readonly pending: Map<string, IntermediateCaFiles>;
}

/**
 * The `certs/` folder of a work directory: the mesh's root CA and one intermediate CA per cluster.
 *
 * Layout (SPEC §2): `certs/root-cert.pem` (public), `certs/root-key.pem` (private, 0600);
 * `certs/<cluster>/{ca-cert.pem, cert-chain.pem, root-cert.pem}` (public), `certs/<cluster>/ca-key.pem`
 * (private, 0600); directories holding private keys are 0700. During a root rotation also `certs/rotation.yaml`,
 * `certs/_next/` and afterwards `certs/_retired/<sha256>/` (see `rotation.ts`); `certs/<cluster>/*.rotating` only
 * while {@link replaceIntermediate} runs. Everything read is validated: problems name the file and the fix, and are
 * thrown together as an {@link InputError}.
 */
export class CertStore {
  /** Absolute path of the `certs/` folder. */
  public readonly dir: string;
  /** Absolute path of the work directory. */
  public readonly workdir: string;

  /**
   * @param workdir the work directory holding `certs/`.
   */
  constructor(workdir: string) {
    this.workdir = path.resolve(workdir);
    this.dir = path.join(this.workdir, CERTS_DIR);
  }

  /** Whether `certs/root-key.pem` exists, i.e. new intermediates can be signed here. */
  public hasRootKey(): boolean {
    return fs.existsSync(path.join(this.dir, 'root-key.pem'));
  }

  /**
   * The private files under `certs/` (root keys, intermediate keys, kept reader tokens) that group or others may read
   * or write: each should be 0600. Empty on Windows, where modes say nothing.
   */
  public privateFileModeProblems(): Problem[] {
    if (process.platform === 'win32') return [];
    const files = [ROOT_KEY_FILE, NEXT_ROOT_KEY_FILE];
    const dirs = listDirs(this.dir);
    for (const d of dirs)
      files.push(`${CERTS_DIR}/${d}/ca-key.pem`, `${CERTS_DIR}/${d}/ca-key.pem${STAGED_SUFFIX}`, `${CERTS_DIR}/${d}/reader-token`);
    for (const d of listDirs(path.join(this.workdir, RETIRED_ROOTS_DIR))) files.push(`${RETIRED_ROOTS_DIR}/${d}/root-key.pem`);
    const problems: Problem[] = [];
    for (const file of files) {
      let mode: number;
      try {
        mode = fs.statSync(path.join(this.workdir, file)).mode & 0o777;
      } catch {
        continue;
      }
      if ((mode & 0o077) === 0) continue;
      problems.push({
        file,
        message: `is a private file with mode ${mode.toString(8).padStart(4, '0')}: ${mode & 0o044 ? 'readable' : 'writable'} by ${
          mode & 0o070 ? (mode & 0o007 ? 'group and others' : 'group') : 'others'
        }`,
        fix: `chmod 600 ${file} (and chmod 700 ${path.posix.dirname(file)}); if other users could read it, replace the key`,
      });
    }
    return problems;
  }

  /**
   * Reads and validates the root CA.
   *
   * @returns undefined when `certs/root-cert.pem` does not exist; `keyPem` is absent when `certs/root-key.pem` is.
   * @throws InputError when the certificate does not parse or is not a CA, or the key does not parse, is neither RSA
   *   nor ECDSA P-256 / P-384, or does not match the certificate.
   */
  public readRoot(): { certPem: string; keyPem?: string } | undefined {
    return this.readRootAt(ROOT_CERT_FILE, ROOT_KEY_FILE);
  }

  /**
   * The trust of the mesh in the current root rotation phase (`certs/rotation.yaml`): the bundle every cluster's
   * `root-cert.pem` must be, the roots an intermediate may chain to, and the root that signs new intermediates.
   *
   * @throws InputError when the root is missing or the rotation state does not match the root files.
   */
  public readTrust(): TrustBundle {
    return trustBundleFor(this.workdir);
  }

  /**
   * The root that signs new intermediates in the current phase (`certs/root-*.pem`, or `certs/_next/root-*.pem` in
   * the switch phase of a root rotation), validated like {@link readRoot}.
   *
   * @returns the certificate, its key when present on this machine, and the files they come from.
   * @throws InputError when the certificate is missing or invalid, or the key does not match it.
   */
  public readSigner(trust: TrustBundle = this.readTrust()): { certPem: string; keyPem?: string; certFile: string; keyFile: string } {
    const { certFile, keyFile } = trust.signer;
    const found = this.readRootAt(certFile, keyFile);
    if (found === undefined) {
      throw new InputError({ file: certFile, message: 'is missing', fix: `restore ${certFile} from git` });
    }
    return { ...found, certFile, keyFile };
  }

  /**
   * Writes the root CA: the key first (0600, `certs/` made 0700), then the certificate (0644), each atomically.
   *
   * Replaces existing files; callers decide whether that is allowed (`prep --force`).
   */
  public writeRoot(files: { certPem: string; keyPem: string }): void {
    // The certificate is written beside its place first, so that a crash between the key and the certificate leaves
    // what {@link resumeRootWrite} completes, never a key without its certificate.
    const pending = path.join(this.dir, ROOT_CERT_PENDING);
    writeFileAtomic(pending, files.certPem, PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
    writePrivateFile(path.join(this.dir, 'root-key.pem'), files.keyPem);
    fs.chmodSync(this.dir, PRIVATE_DIR_MODE);
    faultPoint('root.key-written');
    fs.renameSync(pending, path.join(this.dir, 'root-cert.pem'));
  }

  /**
   * Completes a {@link writeRoot} that was interrupted: when the pending certificate belongs to `root-key.pem`, it is
   * moved into place; otherwise (the key was not written yet) it is dropped.
   *
   * @returns whether the root was completed
   */
  public resumeRootWrite(): boolean {
    const pending = path.join(this.dir, ROOT_CERT_PENDING);
    const certPem = readIfExists(pending);
    if (certPem === undefined) return false;
    const keyPem = readIfExists(path.join(this.dir, 'root-key.pem'));
    const cert = parseCertificate(certPem);
    let matches = false;
    try {
      matches = keyPem !== undefined && !(cert instanceof Error) && keyMatches(cert, crypto.createPrivateKey(keyPem));
    } catch {
      matches = false;
    }
    if (matches) fs.renameSync(pending, path.join(this.dir, 'root-cert.pem'));
    else fs.rmSync(pending, { force: true });
    return matches;
  }

  /**
   * Reads and validates a cluster's intermediate CA against the root.
   *
   * Checks what istiod checks (see {@link verifyIntermediate}), and that `cert-chain.pem` is `ca-cert.pem` followed by
   * the root that issued it and `root-cert.pem` is the root (compared certificate by certificate, so line endings do
   * not matter). During a root rotation (`certs/rotation.yaml`) the intermediate may chain to the old or the new root,
   * and `root-cert.pem` must be the trust bundle of the phase. Files left by an interrupted rotation are reported.
   *
   * @param cluster the cluster name (the directory under `certs/`).
   * @param rootCertPem the mesh's root certificate (`certs/root-cert.pem`; read when omitted). During a root rotation,
   *   when it is one of the rotation's roots, the phase's trust is used instead; another root is checked strictly.
   * @returns undefined when `certs/<cluster>/ca-cert.pem` does not exist.
   * @throws InputError listing every problem found.
   */
  public readIntermediate(cluster: string, rootCertPem?: string): IntermediatePublic | undefined {
    assertClusterDir(cluster);
    const { files, problems } = this.inspectIntermediate(cluster, this.trustFor(rootCertPem));
    if (problems.length > 0) throw new InputError(problems);
    return files;
  }

  /**
   * Writes a cluster's four `cacerts` files. The key is written first (0600, directory 0700) and `ca-cert.pem` last,
   * so an interrupted write leaves no `ca-cert.pem` without its key, and the next run issues the intermediate again.
   * For replacing an existing intermediate, use {@link replaceIntermediate}.
   */
  public writeIntermediate(cluster: string, files: IntermediateCaFiles): void {
    assertClusterDir(cluster);
    const dir = path.join(this.dir, cluster);
    writePrivateFile(path.join(dir, 'ca-key.pem'), files.caKeyPem);
    fs.chmodSync(dir, PRIVATE_DIR_MODE);
    faultPoint('intermediate.key-written');
    writeFileAtomic(path.join(dir, 'root-cert.pem'), files.rootCertPem, PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
    writeFileAtomic(path.join(dir, 'cert-chain.pem'), files.certChainPem, PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
    writeFileAtomic(path.join(dir, 'ca-cert.pem'), files.caCertPem, PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
    faultPoint('intermediate.written');
  }

  /**
   * Replaces a cluster's intermediate CA so that no interruption leaves a key with the wrong certificate in use
   * unnoticed: the four new files are first written in full as `<file>.rotating` (the key first, 0600;
   * `ca-cert.pem.rotating` last), then renamed over the files in use in the same order, `ca-cert.pem` last.
   * An interrupted replacement is reported by every read ({@link readIntermediate}, {@link ensureIntermediates}) and
   * completed or discarded by {@link resumeRotation}.
   *
   * @throws InputError when an earlier replacement of this cluster was interrupted half-way (resume it first).
   */
  public replaceIntermediate(cluster: string, files: IntermediateCaFiles): void {
    assertClusterDir(cluster);
    if (this.interruptedRotation(cluster) === 'replacing') throw new InputError(interruptedProblem(cluster, 'replacing'));
    const dir = path.join(this.dir, cluster);
    this.discardStaged(cluster);
    const content: Record<(typeof ROTATION_ORDER)[number], string> = {
      'ca-key.pem': files.caKeyPem,
      'root-cert.pem': files.rootCertPem,
      'cert-chain.pem': files.certChainPem,
      'ca-cert.pem': files.caCertPem,
    };
    for (const f of ROTATION_ORDER) {
      const staged = path.join(dir, f + STAGED_SUFFIX);
      if (f === 'ca-key.pem') {
        writePrivateFile(staged, content[f]);
        fs.chmodSync(dir, PRIVATE_DIR_MODE);
      } else writeFileAtomic(staged, content[f], PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
    }
    // ca-cert.pem.rotating exists: the replacement is committed; from here on it can only be completed.
    faultPoint('rotate.staged');
    this.moveStagedIntoPlace(cluster);
  }

  /**
   * Whether a rotation of the cluster's intermediate was interrupted (see {@link InterruptedRotation}).
   *
   * @param cluster the cluster name.
   */
  public interruptedRotation(cluster: string): InterruptedRotation {
    assertClusterDir(cluster);
    const has = (f: string) => fs.existsSync(path.join(this.dir, cluster, f + STAGED_SUFFIX));
    if (has('ca-cert.pem')) return 'replacing';
    return ROTATION_ORDER.some(has) ? 'staging' : 'none';
  }

  /**
   * Finishes what an interrupted rotation of the cluster's intermediate left: a committed replacement
   * (`ca-cert.pem.rotating` exists) is completed, an unfinished staging is discarded.
   *
   * @returns `completed`, `discarded`, or `none` when there was nothing to do.
   */
  public resumeRotation(cluster: string): 'none' | 'completed' | 'discarded' {
    const state = this.interruptedRotation(cluster);
    if (state === 'replacing') {
      this.moveStagedIntoPlace(cluster);
      return 'completed';
    }
    if (state === 'staging') {
      this.discardStaged(cluster);
      return 'discarded';
    }
    return 'none';
  }

  /**
   * Makes sure every cluster has a valid intermediate CA, creating the missing ones.
   *
   * Reads and verifies every existing intermediate first and reports all problems together. Missing intermediates
   * are created in parallel (native keygen, at most one per CPU at a time) when `allowCreate` is set and the key of
   * the signing root is present (`certs/root-key.pem`; `certs/_next/root-key.pem` in the switch phase of a root
   * rotation); otherwise each missing one is a problem naming its `ca-cert.pem` and the fix. New intermediates get
   * the trust bundle of the phase as `root-cert.pem` and `cert-chain.pem` = intermediate + signing root.
   *
   * @param clusters cluster names (DNS-1123 labels); duplicates are ignored.
   * @throws InputError when the root is missing or invalid, an intermediate is invalid, or one is missing and cannot
   *   be created. Nothing is written in that case.
   */
  public async ensureIntermediates(clusters: string[], opts: EnsureIntermediatesOptions): Promise<EnsureIntermediatesResult> {
    const names = [...new Set(clusters)];
    const nameProblems = names.flatMap(clusterDirProblems);
    if (nameProblems.length > 0) throw new InputError(nameProblems);
    if (names.length === 0) return { created: [], intermediates: new Map(), pending: new Map() };

    const root = this.readRoot();
    if (root === undefined) {
      throw new InputError({
        file: `${CERTS_DIR}/root-cert.pem`,
        message: "is missing, so the clusters' intermediate CAs can be neither checked nor issued",
        fix: 'run "meshgen prep --org <org>" to create the root CA, or restore certs/root-cert.pem and certs/root-key.pem from where they are kept',
      });
    }
    const trustBundle = this.readTrust();
    const trust = trustOf(trustBundle);

    const problems: Problem[] = [];
    const existing = new Map<string, IntermediatePublic>();
    const missing: string[] = [];
    for (const cluster of names) {
      const found = this.inspectIntermediate(cluster, trust);
      problems.push(...found.problems);
      if (found.files) existing.set(cluster, found.files);
      else if (found.problems.length === 0) missing.push(cluster);
    }
    const signer = missing.length > 0 && opts.allowCreate ? this.readSigner(trustBundle) : undefined;
    const keyFile = trustBundle.signer.keyFile;
    for (const cluster of missing) {
      const copy = `or issue it where the root key is kept and commit ${CERTS_DIR}/${cluster}/ (ca-key.pem stays git-ignored)`;
      if (!opts.allowCreate) {
        problems.push({
          file: `${CERTS_DIR}/${cluster}/ca-cert.pem`,
          message: `is missing and frozen mode (--frozen) does not create keys, so cluster ${show(cluster)} has no intermediate CA`,
          fix: `run "meshgen synth" without --frozen where ${keyFile} is present, and commit ${CERTS_DIR}/${cluster}/`,
        });
      } else if (signer?.keyPem === undefined) {
        problems.push({
          file: `${CERTS_DIR}/${cluster}/ca-cert.pem`,
          message: `is missing and cannot be created because the root key ${keyFile} is absent`,
          fix: `put the root key at ${keyFile} (it is git-ignored) and run synth again, ${copy}`,
        });
      }
    }
    if (problems.length > 0) throw new InputError(problems);

    const made = new Map<string, IntermediateCaFiles>();
    if (missing.length > 0 && signer?.keyPem !== undefined) {
      const issuer = { certPem: signer.certPem, keyPem: signer.keyPem };
      let done = 0;
      opts.onProgress?.(0, missing.length);
      await forEachLimited(missing, maxParallel(), async (cluster) => {
        const created = await createIntermediateCa({
          org: opts.org,
          cluster,
          root: issuer,
          keyAlgorithm: opts.keyAlgorithm,
          keySize: opts.keySize,
          days: opts.days,
        });
        const files = { ...created, rootCertPem: trust.bundle };
        if (opts.write !== false) this.writeIntermediate(cluster, files);
        made.set(cluster, files);
        done += 1;
        opts.onProgress?.(done, missing.length);
      });
    }
    const intermediates = new Map<string, IntermediatePublic>();
    for (const cluster of names) {
      const files = existing.get(cluster) ?? made.get(cluster);
      if (files) intermediates.set(cluster, files);
    }
    return { created: missing, intermediates, pending: opts.write === false ? made : new Map() };
  }

  /** The trust to check an intermediate against; see {@link readIntermediate} for `rootCertPem`. */
  private trustFor(rootCertPem?: string): Trust {
    if (rotationState(this.workdir) !== undefined) {
      const bundle = this.readTrust();
      const given = rootCertPem === undefined ? undefined : pemCertificates(rootCertPem);
      if (given === undefined || bundle.roots.some((r) => sameCertificates(pemCertificates(r), given))) return trustOf(bundle);
    }
    const root = rootCertPem ?? readIfExists(path.join(this.dir, 'root-cert.pem'));
    if (root === undefined) {
      throw new InputError({ file: ROOT_CERT_FILE, message: 'the root CA is missing', fix: 'run `meshgen prep --mesh-id <id> --org <org>`' });
    }
    return { phase: 'none', roots: [root], rootFiles: [ROOT_CERT_FILE], bundle: root };
  }

  private readRootAt(certFile: string, keyFile: string): { certPem: string; keyPem?: string } | undefined {
    const certPem = readIfExists(path.join(this.workdir, certFile));
    if (certPem === undefined) return undefined;
    const keyPem = readIfExists(path.join(this.workdir, keyFile));
    const restore =
      certFile === ROOT_CERT_FILE
        ? 'restore both root files from where they are kept, or run "meshgen prep --force" to create a new root ' +
          '(every intermediate must then be reissued)'
        : `restore both files of the new root from where they are kept (${certFile} is committed)`;

    const problems: Problem[] = [];
    const cert = parseCertificate(certPem);
    if (cert instanceof Error) {
      problems.push({ file: certFile, message: `is not a valid PEM certificate (${cert.message})`, fix: restore });
    } else if (!cert.ca) {
      problems.push({
        file: certFile,
        message: `certificate "${cert.subject.replace(/\n/g, ', ')}" is not a CA (basicConstraints CA:TRUE is missing)`,
        fix: restore,
      });
    }
    if (keyPem !== undefined) {
      let key: crypto.KeyObject | undefined;
      try {
        key = crypto.createPrivateKey(keyPem);
      } catch (e) {
        problems.push({ file: keyFile, message: `is not a valid PEM private key (${e instanceof Error ? e.message : String(e)})`, fix: restore });
      }
      if (key && keyAlgorithmOf(key) === undefined) {
        problems.push({
          file: keyFile,
          message: `holds a key meshgen cannot sign with (${describeKey(key)}); meshgen signs intermediates with RSA or ECDSA P-256 / P-384 keys only`,
          fix: restore,
        });
      } else if (key && !(cert instanceof Error) && !keyMatches(cert, key)) {
        problems.push({
          file: keyFile,
          message: `does not match the certificate in ${certFile} (the public keys differ)`,
          fix: this.finishInterrupted() ? 'run "meshgen rotate-root --phase finish" again: it was interrupted while replacing the root' : restore,
        });
      }
    }
    if (problems.length > 0) throw new InputError(problems);
    return keyPem === undefined ? { certPem } : { certPem, keyPem };
  }

  /** Whether a root rotation is in phase finish (a root whose key does not match may be a half-done swap). */
  private finishInterrupted(): boolean {
    try {
      return rotationState(this.workdir)?.phase === 'finish';
    } catch {
      return false;
    }
  }

  private moveStagedIntoPlace(cluster: string): void {
    const dir = path.join(this.dir, cluster);
    for (const f of ROTATION_ORDER) {
      const staged = path.join(dir, f + STAGED_SUFFIX);
      if (fs.existsSync(staged)) {
        fs.renameSync(staged, path.join(dir, f));
        faultPoint('rotate.file-moved');
      }
    }
  }

  private discardStaged(cluster: string): void {
    for (const f of ROTATION_ORDER) fs.rmSync(path.join(this.dir, cluster, f + STAGED_SUFFIX), { force: true });
  }

  private inspectIntermediate(cluster: string, trust: Trust): { files?: IntermediatePublic; problems: Problem[] } {
    const dir = `${CERTS_DIR}/${cluster}`;
    const abs = path.join(this.dir, cluster);
    const interrupted = this.interruptedRotation(cluster);
    if (interrupted !== 'none') {
      const staged = ROTATION_ORDER.filter((f) => fs.existsSync(path.join(abs, f + STAGED_SUFFIX)));
      return { problems: [interruptedProblem(cluster, interrupted, staged)] };
    }
    const caCertPem = readIfExists(path.join(abs, 'ca-cert.pem'));
    if (caCertPem === undefined) return { problems: [] };
    const caKeyPem = readIfExists(path.join(abs, 'ca-key.pem'));
    const certChainPem = readIfExists(path.join(abs, 'cert-chain.pem'));
    const clusterRootPem = readIfExists(path.join(abs, 'root-cert.pem'));
    const rotating = trust.phase !== 'none';
    const rootFile = trust.rootFiles.join(' + ');

    const problems = verifyIntermediate({ caCertPem, caKeyPem, rootCertPem: trust.bundle }, { cluster, dir, rootFile });
    // meshgen names each intermediate after its cluster (L=<cluster>, as common.mk's `<dir>` does): another cluster's
    // intermediate here (directories swapped or copied) would give this cluster the wrong identity.
    const parsed = parseCertificate(caCertPem);
    const locality = parsed instanceof Error ? undefined : /(?:^|\n)L=([^\n]*)/.exec(parsed.subject)?.[1];
    if (locality !== undefined && locality !== cluster) {
      problems.push({
        file: `${dir}/ca-cert.pem`,
        message: `is the intermediate CA of cluster ${show(locality)} (L=${locality}), not of ${show(cluster)}: certs/ directories swapped or copied?`,
        fix: `restore ${dir}/ from git, or move it back to ${CERTS_DIR}/${locality}/; to issue a new intermediate for ${cluster}, delete ${dir}/ and run synth`,
      });
    }
    // The chain is derived from ca-cert.pem and its root: when either is broken, that is the problem to report.
    const issuer = issuingRootIndex(caCertPem, trust.roots);
    const chainComparable = issuer >= 0 && !problems.some((p) => p.file === `${dir}/ca-cert.pem` || p.file === rootFile);
    const issuerFile = trust.rootFiles[Math.max(0, issuer)];
    const rootComparable = pemCertificates(trust.bundle).length > 0 && !(parseCertificate(trust.bundle) instanceof Error);
    if (certChainPem === undefined) {
      problems.push({
        file: `${dir}/cert-chain.pem`,
        message: 'is missing; istiod needs the chain from the intermediate to the root',
        fix: `recreate it: cat ${dir}/ca-cert.pem ${issuerFile} > ${dir}/cert-chain.pem`,
      });
    } else if (
      chainComparable &&
      !sameCertificates(pemCertificates(certChainPem), [...pemCertificates(caCertPem), ...pemCertificates(trust.roots[issuer])])
    ) {
      problems.push({
        file: `${dir}/cert-chain.pem`,
        message: `is not ${dir}/ca-cert.pem followed by ${issuerFile}`,
        fix: `recreate it: cat ${dir}/ca-cert.pem ${issuerFile} > ${dir}/cert-chain.pem`,
      });
    }
    const bundleDescription = describeBundle(trust);
    if (clusterRootPem === undefined) {
      problems.push({
        file: `${dir}/root-cert.pem`,
        message: 'is missing',
        fix: rotating
          ? `run "meshgen rotate-root --phase ${trust.phase}" again: it writes ${bundleDescription} there`
          : `copy it: cp ${CERTS_DIR}/root-cert.pem ${dir}/root-cert.pem`,
      });
    } else if (rootComparable && !sameCertificates(pemCertificates(clusterRootPem), pemCertificates(trust.bundle))) {
      problems.push(
        rotating
          ? {
              file: `${dir}/root-cert.pem`,
              message: `is not the trust bundle of root rotation phase ${trust.phase} (${bundleDescription}), which every cluster must carry`,
              fix: `run "meshgen rotate-root --phase ${trust.phase}" again (an interrupted run leaves some clusters behind), or restore ${dir}/ from git`,
            }
          : {
              file: `${dir}/root-cert.pem`,
              message: `differs from ${CERTS_DIR}/root-cert.pem; every cluster of a mesh must trust the same root`,
              fix: `copy it: cp ${CERTS_DIR}/root-cert.pem ${dir}/root-cert.pem (and reissue the intermediate if it belongs to the other root)`,
            },
      );
    }
    if (problems.length > 0 || certChainPem === undefined || clusterRootPem === undefined) return { problems };
    const files: IntermediatePublic =
      caKeyPem === undefined
        ? { caCertPem, certChainPem, rootCertPem: clusterRootPem }
        : { caCertPem, certChainPem, rootCertPem: clusterRootPem, caKeyPem };
    return { files, problems };
  }
}

function trustOf(bundle: TrustBundle): Trust {
  return { phase: bundle.phase, roots: bundle.roots.map(withTrailingNewline), rootFiles: bundle.rootFiles, bundle: bundle.rootBundlePem };
}

function describeBundle(trust: Trust): string {
  switch (trust.phase) {
    case 'add':
      return `${ROOT_CERT_FILE} followed by ${NEXT_ROOT_CERT_FILE}`;
    case 'switch':
      return `${ROOT_CERT_FILE} followed by ${NEXT_ROOT_CERT_FILE} twice`;
    default:
      return ROOT_CERT_FILE;
  }
}

function interruptedProblem(cluster: string, state: Exclude<InterruptedRotation, 'none'>, staged: readonly string[] = ['ca-key.pem']): Problem {
  const dir = `${CERTS_DIR}/${cluster}`;
  if (state === 'replacing') {
    return {
      file: `${dir}/ca-cert.pem${STAGED_SUFFIX}`,
      message:
        'exists: a rotation of this intermediate CA was interrupted while its files were being replaced, so ' +
        `${dir}/ca-key.pem and ${dir}/ca-cert.pem may belong to different intermediates`,
      fix: `run "meshgen rotate --cluster ${cluster}": it completes the interrupted rotation (moves the *${STAGED_SUFFIX} files into place) without issuing another`,
    };
  }
  const [first, ...others] = staged;
  return {
    file: `${dir}/${first}${STAGED_SUFFIX}`,
    message:
      `${others.length > 0 ? `and ${others.map((f) => f + STAGED_SUFFIX).join(', ')} were` : 'was'} left by a rotation interrupted ` +
      'before it replaced anything (the intermediate in use is unchanged)',
    fix: `run "meshgen rotate --cluster ${cluster}" to issue a new intermediate (it discards them), or delete ${dir}/*${STAGED_SUFFIX}`,
  };
}

function clusterDirProblems(cluster: string): Problem[] {
  const bad = typeof cluster !== 'string' || cluster.length === 0 || /[/\\\0]/.test(cluster) || cluster.includes('..') || cluster.startsWith('.');
  if (!bad) return [];
  return [
    {
      file: 'topology.yaml',
      message: `cluster name ${show(cluster)} cannot be a directory under ${CERTS_DIR}/ (empty, contains "/", "\\" or "..", or starts with ".")`,
      fix: 'use a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
    },
  ];
}

function assertClusterDir(cluster: string): void {
  const problems = clusterDirProblems(cluster);
  if (problems.length > 0) throw new InputError(problems);
}

/** The subdirectories of `dir` (none when it does not exist). */
function listDirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

function sameCertificates(a: Buffer[], b: Buffer[]): boolean {
  return a.length === b.length && a.every((der, i) => der.equals(b[i]));
}

function maxParallel(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Runs `fn` over `items` with at most `limit` at a time; after a failure starts no more, waits for the running ones, rethrows. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}
