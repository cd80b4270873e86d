import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { diffLines, structuredPatch } from 'diff';
import { type Document, isMap, isPair, isScalar, type Pair, parse, parseDocument, Scalar, type YAMLMap } from 'yaml';
import { clip, InputError, type Problem, show } from '../errors';
import { READ_LIMITS, readBounded, writeFileAtomic } from '../fs-util';
import { plainSecretIn } from '../plain-secrets';
import { parseTopology, readInput, TOPOLOGY_FILE } from '../topology/load';
import { DNS1123_LABEL, type SchemaNode, TOPOLOGY_SCHEMA } from '../topology/schema';
import { nearest } from '../topology/validate';
import { formatPath, YamlSource } from '../topology/yaml-source';

/** Options of {@link discover}. */
export interface DiscoverOptions {
  /** The work directory holding topology.yaml. */
  readonly workdir: string;
  /**
   * The kubeconfig file to read (as kubectl's `--kubeconfig`), relative to the current directory.
   * @default - the files of `KUBECONFIG`, else `~/.kube/config`
   */
  readonly kubeconfig?: string;
  /**
   * Environment to read `KUBECONFIG` (and `HOME`) from.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Write nothing; return the diff of topology.yaml instead.
   * @default false
   */
  readonly dryRun?: boolean;
  /**
   * Home directory, for `~/.kube/config`.
   * @default - `HOME` of `env`, else the user's home directory
   */
  readonly home?: string;
}

/** The keys of a context that discover fills. */
export type DiscoveredKey = 'cluster' | 'server' | 'certificateAuthorityData';

/** One value discover sets in topology.yaml. */
export interface DiscoverChange {
  /** The context (key under `contexts:`). */
  readonly context: string;
  readonly key: DiscoveredKey;
  /** The value before, or undefined when the key was not set. */
  readonly from?: string;
  /** The new value. */
  readonly to: string;
  /** For `cluster`: the kubeconfig cluster name, when the cluster name was derived from it (not copied as is). */
  readonly derivedFrom?: string;
  /** One line for the user: `contexts.<ctx>.server: <old> → <new>`; CA data is never shown, only "updated". */
  readonly description: string;
}

/** What {@link discover} found and did. */
export interface DiscoverResult {
  /** The kubeconfig files read, in precedence order (the first that defines a name wins). */
  readonly kubeconfigs: readonly string[];
  /** Values set, in the order of the contexts in topology.yaml. */
  readonly changes: readonly DiscoverChange[];
  /** Contexts of topology.yaml that no kubeconfig file defines (left as they are). */
  readonly missing: readonly string[];
  /** Things the user should look at (printed as `warning:`); none of them stopped the run. */
  readonly warnings: readonly string[];
  /** Information that needs no action (printed as `note:`). */
  readonly notes: readonly string[];
  /** Whether topology.yaml was rewritten (never with `dryRun`, never when nothing changes). */
  readonly written: boolean;
  /** With `dryRun` and changes: a unified diff of topology.yaml (long CA data abbreviated). */
  readonly diff?: string;
  /** The resulting text of topology.yaml (the input itself when nothing changes). */
  readonly text: string;
}

/**
 * Fills `cluster`, `server` and `certificateAuthorityData` of each context of topology.yaml from the kubeconfig
 * (looked up as kubectl does: `kubeconfig`, else the `:`-separated `KUBECONFIG`, else `~/.kube/config`), keeping the
 * file's comments, key order and formatting. Never contacts a cluster.
 *
 * An existing `cluster:` is never changed (it is Istio's clusterName and every remote secret's key); `server` and
 * `certificateAuthorityData` are updated when the kubeconfig differs. Contexts the kubeconfig does not define are
 * listed in `missing` and left as they are. The result is validated as a topology before anything is written, and
 * written atomically; an unchanged file is not rewritten.
 */
export function discover(opts: DiscoverOptions): DiscoverResult {
  const topologyPath = path.join(opts.workdir, TOPOLOGY_FILE);
  const original = readInput(opts.workdir, TOPOLOGY_FILE, 'run `meshgen prep --mesh-id <id> --org <org>` or pass --workdir');
  const src = YamlSource.parse(TOPOLOGY_FILE, original);
  const contextsNode = src.doc.get('contexts', true);
  if (!isMap(contextsNode) || contextsNode.items.length === 0) {
    parseTopology(original); // throws the problems with contexts:
    throw new InputError(src.problem(['contexts'], 'no clusters are listed', 'add one entry per kube context'));
  }

  const env = opts.env ?? process.env;
  const kube = loadKubeconfig(kubeconfigFiles(opts.kubeconfig, env, opts.home ?? env.HOME ?? os.homedir()));
  const warnings = [...kube.warnings];
  const notes: string[] = [];
  const problems: Problem[] = [];

  // 1. What the kubeconfig says about each context.
  interface Found {
    readonly context: string;
    readonly current: { cluster?: unknown; server?: unknown; certificateAuthorityData?: unknown };
    readonly kubeCluster: string;
    readonly server?: string;
    readonly caData?: string;
  }
  const found: Found[] = [];
  const missing: string[] = [];
  for (const pair of contextsNode.items) {
    const context = keyOf(pair);
    if (!isMap(pair.value)) continue; // no settings (or an alias): validation reports it below
    const current = (pair.value.toJS(src.doc) ?? {}) as Found['current'];
    const kctx = kube.contexts.get(context);
    if (!kctx) {
      missing.push(context);
      continue;
    }
    const clusterName = kctx.cluster;
    const kc = clusterName === undefined ? undefined : kube.clusters.get(clusterName);
    if (clusterName === undefined || !kc) {
      warnings.push(
        `context ${show(context)} in ${kctx.file} ${clusterName === undefined ? 'names no cluster' : `refers to cluster ${show(clusterName)}, which no kubeconfig file defines`}; ` +
          `${formatPath(['contexts', context])} is left as it is`,
      );
      missing.push(context);
      continue;
    }
    const where = `kubeconfig cluster ${show(clusterName)} (${clip(kc.file)})`;
    let server: string | undefined;
    const serverSecret = kc.server === undefined ? undefined : plainSecretIn(kc.server);
    if (kc.server === undefined) {
      warnings.push(`${where} has no server; ${formatPath(['contexts', context, 'server'])} is left as it is`);
    } else if (serverSecret) {
      // Never copied into topology.yaml (and so into dist/ and git), never printed.
      problems.push(
        kc.src.problem(
          ['clusters', kc.index, 'cluster', 'server'],
          `the server URL of kubeconfig cluster ${show(clusterName)} holds ${serverSecret.what} (${serverSecret.shown}); discover copies the server into topology.yaml, whose values are written unsealed into dist/ and git`,
          `remove the credentials from the URL in the kubeconfig (kubectl takes them from users:), or set ${formatPath(['contexts', context, 'server'])} in topology.yaml by hand; rotate them if they were ever committed`,
        ),
      );
    } else if (!SERVER.test(kc.server)) {
      warnings.push(`${where}: server ${show(kc.server)} is not an https:// URL; not copied (remote secrets need the https URL of the API server)`);
    } else if (UNSAFE.test(kc.server)) {
      warnings.push(`${where}: server ${show(kc.server)} holds control characters or "{{" / "}}"; not copied (set the server by hand)`);
    } else {
      server = kc.server;
      const host = hostOf(kc.server);
      if (host !== undefined && LOOPBACK.test(host)) {
        warnings.push(
          `${where}: server ${clip(kc.server)} is a loopback address that other clusters cannot reach; ` +
            `set ${formatPath(['contexts', context, 'server'])} to an address reachable from the other clusters (for kind: \`kind get kubeconfig --internal\`)`,
        );
      }
    }
    let caData: string | undefined;
    if (kc.caData !== undefined) {
      caData = kc.caData.replace(/\s+/g, '');
    } else if (kc.caFile !== undefined) {
      const caFix = "fix the path (a relative path is relative to the kubeconfig file's directory), or use certificate-authority-data";
      try {
        caData = Buffer.from(readBounded(kc.caFile, { limit: READ_LIMITS.pem, what: 'the certificate-authority file', fix: caFix }), 'utf8').toString(
          'base64',
        );
      } catch (e) {
        const why =
          e instanceof InputError
            ? e.problems[0].message.replace(/^the certificate-authority file /, '')
            : `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
        problems.push(kc.src.problem(['clusters', kc.index, 'cluster', 'certificate-authority'], `${show(kc.caFile)} ${why}`, caFix));
      }
    }
    // A private key in (or appended to) the CA: never copied, never printed.
    if (caData !== undefined && plainSecretIn(caData)?.kind === 'private-key') {
      const key = kc.caData !== undefined ? 'certificate-authority-data' : 'certificate-authority';
      problems.push(
        kc.src.problem(
          ['clusters', kc.index, 'cluster', key],
          `the certificate authority of kubeconfig cluster ${show(clusterName)} holds a private key; discover copies it into topology.yaml, whose values are written unsealed into dist/ and git`,
          `keep only the API server's CA certificate in ${key} (the private key belongs nowhere in a kubeconfig's cluster entry), and replace the key if the file was ever shared`,
        ),
      );
      caData = undefined;
    }
    if (caData !== undefined && !isPemBase64(caData)) {
      warnings.push(
        `${where}: the certificate authority is not base64 of a PEM certificate; ${formatPath(['contexts', context, 'certificateAuthorityData'])} is left as it is`,
      );
      caData = undefined;
    }
    if (caData === undefined && kc.caData === undefined && kc.caFile === undefined) {
      const why = kc.insecure ? 'uses insecure-skip-tls-verify and has no certificate authority' : 'has no certificate authority';
      if (typeof current.certificateAuthorityData === 'string') {
        notes.push(`${where} ${why}; keeping ${formatPath(['contexts', context, 'certificateAuthorityData'])}`);
      } else {
        warnings.push(
          `${where} ${why}; remote secrets need the API server's CA: set ${formatPath(['contexts', context, 'certificateAuthorityData'])} ` +
            "(base64 of the CA's PEM) by hand, or add certificate-authority-data to the kubeconfig",
        );
      }
    }
    if (kc.tlsServerName !== undefined) {
      warnings.push(
        `${where} sets tls-server-name ${show(kc.tlsServerName)}, which remote secrets do not carry; check that ${server ?? 'the server'} presents a certificate for its own host name`,
      );
    }
    found.push({ context, current, kubeCluster: clusterName, server, caData });
  }
  if (problems.length > 0) throw new InputError(problems);

  // 2. Cluster names: only where the topology has none; never a name another cluster of the mesh already has.
  const taken = new Map<string, string>();
  const proposed = new Map<string, { name: string; derived: boolean }>();
  for (const pair of contextsNode.items) {
    const context = keyOf(pair);
    const cluster = isMap(pair.value) ? pair.value.get('cluster') : undefined;
    if (isSet(cluster)) taken.set(String(cluster), context);
  }
  for (const f of found) {
    const suggestion = clusterNameFor(f.kubeCluster);
    if (suggestion) proposed.set(f.context, suggestion);
  }
  for (const pair of contextsNode.items) {
    const context = keyOf(pair);
    const cluster = isMap(pair.value) ? pair.value.get('cluster') : undefined;
    if (!isSet(cluster) && !proposed.has(context) && !taken.has(context)) taken.set(context, context);
  }

  // Context → the kubeconfig cluster its (new) cluster name comes from, to tell a collision of two kubeconfig clusters
  // from two contexts of the same cluster.
  const derivedFor = new Map<string, string>();
  const changes: DiscoverChange[] = [];
  for (const f of found) {
    const at = formatPath(['contexts', f.context]);
    const suggestion = proposed.get(f.context);
    if (isSet(f.current.cluster)) {
      if (suggestion && suggestion.name !== f.current.cluster) {
        notes.push(
          `${at}.cluster: keeping ${show(f.current.cluster)} (the kubeconfig suggests ${show(suggestion.name)}); ` +
            "renaming a cluster changes Istio's clusterName and every remote secret",
        );
      }
    } else if (!suggestion) {
      warnings.push(
        `${at}: no cluster name can be made from kubeconfig cluster ${show(f.kubeCluster)}; the cluster name stays the context name (set cluster: by hand to choose one)`,
      );
    } else {
      const other = taken.get(suggestion.name);
      const otherKube = other === undefined ? undefined : derivedFor.get(other);
      const contextUsable = f.context.length <= 63 && DNS1123.test(f.context) && !taken.has(f.context);
      if (other !== undefined && other !== f.context && ((otherKube !== undefined && otherKube !== f.kubeCluster) || !contextUsable)) {
        const fix = `set \`cluster: <name>\` under ${at} in ${TOPOLOGY_FILE} (a DNS-1123 label no other context uses), then run \`meshgen discover\` again`;
        problems.push(
          src.problem(
            ['contexts', f.context],
            otherKube !== undefined && otherKube !== f.kubeCluster
              ? `cluster name collision: kubeconfig clusters ${show(otherKube)} (${formatPath(['contexts', other])}) and ${show(f.kubeCluster)} (${at}) both give the cluster name ${show(suggestion.name)}; cluster names must be unique in the mesh`
              : `cluster name collision: the cluster name ${show(suggestion.name)} (from kubeconfig cluster ${show(f.kubeCluster)}) is already used by ${formatPath(['contexts', other])}, and the context name cannot be the cluster name (not a DNS-1123 label of at most 63 characters)`,
            fix,
            true,
          ),
        );
      } else if (other !== undefined && other !== f.context) {
        warnings.push(
          `${at}: the cluster name ${show(suggestion.name)} (from kubeconfig cluster ${show(f.kubeCluster)}) is already used by ${formatPath(['contexts', other])}; ` +
            `keeping the context name ${show(f.context)} as the cluster name (set cluster: by hand to choose another)`,
        );
        taken.set(f.context, f.context);
      } else {
        taken.set(suggestion.name, f.context);
        derivedFor.set(f.context, f.kubeCluster);
        changes.push({
          context: f.context,
          key: 'cluster',
          to: suggestion.name,
          derivedFrom: suggestion.derived ? f.kubeCluster : undefined,
          description:
            `${at}.cluster: (unset) → ${suggestion.name} ` +
            (suggestion.derived ? `(derived from kubeconfig cluster ${show(f.kubeCluster)})` : '(the kubeconfig cluster name)'),
        });
      }
    }
    if (f.server !== undefined && f.server !== f.current.server) {
      const from = typeof f.current.server === 'string' ? f.current.server : undefined;
      changes.push({ context: f.context, key: 'server', from, to: f.server, description: `${at}.server: ${from ?? '(unset)'} → ${f.server}` });
    }
    const currentCa = typeof f.current.certificateAuthorityData === 'string' ? f.current.certificateAuthorityData.replace(/\s+/g, '') : undefined;
    if (f.caData !== undefined && f.caData !== currentCa) {
      changes.push({
        context: f.context,
        key: 'certificateAuthorityData',
        from: currentCa,
        to: f.caData,
        description: `${at}.certificateAuthorityData: updated${currentCa === undefined ? ' (was unset)' : ''}`,
      });
    }
  }

  if (problems.length > 0) throw new InputError(problems);
  if (missing.length > 0) {
    const known = [...kube.contexts.keys()];
    const list = missing.map((m) => {
      const hint = kube.contexts.has(m) ? undefined : nearest(m, known);
      return hint ? `${m} (did you mean "${hint}"?)` : m;
    });
    warnings.push(
      `not in the kubeconfig, left as they are: ${list.join(', ')}; check the names with \`kubectl config get-contexts\`, or pass --kubeconfig / set KUBECONFIG`,
    );
  }

  // 3. Edit the text in place, check that only the intended values changed, validate, write.
  let text = original;
  if (changes.length > 0) {
    const edited = editTopology(original, changes);
    if (edited.rerendered) warnings.push(`${TOPOLOGY_FILE} could not be edited in place; it was re-rendered (comments are kept, spacing may change)`);
    text = edited.text;
  }
  validate(original, text);
  if (text === original) return { kubeconfigs: kube.files, changes: [], missing, warnings, notes, written: false, text };
  if (opts.dryRun) {
    const diff = unifiedDiff(original, text, TOPOLOGY_FILE, `${TOPOLOGY_FILE} (after discover)`, abbreviateBase64);
    return { kubeconfigs: kube.files, changes, missing, warnings, notes, written: false, diff, text };
  }
  const target = fs.realpathSync(topologyPath);
  writeFileAtomic(target, text, fs.statSync(target).mode & 0o777);
  return { kubeconfigs: kube.files, changes, missing, warnings, notes, written: true, text };
}

// What the topology schema accepts as `server`, so that discover never copies a value validation then rejects.
const SERVER = new RegExp(
  ((TOPOLOGY_SCHEMA.properties?.contexts.additionalProperties as SchemaNode).properties?.server.pattern as string) ?? '^https://',
);
// What a server copied into topology.yaml must not hold (its validation refuses them too).
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|\{\{|\}\}/;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?|0\.0\.0\.0)$/i;
const DNS1123 = new RegExp(DNS1123_LABEL);

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

function isPemBase64(data: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return false;
  return Buffer.from(data, 'base64').toString('latin1').includes('-----BEGIN ');
}

/** Whether a key has a value (`key:` alone, or `key: ~`, counts as unset). */
function isSet(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function keyOf(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

// ---------------------------------------------------------------------------------------------------------------------
// Cluster names

/**
 * The Istio cluster name for a kubeconfig cluster name: the name itself when it is a DNS-1123 label, else one derived
 * from it (EKS ARN and GKE names give the cluster's own name; anything else is lowercased, with runs of other
 * characters replaced by "-"). Undefined when nothing usable remains.
 */
export function clusterNameFor(kubeCluster: string): { name: string; derived: boolean } | undefined {
  if (kubeCluster.length <= 63 && DNS1123.test(kubeCluster)) return { name: kubeCluster, derived: false };
  const eks = /^arn:aws[a-z-]*:eks:[^:]*:[^:]*:cluster\/(.+)$/.exec(kubeCluster);
  const gke = /^gke_[^_]+_[^_]+_(.+)$/.exec(kubeCluster);
  const base = eks?.[1] ?? gke?.[1] ?? kubeCluster;
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name.length > 0 && DNS1123.test(name) ? { name, derived: true } : undefined;
}

// ---------------------------------------------------------------------------------------------------------------------
// Kubeconfig

interface KubeCluster {
  readonly file: string;
  readonly src: YamlSource;
  /** Index in the file's `clusters:` list. */
  readonly index: number;
  readonly server?: string;
  readonly caData?: string;
  /** `certificate-authority`, resolved against the kubeconfig's directory. */
  readonly caFile?: string;
  readonly insecure: boolean;
  readonly tlsServerName?: string;
}

interface KubeContext {
  readonly file: string;
  readonly cluster?: string;
}

interface Kubeconfig {
  readonly files: string[];
  readonly clusters: Map<string, KubeCluster>;
  readonly contexts: Map<string, KubeContext>;
  readonly warnings: string[];
}

/** The kubeconfig files kubectl would read: `--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`. */
function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv, home: string): { files: string[]; warnings: string[] } {
  if (explicit !== undefined && explicit !== '') {
    const file = path.resolve(explicit);
    if (!fs.existsSync(file)) {
      throw new InputError({
        file,
        message: 'kubeconfig file not found (--kubeconfig)',
        fix: 'pass the path of an existing kubeconfig file to --kubeconfig',
      });
    }
    return { files: [file], warnings: [] };
  }
  const list = env.KUBECONFIG;
  if (list !== undefined && list.trim() !== '') {
    const all = [
      ...new Set(
        list
          .split(path.delimiter)
          .filter((f) => f.trim() !== '')
          .map((f) => path.resolve(f)),
      ),
    ];
    const files = all.filter((f) => fs.existsSync(f));
    const absent = all.filter((f) => !files.includes(f));
    if (files.length === 0) {
      throw new InputError(
        absent.map((file) => ({
          file,
          message: 'kubeconfig file not found (listed in KUBECONFIG)',
          fix: 'set KUBECONFIG to existing kubeconfig files (separated by ":"), or pass --kubeconfig <file>',
        })),
      );
    }
    // kubectl skips missing files of KUBECONFIG as long as one exists; so does discover, but says so.
    const warnings = absent.map((f) => `${f} (listed in KUBECONFIG) does not exist; skipped, as kubectl does`);
    return { files, warnings };
  }
  const file = path.join(home, '.kube', 'config');
  if (!fs.existsSync(file)) {
    throw new InputError({
      file,
      message: 'kubeconfig file not found (KUBECONFIG is not set, so discover reads ~/.kube/config as kubectl does)',
      fix: 'pass --kubeconfig <file>, or set KUBECONFIG to your kubeconfig file(s)',
    });
  }
  return { files: [file], warnings: [] };
}

/** The top-level keys of a kubeconfig (`kubectl config view`); a mapping with none of them is some other file. */
const KUBECONFIG_KEYS = ['apiVersion', 'kind', 'clusters', 'contexts', 'users', 'current-context', 'preferences'];

/** Reads and merges kubeconfig files as kubectl does: the first file that defines a cluster or context name wins. */
function loadKubeconfig(found: { files: string[]; warnings: string[] }): Kubeconfig {
  const clusters = new Map<string, KubeCluster>();
  const contexts = new Map<string, KubeContext>();
  const problems: Problem[] = [];
  const notAKubeconfig = 'check that it is a kubeconfig (apiVersion: v1, kind: Config, clusters:, contexts:), or pass another with --kubeconfig';
  for (const file of found.files) {
    let text: string;
    try {
      text = readBounded(file, {
        limit: READ_LIMITS.kubeconfig,
        what: 'the kubeconfig',
        fix: 'pass a kubeconfig file with --kubeconfig (or set KUBECONFIG)',
      });
    } catch (e) {
      if (e instanceof InputError) problems.push(...e.problems);
      else problems.push({ file, message: `cannot be read (${(e as NodeJS.ErrnoException).code})`, fix: 'check the path and its permissions' });
      continue;
    }
    let src: YamlSource;
    try {
      src = YamlSource.parse(file, text);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(...e.problems.map((p) => ({ ...p, message: `not a valid kubeconfig: ${p.message}`, fix: notAKubeconfig })));
      continue;
    }
    const data = src.toJS();
    if (data === null || data === undefined) continue; // an empty kubeconfig is valid (kubectl reads it as empty)
    if (typeof data !== 'object' || Array.isArray(data)) {
      problems.push({ file, line: 1, message: `not a kubeconfig: expected a mapping, got ${show(data)}`, fix: notAKubeconfig });
      continue;
    }
    const config = data as Record<string, unknown>;
    if ((config.kind !== undefined && config.kind !== 'Config') || !KUBECONFIG_KEYS.some((k) => k in config)) {
      problems.push(
        src.problem(
          config.kind !== undefined ? ['kind'] : [],
          `not a kubeconfig: expected kind: Config with clusters: and contexts:, got ${config.kind !== undefined ? `kind ${show(config.kind)}` : `the keys ${Object.keys(config).join(', ')}`}`,
          notAKubeconfig,
        ),
      );
      continue;
    }
    const fileProblems: Problem[] = [];
    const seen = { clusters: new Set<string>(), contexts: new Set<string>() };
    for (const section of ['clusters', 'contexts'] as const) {
      const list = config[section];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) {
        fileProblems.push(src.problem([section], `expected a list of named ${section}, got ${show(list)}`, notAKubeconfig));
        continue;
      }
      for (const [index, entry] of list.entries()) {
        const e = (entry ?? {}) as Record<string, unknown>;
        const inner = e[section === 'clusters' ? 'cluster' : 'context'];
        if (typeof e.name !== 'string' || (inner !== undefined && inner !== null && (typeof inner !== 'object' || Array.isArray(inner)))) {
          fileProblems.push(
            src.problem(
              [section, index],
              `expected {name: <string>, ${section === 'clusters' ? 'cluster' : 'context'}: {...}}, got ${show(entry)}`,
              notAKubeconfig,
            ),
          );
          continue;
        }
        if (seen[section].has(e.name)) {
          fileProblems.push(
            src.problem(
              [section, index, 'name'],
              `duplicate name ${show(e.name)} in ${section}`,
              'remove or rename one of them (kubectl refuses this file too)',
            ),
          );
          continue;
        }
        seen[section].add(e.name);
        const body = (inner ?? {}) as Record<string, unknown>;
        const str = (key: string): string | undefined => {
          const v = body[key];
          if (v === undefined || v === null || v === '') return undefined;
          if (typeof v === 'string') return v;
          fileProblems.push(
            src.problem([section, index, section === 'clusters' ? 'cluster' : 'context', key], `expected a string, got ${show(v)}`, notAKubeconfig),
          );
          return undefined;
        };
        if (section === 'contexts') {
          const cluster = str('cluster');
          if (!contexts.has(e.name)) contexts.set(e.name, { file, cluster });
          continue;
        }
        const caFile = str('certificate-authority');
        const cluster: KubeCluster = {
          file,
          src,
          index,
          server: str('server'),
          caData: str('certificate-authority-data'),
          caFile: caFile === undefined ? undefined : path.resolve(path.dirname(file), caFile),
          insecure: body['insecure-skip-tls-verify'] === true,
          tlsServerName: str('tls-server-name'),
        };
        if (!clusters.has(e.name)) clusters.set(e.name, cluster);
      }
    }
    problems.push(...fileProblems);
  }
  if (problems.length > 0) throw new InputError(problems);
  return { files: found.files, clusters, contexts, warnings: found.warnings };
}

// ---------------------------------------------------------------------------------------------------------------------
// Editing topology.yaml in place

/** Where new keys go in a context: after the last present key that comes before them in this order. */
const KEY_ORDER: readonly string[] = ['network', 'cluster', 'server', 'certificateAuthorityData'];

/** Options for the (fallback) re-rendering: never fold long values such as base64 CA data. */
const TO_STRING: Parameters<Document['toString']>[0] = { lineWidth: 0, minContentWidth: 0 };

/**
 * Applies `changes` to the text of topology.yaml.
 *
 * The text is spliced at the source ranges the yaml Document reports, so every byte outside the edited values stays as
 * it was: yaml's `toString()` keeps comments but not all formatting (it moves a comment that follows a key onto the
 * next line, adds a blank line before a trailing comment, collapses blank lines, re-indents; eemeli/yaml#602). The
 * result is checked against the same edits made with the Document API (`YAMLMap.set`); if the splice does not give
 * that data, the Document is re-rendered instead.
 */
function editTopology(original: string, changes: readonly DiscoverChange[]): { text: string; rerendered: boolean } {
  const expected = parseDocument(original);
  for (const c of changes) contextMap(expected, c.context)?.set(c.key, c.to);
  const want = expected.toJS({ maxAliasCount: 100 });

  let text: string | undefined = original;
  for (const c of changes) {
    text = splice(text, c);
    if (text === undefined) break;
  }
  if (text !== undefined && isDeepStrictEqual(parseDocument(text).toJS({ maxAliasCount: 100 }), want)) return { text, rerendered: false };

  // Fallback: the Document API alone, with the new keys moved after their anchors.
  const doc = parseDocument(original);
  for (const c of changes) {
    const map = contextMap(doc, c.context);
    if (!map) continue;
    const existing = findPair(map, c.key);
    if (existing) {
      if (isScalar(existing.value)) existing.value.value = c.to;
      else existing.value = doc.createNode(c.to);
      continue;
    }
    const anchor = anchorOf(map, c.key);
    map.items.splice(anchor === undefined ? map.items.length : map.items.indexOf(anchor) + 1, 0, doc.createPair(c.key, c.to));
  }
  const rendered = doc.toString(TO_STRING);
  if (!isDeepStrictEqual(parseDocument(rendered).toJS({ maxAliasCount: 100 }), want)) {
    throw new Error(`editing ${TOPOLOGY_FILE} gave unexpected data; nothing was written`);
  }
  return { text: rendered, rerendered: true };
}

function contextMap(doc: Document, context: string): YAMLMap | undefined {
  const contexts = doc.get('contexts', true);
  if (!isMap(contexts)) return undefined;
  const pair = contexts.items.find((p) => keyOf(p) === context);
  return pair && isMap(pair.value) ? pair.value : undefined;
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isPair(p) && keyOf(p) === key);
}

/** The pair after which `key` is inserted: the last (in the document) of the keys that precede it in KEY_ORDER. */
function anchorOf(map: YAMLMap, key: string): Pair | undefined {
  const before = KEY_ORDER.slice(0, KEY_ORDER.indexOf(key));
  let anchor: Pair | undefined;
  for (const p of map.items) if (before.includes(keyOf(p))) anchor = p;
  return anchor;
}

/** Sets one value by splicing the text; undefined when the shape is not one this handles (the caller re-renders). */
function splice(text: string, change: DiscoverChange): string | undefined {
  const doc = parseDocument(text);
  const map = contextMap(doc, change.context);
  if (!map) return undefined;
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const existing = findPair(map, change.key);
  if (existing) {
    const node = existing.value as { range?: [number, number, number]; type?: string } | null;
    if (!node?.range) return undefined;
    const [start, end] = node.range;
    const old = text.slice(start, end);
    const newline = /\r?\n$/.exec(old)?.[0] ?? ''; // block scalars end with their line break
    const value = renderScalar(change.to, isScalar(node) ? node.type : undefined, Boolean(map.flow));
    return text.slice(0, start) + (old === '' ? ' ' : '') + value + newline + text.slice(end);
  }
  const anchor = anchorOf(map, change.key) ?? map.items[map.items.length - 1];
  if (!anchor || !isPair(anchor)) return undefined;
  const keyNode = anchor.key as { range?: [number, number, number] };
  const valueNode = (anchor.value ?? anchor.key) as { range?: [number, number, number] } | null;
  if (!keyNode?.range || !valueNode?.range) return undefined;
  const value = renderScalar(change.to, undefined, Boolean(map.flow));
  if (map.flow) {
    const at = valueNode.range[1];
    return `${text.slice(0, at)}, ${change.key}: ${value}${text.slice(at)}`;
  }
  const keyStart = keyNode.range[0];
  const indent = keyStart - (text.lastIndexOf('\n', keyStart - 1) + 1);
  const end = valueNode.range[1];
  let at: number;
  if (text[end - 1] === '\n') at = end;
  else {
    const nl = text.indexOf('\n', end);
    at = nl === -1 ? text.length : nl + 1;
  }
  const line = `${' '.repeat(indent)}${change.key}: ${value}`;
  // After a last line without a line break, the new line becomes the last one, also without a line break.
  if (at === text.length && !text.endsWith('\n')) return `${text}${eol}${line}`;
  return `${text.slice(0, at)}${line}${eol}${text.slice(at)}`;
}

/** A YAML scalar for `value`: in the quoting style the old value had, plain where that is safe, else double-quoted. */
function renderScalar(value: string, style: string | undefined, flow: boolean): string {
  if (style === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
  if (style === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
  const safe = /^[A-Za-z0-9][A-Za-z0-9._~/:+=@%-]*$/.test(value) && !(flow && /[,[\]{}]/.test(value)) && parse(value) === value;
  return safe ? value : JSON.stringify(value);
}

/**
 * Validates the edited topology; problems are reported with the line numbers of the file as it is on disk.
 */
function validate(original: string, edited: string): void {
  try {
    parseTopology(edited);
  } catch (e) {
    if (!(e instanceof InputError) || edited === original) throw e;
    const lines = lineMap(original, edited);
    throw new InputError(
      e.problems.map((p) => {
        const line = p.line === undefined ? undefined : lines.get(p.line);
        return line === undefined ? { ...p, line: undefined, col: undefined } : { ...p, line };
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Line diff (jsdiff)

/** New line number → old line number, for the lines the edit kept. */
function lineMap(original: string, edited: string): Map<number, number> {
  const map = new Map<number, number>();
  let a = 1;
  let b = 1;
  for (const part of diffLines(original, edited)) {
    const n = part.count ?? 0;
    if (!part.added && !part.removed) for (let k = 0; k < n; k++) map.set(b + k, a + k);
    if (!part.added) a += n;
    if (!part.removed) b += n;
  }
  return map;
}

/**
 * A unified diff (3 lines of context, as `diff -u`) of two texts; empty when they are equal. `display` may shorten a
 * line for reading.
 */
export function unifiedDiff(before: string, after: string, fromName: string, toName: string, display: (line: string) => string = (l) => l): string {
  if (before === after) return '';
  const patch = structuredPatch(fromName, toName, before, after, undefined, undefined, { context: 3 });
  const out = [`--- ${fromName}`, `+++ ${toName}`];
  for (const h of patch.hunks) {
    out.push(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`);
    for (const line of h.lines) out.push(line.startsWith('\\') ? line : line[0] + display(line.slice(1)));
  }
  return `${out.join('\n')}\n`;
}

/** Shortens long base64 runs (CA data) for display: the diff is for reading, the file keeps the full value. */
function abbreviateBase64(line: string): string {
  return line.replace(/[A-Za-z0-9+/]{80,}={0,2}/g, (m) => `${m.slice(0, 24)}…(${m.length} characters)`);
}
