import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'cdk8s';
import { ClusterChart, type ClusterSecrets, ISTIOCTL_HEADER, STAGES, type Stage } from '../charts/cluster-chart';
import { CheckFailed, InputError, type Problem } from '../errors';
import { loadExtension, runExtension } from '../extend';
import { ensureGitignore, removeStaleTempFiles } from '../fs-util';
import { type ClusterHelm, gitopsFiles, translationWarnings } from '../gitops/entry-points';
import { helmValuesFiles } from '../installers/argocd-applications';
import { clusterInstall } from '../installers/cluster-install';
import { withWorkdirLock } from '../lock';
import { type Logger, progressCounter, quietLogger } from '../log';
import { README_FILE, ReadmeBuilder } from '../output/readme';
import { renderKustomization, renderManifests } from '../output/render';
import { TEARDOWN_FILE } from '../output/torn-down';
import { type TreeDiff, TreeWriter } from '../output/tree';
import { CertStore, type IntermediatePublic, organisationOf, trustBundleFor } from '../pki';
import { loadMeshSealingCerts } from '../secrets/mesh-certs';
import { SEALED_DIR, SealedStore } from '../secrets/sealed-store';
import type { Need } from '../secrets/sealer';
import { Sealing } from '../secrets/sealing';
import { type BaseOperator, formatWarning, loadBase, loadTopology, TOPOLOGY_FILE } from '../topology/load';
import { type Cluster, remoteSecretPeers, type SecretStore } from '../topology/model';
import { GITIGNORE_LINES } from './prep';

/** The output directory, relative to the work directory. */
export const DIST_DIR = 'dist';

/** Options of a synth run. */
export interface SynthOptions {
  /** The work directory holding topology.yaml, base.yaml, certs/ and sealed/. */
  readonly workdir: string;
  /** Write nothing; report what would change. */
  readonly check?: boolean;
  /** Never create keys or seal; fail if something needs it. */
  readonly frozen?: boolean;
  /** Fail (rather than warn) when remote secrets are omitted because tokens are not sealed yet. */
  readonly strict?: boolean;
  /**
   * RSA key size of intermediate CAs created by this run (with `pki.keyAlgorithm: rsa-4096`, the default).
   * @default 4096
   */
  readonly caKeySize?: number;
  /**
   * Validity in days of intermediate CAs created by this run.
   * @default 3650
   */
  readonly caDays?: number;
  /** The current time (sealing-certificate expiry). */
  readonly now?: Date;
  /** Progress and warnings. */
  readonly log?: Logger;
  /**
   * Collect the new `dist/` tree in memory instead of comparing it with the one on disk (for `meshgen plan`); implies
   * `check` and `frozen`. Values that would need sealing (or a new intermediate CA) are written as
   * {@link UNSEALED_PLACEHOLDER} and listed in `collect.needs` instead of failing the run.
   */
  readonly collect?: SynthCollector;
}

/** Where a synth run with `collect` puts the new tree. */
export interface SynthCollector {
  /** Every file of the new tree, path relative to `dist/` → content. */
  readonly files: Map<string, string>;
  /** What needs new keys or sealing, which this run did not do (the tree holds placeholders for those values). */
  readonly needs: Need[];
}

/** What a synth run did (or, with `check`, would do). */
export interface SynthResult {
  /** Changes to `dist/` and `sealed/`, paths relative to the work directory. */
  readonly diff: TreeDiff;
  /** Clusters whose intermediate CA was created. */
  readonly createdIntermediates: readonly string[];
  /** Number of values sealed in this run. */
  readonly sealed: number;
  /** Warnings printed. */
  readonly warnings: readonly string[];
}

/**
 * Validates the inputs, creates missing intermediate CAs, seals what changed, and writes `dist/` and `sealed/`
 * (inputs → model → constructs → files), holding the lock of the work directory (shared with `check`).
 *
 * Nothing is written before the whole run has succeeded: new keys, sealed stores and the new tree are kept in memory
 * or beside their place until then, so a run that fails leaves the work directory as it was.
 *
 * @throws InputError (exit 2) on bad input, or when another meshgen run holds the work directory
 */
export async function synth(opts: SynthOptions): Promise<SynthResult> {
  const check = Boolean(opts.check || opts.collect);
  const command = `meshgen synth${check ? ' --check' : ''}${opts.frozen ? ' --frozen' : ''}`;
  return withWorkdirLock(opts.workdir, command, check ? 'shared' : 'exclusive', () => runSynth(opts));
}

/** Internal settings of {@link runSynth}. */
export interface RunSynthInternals {
  /** Warn about private keys readable by group or others (validate reports them as problems instead). */
  readonly keyModeWarnings?: boolean;
}

/**
 * {@link synth} for a caller that holds the work directory's lock already (teardown: exclusive; validate: shared).
 * @internal
 */
export async function runSynth(opts: SynthOptions, internals: RunSynthInternals = {}): Promise<SynthResult> {
  const log = opts.log ?? quietLogger();
  const workdir = path.resolve(opts.workdir);
  // A torn-down mesh (teardown.yaml) needs no key and no sealing: its tree has no secret.
  const tornDown = fs.existsSync(path.join(workdir, TEARDOWN_FILE));
  const collect = opts.collect;
  const check = Boolean(opts.check || collect);
  const noWork = Boolean(opts.frozen || check || tornDown);
  const distRoot = path.join(workdir, DIST_DIR);

  // 1. Inputs.
  const mesh = loadTopology(workdir);
  // The user's constructs (meshgen.config.ts), loaded before anything is created or written.
  const extension = loadExtension(workdir);
  const base = loadBase(workdir);
  const warnings: string[] = base.warnings.map(formatWarning);
  if (mesh.istio.dataplane === 'ambient' && mesh.networks.length === 1 && mesh.clusters.length > 1) {
    warnings.push(
      `${TOPOLOGY_FILE}: istio.dataplane: ambient on a single network: Istio documents ambient multicluster for multi-network meshes; single-network is untested upstream (https://istio.io/latest/docs/ambient/install/multicluster/)`,
    );
  }
  const certStore = new CertStore(workdir);
  const root = certStore.readRoot();
  if (!root) {
    throw new InputError({ file: 'certs/root-cert.pem', message: 'the root CA is missing', fix: 'run `meshgen prep --mesh-id <id> --org <org>`' });
  }
  if (internals.keyModeWarnings !== false) {
    for (const p of certStore.privateFileModeProblems()) warnings.push(`${p.file}: ${p.message}; fix: ${p.fix}`);
  }

  // 2. Intermediate CAs.
  const needs: Need[] = [];
  const missingCa = mesh.clusters.filter((c) => !fs.existsSync(path.join(workdir, 'certs', c.name, 'ca-cert.pem')));
  if (noWork) {
    for (const c of missingCa) needs.push({ what: `certs/${c.name}/`, why: `the intermediate CA of ${c.name} does not exist yet` });
  }
  if (!noWork && missingCa.length > 0 && mesh.secrets.provider === 'sealed-secrets') {
    // Key generation is slow: every input that can still fail the run is checked before (they are read again below).
    loadMeshSealingCerts(workdir, mesh, opts.now ?? new Date());
    loadAllStores(
      new SealedStore(workdir),
      mesh.clusters.map((c) => c.name),
    );
  }
  const org = mesh.org ?? organisationOf(root.certPem) ?? 'Istio';
  // New intermediates stay in memory until the run is complete (step 4), so a failing run writes no key.
  const { created, intermediates, pending } = await certStore.ensureIntermediates(
    mesh.clusters.filter((c) => !noWork || !missingCa.includes(c)).map((c) => c.name),
    {
      org,
      keyAlgorithm: mesh.pki.keyAlgorithm,
      keySize: opts.caKeySize,
      days: opts.caDays,
      allowCreate: !noWork,
      write: false,
      onProgress: progressCounter(log, `creating intermediate CAs (${mesh.pki.keyAlgorithm})`),
    },
  );
  const trust = trustBundleFor(workdir);
  if (trust.phase !== 'none') log.info(`root CA rotation in phase ${trust.phase} (certs/rotation.yaml): multi-root trust is on`);

  // 3. Cluster by cluster: secrets (sealed offline reusing committed ciphertext, or read by the External Secrets
  // Operator) → constructs → files, compared with dist/ as they come, so memory holds one cluster at a time.
  const noServer = new Map<string, Cluster>();
  const peersOf = (cluster: Cluster) =>
    remoteSecretPeers(mesh, cluster).filter((peer) => {
      if (peer.server && peer.certificateAuthorityData) return true;
      noServer.set(peer.name, peer);
      return false;
    });
  const sealing =
    mesh.secrets.provider === 'sealed-secrets'
      ? new Sealing({
          workdir,
          mesh,
          intermediates,
          noWork,
          now: opts.now,
          needs,
          peersOf,
          write: !check && !tornDown,
          placeholders: collect !== undefined,
        })
      : undefined;
  // Collecting (plan): the tree on disk is not compared.
  const treeWriter = collect ? undefined : new TreeWriter(distRoot, !check);
  const writer = {
    add(rel: string, content: string): void {
      treeWriter?.add(rel, content);
      collect?.files.set(rel, content);
    },
  };
  const readme = new ReadmeBuilder({ mesh, tornDown, roots: trust.roots, rotationPhase: trust.phase, intermediates });
  if (tornDown) log.info(`${TEARDOWN_FILE} is present: writing the torn-down tree (delete it and synth to install the mesh again)`);
  try {
    const clusters: Cluster[] = [];
    const helm = new Map<string, ClusterHelm>();
    const stagesOf = new Map<string, readonly Stage[]>();
    const progress = progressCounter(log, sealing ? 'sealing secrets and writing clusters' : 'writing clusters');
    for (const [i, cluster] of mesh.clusters.entries()) {
      progress(i, mesh.clusters.length, sealing ? `${sealing.sealed.toLocaleString('en-US')} values sealed` : undefined);
      const secrets: ClusterSecrets | undefined = sealing
        ? sealing.secretsOf(cluster)
        : {
            provider: 'external-secrets',
            store: cluster.secretStore as SecretStore,
            prefix: mesh.secrets.prefix,
            remoteSecrets: peersOf(cluster).map((peer) => ({
              peer,
              server: peer.server as string,
              certificateAuthorityData: peer.certificateAuthorityData as string,
            })),
          };
      if (!secrets) continue;
      clusters.push(cluster);
      const chart = new ClusterChart(new App({ outdir: distRoot }), cluster.name, {
        mesh,
        cluster,
        base: base.spec,
        secrets,
        multiRoot: trust.multiRoot,
        // Decided from the model (the IstioOperators and their Helm values); the chart only places it.
        install: clusterInstall(mesh, cluster, base.spec, trust.multiRoot),
      });
      if (extension) runExtension(extension, chart, { mesh, cluster });
      const dir = `clusters/${cluster.name}`;
      const files = chart.files();
      const stages = STAGES.filter((stage) => [...files.keys()].some((f) => f.startsWith(`${stage}/`)));
      stagesOf.set(cluster.name, stages);
      readme.addCluster(cluster, files, chart.helm, chart.istioctl.keys());
      if (chart.helm) helm.set(cluster.name, chart.helm);
      writer.add(`${dir}/kustomization.yaml`, renderKustomization(stages));
      if (tornDown) {
        // A torn-down mesh: every stage directory the installed tree has stays, empty, so that each Argo CD Application
        // and Flux Kustomization pointing at it stays valid and prunes what it applied.
        for (const stage of stages) writer.add(`${dir}/${stage}/kustomization.yaml`, renderKustomization([]));
        continue;
      }
      for (const [file, objects] of files) writer.add(`${dir}/${file}`, renderManifests(objects));
      for (const stage of stages) {
        const inStage = [...files.keys()].filter((f) => f.startsWith(`${stage}/`)).map((f) => f.slice(stage.length + 1));
        writer.add(`${dir}/${stage}/kustomization.yaml`, renderKustomization(inStage));
      }
      // The merged IstioOperators: `istioctl install -f` input, listed in no kustomization (nothing applies them).
      for (const [file, object] of chart.istioctl) writer.add(`${dir}/${file}`, renderManifests([object], ISTIOCTL_HEADER));
      // Values files of Istio's charts, read by the Argo CD Applications (not manifests: not in kustomization.yaml).
      if (chart.helm) for (const [file, content] of helmValuesFiles(chart.helm)) writer.add(`${dir}/${file}`, content);
    }
    progress(mesh.clusters.length, mesh.clusters.length);
    if (sealing) warnings.push(...sealing.finish(opts.strict));
    if (noServer.size > 0) {
      warnings.push(
        `remote secrets for ${[...noServer.keys()].sort().join(', ')} are omitted: server and certificateAuthorityData are not set in ${TOPOLOGY_FILE}; ` +
          'run `meshgen discover` or set them',
      );
    }
    if (needs.length > 0 && !tornDown && collect) collect.needs.push(...needs);
    else if (needs.length > 0 && !tornDown) {
      const flag = opts.check ? '--check' : '--frozen';
      throw new CheckFailed(
        [
          `${flag}: these need new keys or sealing, which ${flag} does not do:`,
          ...needs.map((n) => `  ${n.what}: ${n.why}`),
          'Run `npm run synth` where certs/root-key.pem and the private keys are present, and commit the result.',
        ].join('\n'),
        needs,
      );
    }
    warnings.push(...translationWarnings(helm));
    const entryPoints = gitopsFiles(new App({ outdir: distRoot }), mesh, clusters, stagesOf, helm, warnings, tornDown);
    for (const [file, content] of entryPoints) writer.add(file, content);
    writer.add(README_FILE, readme.render(entryPoints));

    // 4. Compare or write: sealed/ first (dist/ is derived from it), then the swap of dist/. With external-secrets
    // nothing is sealed: stale files of sealed/ are removed.
    const store = new SealedStore(workdir);
    const existing = new Set(store.list());
    // A torn-down mesh leaves sealed/ as it is: its ciphertext is what a later reinstall reuses.
    const toSave = sealing && !tornDown ? sealing.dirty() : [];
    const storeDiff: TreeDiff = {
      added: toSave.filter((c) => !existing.has(c)).map((c) => SealedStore.fileOf(c)),
      changed: toSave.filter((c) => existing.has(c)).map((c) => SealedStore.fileOf(c)),
      removed: tornDown ? [] : [...existing].filter((c) => !sealing || !mesh.clusters.some((m) => m.name === c)).map((c) => SealedStore.fileOf(c)),
    };
    const distDiff = treeWriter?.diff() ?? { added: [], changed: [], removed: [] };
    const diff: TreeDiff = {
      added: [...storeDiff.added, ...distDiff.added.map((p) => `${DIST_DIR}/${p}`)],
      changed: [...storeDiff.changed, ...distDiff.changed.map((p) => `${DIST_DIR}/${p}`)],
      removed: [...storeDiff.removed, ...distDiff.removed.map((p) => `${DIST_DIR}/${p}`)],
    };
    for (const w of warnings) log.warn(w);
    if (!check && treeWriter) {
      // The run succeeded: commit, keys first (the sealed stores hold their ciphertext), then sealed/, then the swap
      // of dist/ (derived from both). A crash in between leaves inputs the next synth completes from.
      if (pending.size > 0) {
        // Private keys are written only where .gitignore keeps them out of git.
        ensureGitignore(workdir, GITIGNORE_LINES);
        for (const [cluster, files] of pending) certStore.writeIntermediate(cluster, files);
        log.info(`created intermediate CAs (${mesh.pki.keyAlgorithm} keys in certs/<cluster>/ca-key.pem): ${created.join(', ')}`);
      }
      // Leftovers of a killed run (a temporary file may hold a private key); this run's pending stores stay.
      removeStaleTempFiles(workdir, new Set(), 0); // .gitignore, teardown.yaml
      removeStaleTempFiles(path.join(workdir, 'certs'));
      removeStaleTempFiles(path.join(workdir, SEALED_DIR), new Set(sealing?.dirty().map((c) => SealedStore.pendingFileOf(workdir, c))));
      sealing?.commit();
      for (const p of storeDiff.removed) store.remove(path.basename(p, '.yaml'));
      treeWriter.commit();
    }
    return { diff, createdIntermediates: created, sealed: sealing?.sealed ?? 0, warnings };
  } finally {
    treeWriter?.discard();
    sealing?.discard();
  }
}

/** Reads (and so validates) every cluster's store; all problems at once. */
function loadAllStores(store: SealedStore, clusters: readonly string[]): void {
  const problems: Problem[] = [];
  for (const c of clusters) {
    try {
      store.load(c);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length > 0) throw new InputError(problems);
}

export type { BaseOperator, IntermediatePublic, Need };
export { UNSEALED_PLACEHOLDER } from '../secrets/sealer';
