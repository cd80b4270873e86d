import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { InputError, type Problem } from '../errors';
import { ensureGitignore, writeFileAtomic } from '../fs-util';
import { originRemote } from '../git-remote';
import { withWorkdirLock } from '../lock';
import { isMeshgenCheckout, meshgenPackage } from '../package-info';
import { CertStore, createRootCa, DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS, type KeyAlgorithm } from '../pki';
import { BASE_FILE, TOPOLOGY_FILE } from '../topology/load';
import { LABEL_VALUE } from '../topology/schema';
import { YamlSource } from '../topology/yaml-source';

/** Options of `prep`. */
export interface PrepOptions {
  readonly workdir: string;
  readonly meshId: string;
  readonly org: string;
  /** Replace an existing root CA. */
  readonly force?: boolean;
  /**
   * Key algorithm of the root CA; also written as `pki.keyAlgorithm` into a new topology.yaml (new intermediates).
   * @default - `pki.keyAlgorithm` of an existing topology.yaml (a root replaced with `force`), else 'rsa-4096'
   */
  readonly keyAlgorithm?: KeyAlgorithm;
  /** RSA key size of the root CA (`rsa-4096` only). */
  readonly keySize?: number;
  readonly days?: number;
  /**
   * The `$schema` reference written on topology.yaml's first line, for editors.
   * @default - the path of meshgen's schema relative to the work directory
   */
  readonly schema?: string;
  /**
   * Fill `gitops.repoURL` of a new topology.yaml from `git remote get-url origin` (when it is an https or ssh URL
   * without credentials).
   * @default true
   */
  readonly gitRemote?: boolean;
}

/** What prep did. */
export interface PrepResult {
  readonly created: string[];
  readonly kept: string[];
  readonly warnings: string[];
  /** Information that needs no action (e.g. where `gitops.repoURL` came from). */
  readonly notes: string[];
}

/** Lines prep makes sure .gitignore has: private keys and kept tokens never reach git. */
export const GITIGNORE_LINES = [
  '# meshgen: private keys and reader tokens stay on this machine',
  'certs/root-key.pem',
  'certs/*/ca-key.pem',
  'certs/*/reader-token',
  'certs/*/*.rotating*',
  'certs/_next/root-key.pem',
  'certs/_retired/*/root-key.pem',
  '# meshgen: leftovers of an interrupted synth (a temporary file may hold a private key)',
  '.dist.meshgen-*',
  '*.meshgen-tmp-*',
  '# meshgen: the lock of a running meshgen command',
  '.meshgen.lock*',
];

/** The JSON Schema of topology.yaml shipped with meshgen. */
export const SCHEMA_PATH = path.join(meshgenPackage().root, 'schema', 'topology.schema.json');

/**
 * Creates, only where absent, what a new mesh needs: the root CA, base.yaml, topology.yaml and the
 * .gitignore lines. Re-running changes nothing; replacing an existing root needs `force`.
 */
export async function prep(opts: PrepOptions): Promise<PrepResult> {
  return withWorkdirLock(opts.workdir, 'meshgen prep', 'exclusive', () => prepLocked(opts));
}

/** The problems of prep's --mesh-id and --org (also checked by `init` before it creates anything). */
export function checkPrepOptions(meshId: string, org: string): Problem[] {
  const problems: Problem[] = [];
  if (!new RegExp(LABEL_VALUE).test(meshId) || meshId.length > 63) {
    problems.push({
      file: 'command line',
      path: '--mesh-id',
      message: `${JSON.stringify(meshId)} is not a valid mesh ID`,
      fix: 'use letters, digits, "-", "_" or "."',
    });
  }
  if (org.length > 64)
    problems.push({
      file: 'command line',
      path: '--org',
      message: 'the organisation is longer than 64 characters',
      fix: 'shorten it (X.520 limit of O=)',
    });
  if (org.trim() === '') problems.push({ file: 'command line', path: '--org', message: 'the organisation is empty', fix: 'pass --org <name>' });
  return problems;
}

/**
 * prep, for a caller that already holds the work directory's lock (`init`). Checks everything before it writes
 * anything.
 */
export async function prepLocked(opts: PrepOptions): Promise<PrepResult> {
  const problems = checkPrepOptions(opts.meshId, opts.org);
  if (problems.length > 0) throw new InputError(problems);
  checkMeshIdMatches(opts.workdir, opts.meshId, opts.org);

  const created: string[] = [];
  const kept: string[] = [];
  const warnings: string[] = [];
  const { workdir } = opts;

  // Root CA.
  const store = new CertStore(workdir);
  // A prep killed between the root key and its certificate: complete it (the key is the one of that certificate).
  store.resumeRootWrite();
  const hasRoot = fs.existsSync(path.join(workdir, 'certs', 'root-cert.pem'));
  const keyAlgorithm = opts.keyAlgorithm ?? configuredKeyAlgorithm(workdir) ?? DEFAULT_KEY_ALGORITHM;
  if (!hasRoot && store.hasRootKey() && !opts.force) {
    throw new InputError({
      file: 'certs/root-key.pem',
      message: 'exists without certs/root-cert.pem; prep will not replace a private key',
      fix: 'restore certs/root-cert.pem from git, or pass --force to create a new root CA (every intermediate must then be reissued)',
    });
  }
  let gitignoreAdded: string[] | undefined;
  const hadGitignore = fs.existsSync(path.join(workdir, '.gitignore'));
  if (hasRoot && !opts.force) {
    store.readRoot(); // validates what is there
    kept.push('certs/root-cert.pem');
    if (store.hasRootKey()) kept.push('certs/root-key.pem');
  } else {
    const root = await createRootCa({ org: opts.org, keyAlgorithm, keySize: opts.keySize, days: opts.days });
    // The private key is written only where .gitignore keeps it out of git.
    gitignoreAdded = ensureGitignore(workdir, GITIGNORE_LINES);
    store.writeRoot(root);
    created.push('certs/root-cert.pem', 'certs/root-key.pem');
    if (hasRoot) {
      warnings.push(
        'the root CA was replaced (--force): existing intermediates no longer chain to it; delete certs/<cluster>/ of every cluster ' +
          'and run synth to reissue them (workloads must then be restarted; see the README on root rotation)',
      );
    }
  }

  const writeIfAbsent = (file: string, content: string) => {
    const abs = path.join(workdir, file);
    if (fs.existsSync(abs)) kept.push(file);
    else {
      writeFileAtomic(abs, content);
      created.push(file);
    }
  };
  writeIfAbsent(BASE_FILE, baseTemplate());
  const notes: string[] = [];
  if (fs.existsSync(path.join(workdir, TOPOLOGY_FILE))) {
    kept.push(TOPOLOGY_FILE);
    if (keyAlgorithm !== (configuredKeyAlgorithm(workdir) ?? DEFAULT_KEY_ALGORITHM) && created.includes('certs/root-cert.pem')) {
      notes.push(`${TOPOLOGY_FILE} was kept: set pki.keyAlgorithm: ${keyAlgorithm} there for new intermediate CAs to use it too`);
    }
  } else {
    // The Git remote is read here, once, into the file: synth never reads Git, so CI and a laptop agree.
    const origin = opts.gitRemote === false ? undefined : originRemote(workdir);
    let gitops: { repoURL: string; path?: string } | undefined;
    if (origin?.url !== undefined) {
      gitops = { repoURL: origin.url };
      if (origin.prefix !== '' && !origin.prefix.startsWith('.')) gitops.path = `${origin.prefix.replace(/\/+$/, '')}/dist`;
      notes.push(
        `${TOPOLOGY_FILE}: gitops.repoURL is ${origin.url} (git remote get-url origin)${gitops.path ? `, gitops.path ${gitops.path}` : ''}; ` +
          'change it there if Argo CD reads another URL',
      );
    } else if (origin?.skipped !== undefined) {
      notes.push(
        `${TOPOLOGY_FILE}: the URL of git remote origin was not copied into gitops.repoURL (${origin.skipped}); set gitops.repoURL by hand for the Argo CD ApplicationSet`,
      );
    }
    writeFileAtomic(
      path.join(workdir, TOPOLOGY_FILE),
      topologyTemplate(opts.meshId, opts.org, opts.schema ?? path.relative(workdir, SCHEMA_PATH), { keyAlgorithm, gitops }),
    );
    created.push(TOPOLOGY_FILE);
  }

  // .gitignore: append the lines that are missing (done already when the root key was written).
  gitignoreAdded ??= ensureGitignore(workdir, GITIGNORE_LINES);
  if (gitignoreAdded.length === 0) kept.push('.gitignore');
  else if (hadGitignore) kept.push('.gitignore (private-key lines added)');
  else created.push('.gitignore');
  return { created, kept, warnings, notes };
}

/** `pki.keyAlgorithm` of an existing topology.yaml, when it is readable and valid (prep runs on unfinished files too). */
function configuredKeyAlgorithm(workdir: string): KeyAlgorithm | undefined {
  try {
    const doc = parse(fs.readFileSync(path.join(workdir, TOPOLOGY_FILE), 'utf8')) as { pki?: { keyAlgorithm?: unknown } } | null;
    const value = doc?.pki?.keyAlgorithm;
    return typeof value === 'string' && (KEY_ALGORITHMS as readonly string[]).includes(value) ? (value as KeyAlgorithm) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An existing topology.yaml that names another mesh: prep would keep it, and the requested mesh id would silently
 * not be used. Refused before anything is written. In a meshgen checkout, topology.yaml is the bundled example: the
 * fix is a repository of one's own (`meshgen init`).
 */
function checkMeshIdMatches(workdir: string, meshId: string, org: string): void {
  let src: YamlSource;
  try {
    src = YamlSource.parse(TOPOLOGY_FILE, fs.readFileSync(path.join(workdir, TOPOLOGY_FILE), 'utf8'));
  } catch {
    return; // absent or unreadable: prep creates or keeps it, and synth reports what is wrong with it
  }
  let existing: unknown;
  try {
    existing = (src.toJS() as { mesh_id?: unknown } | null)?.mesh_id;
  } catch {
    return;
  }
  if (typeof existing !== 'string' || existing === meshId) return;
  const fix = isMeshgenCheckout(workdir)
    ? `this is meshgen's own repository, whose topology.yaml is the bundled example; start your own mesh in a repository of ` +
      `its own: \`npx meshgen init ../${meshId} --mesh-id ${meshId} --org ${/^[\w.@-]+$/.test(org) ? org : JSON.stringify(org)}\` (see the README, "Start your own mesh")`
    : `pass --mesh-id ${existing} to complete this mesh, or run prep in a new directory (or \`meshgen init <dir>\`) for the mesh ${meshId}; ` +
      'to rename this mesh, edit mesh_id in topology.yaml (every cluster then gets the new meshID on the next synth)';
  throw new InputError(
    src.problem(
      ['mesh_id'],
      `the mesh ID is ${JSON.stringify(existing)}, not ${JSON.stringify(meshId)} as asked; prep keeps an existing topology.yaml`,
      fix,
    ),
  );
}

function baseTemplate(): string {
  return `# base.yaml: the IstioOperator shared by every cluster of the mesh.
# meshgen merges per cluster, over this file: values.global.meshID, values.global.multiCluster.clusterName
# and values.global.network (do not set them here; synth warns and overrides them).
# Note: IstioOperator objects are read by istioctl (\`istioctl install -f\`) and by an IstioOperator controller;
# Istio 1.24+ has no in-cluster operator, see the README.
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
spec:
  profile: default
  # hub: docker.io/istio
  # tag: 1.30.3
  # meshConfig:
  #   accessLogFile: /dev/stdout
  # values:
  #   pilot:
  #     env:
  #       PILOT_ENABLE_WORKLOAD_ENTRY_AUTOREGISTRATION: "true"
`;
}

function topologyTemplate(
  meshId: string,
  org: string,
  schema: string,
  extra: { keyAlgorithm: KeyAlgorithm; gitops?: { repoURL: string; path?: string } },
): string {
  const gitops = extra.gitops
    ? [
        '# Where Argo CD reads this repository (from `git remote get-url origin` at prep time; synth never reads Git):',
        'gitops:',
        `  repoURL: ${JSON.stringify(extra.gitops.repoURL)}`,
        ...(extra.gitops.path ? [`  path: ${JSON.stringify(extra.gitops.path)}`] : []),
      ]
    : [
        '# The Argo CD ApplicationSet (dist/argocd/) needs the URL of this repository, e.g. `git remote get-url origin`:',
        '# gitops:',
        '#   repoURL: https://github.com/<owner>/<repo>.git',
      ];
  const pki =
    extra.keyAlgorithm === DEFAULT_KEY_ALGORITHM
      ? [
          "# New CA keys: rsa-4096 (default, as Istio's tools/certs/common.mk), ecdsa-p256 or ecdsa-p384 (much faster):",
          '# pki:',
          '#   keyAlgorithm: ecdsa-p256',
        ]
      : [
          '# New CA keys (intermediates, and the root of a rotation): rsa-4096, ecdsa-p256 or ecdsa-p384.',
          'pki:',
          `  keyAlgorithm: ${extra.keyAlgorithm}`,
        ];
  return topologyText(meshId, org, schema, [...gitops, ...pki].join('\n'));
}

function topologyText(meshId: string, org: string, schema: string, settings: string): string {
  return `# yaml-language-server: $schema=${schema}
# topology.yaml: the clusters (kube contexts) of the mesh and their networks.
# Example, the mesh of Istio's original "Simplified Multicluster Install":
#
# mesh_id: mymeshname
# contexts:
#   context-east-1:
#     network: network-east
#   context-east-2:
#     network: network-east
#   context-west-1:
#     network: network-west
#
# Optional per context: cluster (Istio clusterName; default the context name), server and
# certificateAuthorityData (API server, for remote secrets; \`meshgen discover\` fills them),
# sealingCert (Sealed Secrets controller certificate; default sealing-certs/<cluster>.pem).
# See the README's topology reference.
mesh_id: ${meshId}
org: ${JSON.stringify(org)}
${settings}
contexts:
# add your clusters here
`;
}
