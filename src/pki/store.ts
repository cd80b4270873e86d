import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError, type Problem, show } from '../errors';
import { PRIVATE_DIR_MODE, readIfExists, writeFileAtomic, writePrivateFile } from '../fs-util';
import { createIntermediateCa, type IntermediateCaFiles, keyMatches, parseCertificate, verifyIntermediate } from './ca';
import { pemCertificates } from './certificate';

/** The certificate store's folder, relative to the work directory. */
export const CERTS_DIR = 'certs';

const PUBLIC_FILE_MODE = 0o644;

/** A cluster's intermediate CA as read from `certs/<cluster>/`; the key is absent where it is not kept (e.g. in CI). */
export interface IntermediatePublic {
  /** `certs/<cluster>/ca-cert.pem`. */
  readonly caCertPem: string;
  /** `certs/<cluster>/cert-chain.pem` (intermediate + root). */
  readonly certChainPem: string;
  /** `certs/<cluster>/root-cert.pem` (equal to `certs/root-cert.pem`). */
  readonly rootCertPem: string;
  /** `certs/<cluster>/ca-key.pem`, when present. */
  readonly caKeyPem?: string;
}

/** Options of {@link CertStore.ensureIntermediates}. */
export interface EnsureIntermediatesOptions {
  /** Organisation (`O`) of new intermediates. */
  readonly org: string;
  /**
   * RSA modulus size of new intermediates.
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
}

/** Result of {@link CertStore.ensureIntermediates}. */
export interface EnsureIntermediatesResult {
  /** Clusters whose intermediate was created by this call, in the order they were asked for. */
  readonly created: string[];
  /** Every asked-for cluster's intermediate, in the order they were asked for. */
  readonly intermediates: Map<string, IntermediatePublic>;
}

/**
 * The `certs/` folder of a work directory: the mesh's root CA and one intermediate CA per cluster.
 *
 * Layout (SPEC §2): `certs/root-cert.pem` (public), `certs/root-key.pem` (private, 0600);
 * `certs/<cluster>/{ca-cert.pem, cert-chain.pem, root-cert.pem}` (public), `certs/<cluster>/ca-key.pem`
 * (private, 0600); directories holding private keys are 0700. Everything read is validated: problems name the file
 * and the fix, and are thrown together as an {@link InputError}.
 */
export class CertStore {
  /** Absolute path of the `certs/` folder. */
  public readonly dir: string;

  /**
   * @param workdir the work directory holding `certs/`.
   */
  constructor(workdir: string) {
    this.dir = path.resolve(workdir, CERTS_DIR);
  }

  /** Whether `certs/root-key.pem` exists, i.e. new intermediates can be signed here. */
  public hasRootKey(): boolean {
    return fs.existsSync(path.join(this.dir, 'root-key.pem'));
  }

  /**
   * Reads and validates the root CA.
   *
   * @returns undefined when `certs/root-cert.pem` does not exist; `keyPem` is absent when `certs/root-key.pem` is.
   * @throws InputError when the certificate does not parse or is not a CA, or the key does not parse, is not RSA or
   *   does not match the certificate.
   */
  public readRoot(): { certPem: string; keyPem?: string } | undefined {
    const certFile = `${CERTS_DIR}/root-cert.pem`;
    const keyFile = `${CERTS_DIR}/root-key.pem`;
    const certPem = readIfExists(path.join(this.dir, 'root-cert.pem'));
    if (certPem === undefined) return undefined;
    const keyPem = readIfExists(path.join(this.dir, 'root-key.pem'));
    const restore =
      'restore both root files from where they are kept, or run "meshgen prep --force" to create a new root ' +
      '(every intermediate must then be reissued)';

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
      if (key && key.asymmetricKeyType !== 'rsa') {
        problems.push({
          file: keyFile,
          message: `is a ${show(key.asymmetricKeyType)} key; meshgen signs intermediates with RSA (sha256WithRSAEncryption)`,
          fix: restore,
        });
      } else if (key && !(cert instanceof Error) && !keyMatches(cert, key)) {
        problems.push({ file: keyFile, message: `does not match the certificate in ${certFile} (the public keys differ)`, fix: restore });
      }
    }
    if (problems.length > 0) throw new InputError(problems);
    return keyPem === undefined ? { certPem } : { certPem, keyPem };
  }

  /**
   * Writes the root CA: the key first (0600, `certs/` made 0700), then the certificate (0644), each atomically.
   *
   * Replaces existing files; callers decide whether that is allowed (`prep --force`).
   */
  public writeRoot(files: { certPem: string; keyPem: string }): void {
    writePrivateFile(path.join(this.dir, 'root-key.pem'), files.keyPem);
    fs.chmodSync(this.dir, PRIVATE_DIR_MODE);
    writeFileAtomic(path.join(this.dir, 'root-cert.pem'), files.certPem, PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
  }

  /**
   * Reads and validates a cluster's intermediate CA against the root.
   *
   * Checks what istiod checks (see {@link verifyIntermediate}), and that `cert-chain.pem` is `ca-cert.pem` followed by
   * the root and `root-cert.pem` is the root (compared certificate by certificate, so line endings do not matter).
   *
   * @param cluster the cluster name (the directory under `certs/`).
   * @param rootCertPem the mesh's root certificate (`certs/root-cert.pem`).
   * @returns undefined when `certs/<cluster>/ca-cert.pem` does not exist.
   * @throws InputError listing every problem found.
   */
  public readIntermediate(cluster: string, rootCertPem: string): IntermediatePublic | undefined {
    assertClusterDir(cluster);
    const { files, problems } = this.inspectIntermediate(cluster, rootCertPem);
    if (problems.length > 0) throw new InputError(problems);
    return files;
  }

  /**
   * Writes a cluster's four `cacerts` files. The key is written first (0600, directory 0700) and `ca-cert.pem` last,
   * so an interrupted write leaves no `ca-cert.pem` without its key, and the next run issues the intermediate again.
   */
  public writeIntermediate(cluster: string, files: IntermediateCaFiles): void {
    assertClusterDir(cluster);
    const dir = path.join(this.dir, cluster);
    writePrivateFile(path.join(dir, 'ca-key.pem'), files.caKeyPem);
    fs.chmodSync(dir, PRIVATE_DIR_MODE);
    writeFileAtomic(path.join(dir, 'root-cert.pem'), files.rootCertPem, PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
    writeFileAtomic(path.join(dir, 'cert-chain.pem'), files.certChainPem, PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
    writeFileAtomic(path.join(dir, 'ca-cert.pem'), files.caCertPem, PUBLIC_FILE_MODE, PRIVATE_DIR_MODE);
  }

  /**
   * Makes sure every cluster has a valid intermediate CA, creating the missing ones.
   *
   * Reads and verifies every existing intermediate first and reports all problems together. Missing intermediates
   * are created in parallel (native keygen, at most one per CPU at a time) when `allowCreate` is set and
   * `certs/root-key.pem` is present; otherwise each missing one is a problem naming its `ca-cert.pem` and the fix.
   *
   * @param clusters cluster names (DNS-1123 labels); duplicates are ignored.
   * @throws InputError when the root is missing or invalid, an intermediate is invalid, or one is missing and cannot
   *   be created. Nothing is written in that case.
   */
  public async ensureIntermediates(clusters: string[], opts: EnsureIntermediatesOptions): Promise<EnsureIntermediatesResult> {
    const names = [...new Set(clusters)];
    const nameProblems = names.flatMap(clusterDirProblems);
    if (nameProblems.length > 0) throw new InputError(nameProblems);
    if (names.length === 0) return { created: [], intermediates: new Map() };

    const root = this.readRoot();
    if (root === undefined) {
      throw new InputError({
        file: `${CERTS_DIR}/root-cert.pem`,
        message: "is missing, so the clusters' intermediate CAs can be neither checked nor issued",
        fix: 'run "meshgen prep --org <org>" to create the root CA, or restore certs/root-cert.pem and certs/root-key.pem from where they are kept',
      });
    }

    const problems: Problem[] = [];
    const existing = new Map<string, IntermediatePublic>();
    const missing: string[] = [];
    for (const cluster of names) {
      const found = this.inspectIntermediate(cluster, root.certPem);
      problems.push(...found.problems);
      if (found.files) existing.set(cluster, found.files);
      else if (found.problems.length === 0) missing.push(cluster);
    }
    for (const cluster of missing) {
      const copy = `or issue it where the root key is kept and commit ${CERTS_DIR}/${cluster}/ (ca-key.pem stays git-ignored)`;
      if (!opts.allowCreate) {
        problems.push({
          file: `${CERTS_DIR}/${cluster}/ca-cert.pem`,
          message: `is missing and frozen mode (--frozen) does not create keys, so cluster ${show(cluster)} has no intermediate CA`,
          fix: `run "meshgen synth" without --frozen where ${CERTS_DIR}/root-key.pem is present, and commit ${CERTS_DIR}/${cluster}/`,
        });
      } else if (root.keyPem === undefined) {
        problems.push({
          file: `${CERTS_DIR}/${cluster}/ca-cert.pem`,
          message: `is missing and cannot be created because the root key ${CERTS_DIR}/root-key.pem is absent`,
          fix: `put the root key at ${CERTS_DIR}/root-key.pem (it is git-ignored) and run synth again, ${copy}`,
        });
      }
    }
    if (problems.length > 0) throw new InputError(problems);

    const made = new Map<string, IntermediatePublic>();
    if (missing.length > 0 && root.keyPem !== undefined) {
      const signer = { certPem: root.certPem, keyPem: root.keyPem };
      let done = 0;
      opts.onProgress?.(0, missing.length);
      await forEachLimited(missing, maxParallel(), async (cluster) => {
        const files = await createIntermediateCa({ org: opts.org, cluster, root: signer, keySize: opts.keySize, days: opts.days });
        this.writeIntermediate(cluster, files);
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
    return { created: missing, intermediates };
  }

  private inspectIntermediate(cluster: string, rootCertPem: string): { files?: IntermediatePublic; problems: Problem[] } {
    const dir = `${CERTS_DIR}/${cluster}`;
    const abs = path.join(this.dir, cluster);
    const caCertPem = readIfExists(path.join(abs, 'ca-cert.pem'));
    if (caCertPem === undefined) return { problems: [] };
    const caKeyPem = readIfExists(path.join(abs, 'ca-key.pem'));
    const certChainPem = readIfExists(path.join(abs, 'cert-chain.pem'));
    const clusterRootPem = readIfExists(path.join(abs, 'root-cert.pem'));

    const problems = verifyIntermediate({ caCertPem, caKeyPem, rootCertPem }, { cluster, dir, rootFile: `${CERTS_DIR}/root-cert.pem` });
    const rootDer = pemCertificates(rootCertPem);
    // The chain is derived from ca-cert.pem and the root: when either is broken, that is the problem to report.
    const chainComparable = !problems.some((p) => p.file === `${dir}/ca-cert.pem` || p.file === `${CERTS_DIR}/root-cert.pem`);
    const rootComparable = !(parseCertificate(rootCertPem) instanceof Error);
    if (certChainPem === undefined) {
      problems.push({
        file: `${dir}/cert-chain.pem`,
        message: 'is missing; istiod needs the chain from the intermediate to the root',
        fix: `recreate it: cat ${dir}/ca-cert.pem ${CERTS_DIR}/root-cert.pem > ${dir}/cert-chain.pem`,
      });
    } else if (chainComparable && !sameCertificates(pemCertificates(certChainPem), [...pemCertificates(caCertPem), ...rootDer])) {
      problems.push({
        file: `${dir}/cert-chain.pem`,
        message: `is not ${dir}/ca-cert.pem followed by ${CERTS_DIR}/root-cert.pem`,
        fix: `recreate it: cat ${dir}/ca-cert.pem ${CERTS_DIR}/root-cert.pem > ${dir}/cert-chain.pem`,
      });
    }
    if (clusterRootPem === undefined) {
      problems.push({ file: `${dir}/root-cert.pem`, message: 'is missing', fix: `copy it: cp ${CERTS_DIR}/root-cert.pem ${dir}/root-cert.pem` });
    } else if (rootComparable && !sameCertificates(pemCertificates(clusterRootPem), rootDer)) {
      problems.push({
        file: `${dir}/root-cert.pem`,
        message: `differs from ${CERTS_DIR}/root-cert.pem; every cluster of a mesh must trust the same root`,
        fix: `copy it: cp ${CERTS_DIR}/root-cert.pem ${dir}/root-cert.pem (and reissue the intermediate if it belongs to the other root)`,
      });
    }
    if (problems.length > 0 || certChainPem === undefined || clusterRootPem === undefined) return { problems };
    const files: IntermediatePublic =
      caKeyPem === undefined
        ? { caCertPem, certChainPem, rootCertPem: clusterRootPem }
        : { caCertPem, certChainPem, rootCertPem: clusterRootPem, caKeyPem };
    return { files, problems };
  }
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
