/**
 * Root CA rotation with multi-root trust, as Istio documents it (reference §4.5; Tetrate's four-phase guide;
 * `ISTIO_MULTIROOT_MESH`), and the trust bundle every cluster's `cacerts` must carry in each phase.
 *
 * Layout (everything under `certs/`, names that can never be a cluster directory since clusters are DNS-1123 labels):
 * - `certs/rotation.yaml` (committed): the phase and the SHA-256 fingerprints of the old and the new root.
 * - `certs/_next/root-cert.pem` (committed), `certs/_next/root-key.pem` (0600, git-ignored): the new root, from
 *   phase `add` until phase `finish` makes it `certs/root-cert.pem` / `certs/root-key.pem`.
 * - `certs/_retired/<sha256>/root-cert.pem` (committed), `root-key.pem` (0600, git-ignored): the old root after `finish`.
 *
 * | phase   | root-cert.pem of every cluster | new intermediates signed by | ISTIO_MULTIROOT_MESH |
 * |---------|--------------------------------|-----------------------------|----------------------|
 * | none    | root                           | root                        | (not set)            |
 * | add     | old + new                      | old (certs/root-key.pem)    | "true"               |
 * | switch  | old + new + new                | new (certs/_next/root-key)  | "true"               |
 * | finish  | new                            | new (now certs/root-key)    | "true"               |
 *
 * The bundles are exact concatenations of the root files' text: istiod accepts a new `root-cert.pem` only when its
 * bytes contain the current one's or the other way round (`handleEvent`, `bytes.Contains`), and only with
 * `ISTIO_MULTIROOT_MESH`. The switch phase repeats the new root, as Tetrate's guide and the KubeCon EU 2024 demo do
 * (`combined-root2.pem`): the bytes change, so istiod treats the switch as a trust-anchor update, pushes it to the
 * proxies, and they fetch workload certificates from the new intermediate at once; the set of trusted roots is
 * still {old, new}.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { InputError, type Problem, show } from '../errors';
import { readIfExists, writeFileAtomic } from '../fs-util';
import { pemCertificates } from './certificate';

/** The rotation state file, relative to the work directory (committed). */
export const ROTATION_FILE = 'certs/rotation.yaml';
/** Where the new root lives during a rotation, relative to the work directory. */
export const NEXT_ROOT_DIR = 'certs/_next';
/** Where `finish` moves the old root, relative to the work directory (one directory per root fingerprint). */
export const RETIRED_ROOTS_DIR = 'certs/_retired';
/** The mesh's root, relative to the work directory. */
export const ROOT_CERT_FILE = 'certs/root-cert.pem';
export const ROOT_KEY_FILE = 'certs/root-key.pem';
export const NEXT_ROOT_CERT_FILE = `${NEXT_ROOT_DIR}/root-cert.pem`;
export const NEXT_ROOT_KEY_FILE = `${NEXT_ROOT_DIR}/root-key.pem`;

/** The phases of a root rotation, in order. */
export const ROTATION_PHASES = ['add', 'switch', 'finish'] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

/** What `certs/rotation.yaml` records. */
export interface RotationState {
  readonly phase: RotationPhase;
  /** SHA-256 of the old root's DER, lower-case hex. */
  readonly oldRoot: string;
  /** SHA-256 of the new root's DER, lower-case hex. */
  readonly newRoot: string;
}

/** The trust of the mesh in the current phase: what synth seals as `root-cert.pem` and which root signs. */
export interface TrustBundle {
  /** `none` when no rotation is in progress. */
  readonly phase: 'none' | RotationPhase;
  /** Exactly what every cluster's `root-cert.pem` (and so the `root-cert.pem` key of `cacerts`) holds. */
  readonly rootBundlePem: string;
  /**
   * Whether the control plane must run with `values.pilot.env.ISTIO_MULTIROOT_MESH: "true"` and proxies with
   * `meshConfig.defaultConfig.proxyMetadata.PROXY_CONFIG_XDS_AGENT: "true"`.
   */
  readonly multiRoot: boolean;
  /** The distinct roots an intermediate may chain to, as PEM text, in bundle order. */
  readonly roots: readonly string[];
  /** The root that issues new intermediates in this phase (the key may be absent on this machine). */
  readonly signer: { readonly certPem: string; readonly certFile: string; readonly keyFile: string };
  /** Where each root of `roots` was read from, for messages. */
  readonly rootFiles: readonly string[];
  /** The recorded state; undefined when no rotation is in progress. */
  readonly state?: RotationState;
}

/**
 * Reads and validates `certs/rotation.yaml`.
 *
 * @returns undefined when no root rotation is in progress (the file does not exist).
 * @throws InputError when the file is malformed.
 */
export function rotationState(workdir: string): RotationState | undefined {
  const text = readIfExists(path.join(workdir, ROTATION_FILE));
  if (text === undefined) return undefined;
  const fix = `restore ${ROTATION_FILE} from git (it is written by "meshgen rotate-root"; do not edit it)`;
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new InputError({ file: ROTATION_FILE, message: `is not valid YAML (${e instanceof Error ? e.message : String(e)})`, fix });
  }
  const problems: Problem[] = [];
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InputError({ file: ROTATION_FILE, message: 'is not a mapping of phase, oldRoot and newRoot', fix });
  }
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) {
    if (!['phase', 'oldRoot', 'newRoot'].includes(k)) problems.push({ file: ROTATION_FILE, path: k, message: 'is not a known key', fix });
  }
  if (!ROTATION_PHASES.includes(d.phase as RotationPhase)) {
    problems.push({
      file: ROTATION_FILE,
      path: 'phase',
      message: `${show(d.phase)} is not a phase`,
      fix: `use one of ${ROTATION_PHASES.join(', ')}`,
    });
  }
  for (const k of ['oldRoot', 'newRoot']) {
    if (typeof d[k] !== 'string' || !/^[0-9a-f]{64}$/.test(d[k] as string)) {
      problems.push({ file: ROTATION_FILE, path: k, message: `${show(d[k])} is not a SHA-256 fingerprint (64 lower-case hex digits)`, fix });
    }
  }
  if (problems.length === 0 && d.oldRoot === d.newRoot) {
    problems.push({ file: ROTATION_FILE, path: 'newRoot', message: 'equals oldRoot; a rotation needs a new root', fix });
  }
  if (problems.length > 0) throw new InputError(problems);
  return { phase: d.phase as RotationPhase, oldRoot: d.oldRoot as string, newRoot: d.newRoot as string };
}

/** Writes `certs/rotation.yaml` atomically, or removes it when `state` is undefined. */
export function writeRotationState(workdir: string, state: RotationState | undefined): void {
  const file = path.join(workdir, ROTATION_FILE);
  if (state === undefined) {
    fs.rmSync(file, { force: true });
    return;
  }
  const what: Record<RotationPhase, string> = {
    add: 'every cluster trusts the old and the new root; intermediates are still issued by the old root',
    switch: 'every cluster trusts both roots; intermediates are issued by the new root',
    finish: 'only the new root is trusted; multi-root trust stays on until "meshgen rotate-root --phase done"',
  };
  const text = [
    '# Root CA rotation state, written by "meshgen rotate-root"; synth reads it. Commit it; do not edit it.',
    `# Phase ${state.phase}: ${what[state.phase]}.`,
    `phase: ${state.phase}`,
    `# SHA-256 of the old root (${state.phase === 'finish' ? `${RETIRED_ROOTS_DIR}/${state.oldRoot}/root-cert.pem` : ROOT_CERT_FILE})`,
    `oldRoot: ${state.oldRoot}`,
    `# SHA-256 of the new root (${state.phase === 'finish' ? ROOT_CERT_FILE : NEXT_ROOT_CERT_FILE})`,
    `newRoot: ${state.newRoot}`,
    '',
  ].join('\n');
  writeFileAtomic(file, text, 0o644, 0o700);
}

/**
 * The trust bundle of the current phase, for synth and the certificate store. Reads files only.
 *
 * Checks that the recorded fingerprints match the root files, so a root replaced by hand in the middle of a rotation,
 * or a `rotate-root` run that was interrupted, is reported instead of being sealed into every cluster.
 *
 * @throws InputError when `certs/root-cert.pem` is missing, the state is malformed, or the files do not match it.
 */
export function trustBundleFor(workdir: string): TrustBundle {
  const state = rotationState(workdir);
  const rootText = readIfExists(path.join(workdir, ROOT_CERT_FILE));
  if (rootText === undefined) {
    throw new InputError({
      file: ROOT_CERT_FILE,
      message: 'the root CA is missing',
      fix: state
        ? `restore it from git; a root rotation is in progress (${ROTATION_FILE}, phase ${state.phase})`
        : 'run `meshgen prep --mesh-id <id> --org <org>`, or restore it from git',
    });
  }
  const root = withTrailingNewline(rootText);
  const signer = { certPem: root, certFile: ROOT_CERT_FILE, keyFile: ROOT_KEY_FILE };
  if (state === undefined) {
    return { phase: 'none', rootBundlePem: root, multiRoot: false, roots: [root], rootFiles: [ROOT_CERT_FILE], signer };
  }

  const rootFp = certificateSha256(root);
  if (state.phase === 'finish') {
    if (rootFp !== state.newRoot) {
      throw new InputError({
        file: ROOT_CERT_FILE,
        message:
          rootFp === state.oldRoot
            ? `is still the old root, but ${ROTATION_FILE} says phase finish: "meshgen rotate-root --phase finish" was interrupted`
            : `is neither the old nor the new root recorded in ${ROTATION_FILE} (SHA-256 ${rootFp ?? 'unreadable'})`,
        fix:
          rootFp === state.oldRoot
            ? 'run "meshgen rotate-root --phase finish" again to complete it'
            : `restore ${ROOT_CERT_FILE} (the new root, SHA-256 ${state.newRoot}) from git`,
      });
    }
    return { phase: 'finish', rootBundlePem: root, multiRoot: true, roots: [root], rootFiles: [ROOT_CERT_FILE], signer, state };
  }

  const problems: Problem[] = [];
  if (rootFp !== state.oldRoot) {
    problems.push({
      file: ROOT_CERT_FILE,
      message: `is not the old root recorded in ${ROTATION_FILE} (SHA-256 ${rootFp ?? 'unreadable'}, expected ${state.oldRoot}); it must not change before phase finish`,
      fix: `restore ${ROOT_CERT_FILE} from git`,
    });
  }
  const nextText = readIfExists(path.join(workdir, NEXT_ROOT_CERT_FILE));
  const next = nextText === undefined ? undefined : withTrailingNewline(nextText);
  if (next === undefined) {
    problems.push({
      file: NEXT_ROOT_CERT_FILE,
      message: `is missing, but ${ROTATION_FILE} says a root rotation is in phase ${state.phase}`,
      fix: `restore ${NEXT_ROOT_CERT_FILE} from git (it is committed)`,
    });
  } else if (certificateSha256(next) !== state.newRoot) {
    problems.push({
      file: NEXT_ROOT_CERT_FILE,
      message: `is not the new root recorded in ${ROTATION_FILE} (SHA-256 ${certificateSha256(next) ?? 'unreadable'}, expected ${state.newRoot})`,
      fix: `restore ${NEXT_ROOT_CERT_FILE} from git`,
    });
  }
  if (problems.length > 0 || next === undefined) throw new InputError(problems);
  const rootBundlePem = phaseBundle(state.phase, root, next);
  const phaseSigner = state.phase === 'add' ? signer : { certPem: next, certFile: NEXT_ROOT_CERT_FILE, keyFile: NEXT_ROOT_KEY_FILE };
  return {
    phase: state.phase,
    rootBundlePem,
    multiRoot: true,
    roots: [root, next],
    rootFiles: [ROOT_CERT_FILE, NEXT_ROOT_CERT_FILE],
    signer: phaseSigner,
    state,
  };
}

/**
 * The `root-cert.pem` of every cluster in a phase: `old + new` (add), `old + new + new` (switch), `new` (finish).
 *
 * @param phase the rotation phase.
 * @param oldRootPem the old root's file text.
 * @param newRootPem the new root's file text.
 */
export function phaseBundle(phase: RotationPhase, oldRootPem: string, newRootPem: string): string {
  const oldRoot = withTrailingNewline(oldRootPem);
  const newRoot = withTrailingNewline(newRootPem);
  if (phase === 'add') return oldRoot + newRoot;
  if (phase === 'switch') return oldRoot + newRoot + newRoot;
  return newRoot;
}

/**
 * SHA-256 of the DER of the first certificate of a PEM text, lower-case hex; undefined when there is none.
 *
 * @param pem a PEM certificate.
 */
export function certificateSha256(pem: string): string | undefined {
  const der = pemCertificates(pem)[0];
  return der === undefined ? undefined : crypto.createHash('sha256').update(der).digest('hex');
}

/** `s` with a trailing newline: PEM texts are concatenated as `cat a.pem b.pem` would with well-formed files. */
export function withTrailingNewline(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}
