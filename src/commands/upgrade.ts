/**
 * `meshgen upgrade`: a canary upgrade of the Istio control plane, as Istio's revision-based upgrade guides run it, one
 * commit per phase:
 *
 * 1. `add` (`meshgen upgrade --to <version>`): a second (canary) revision next to the current one;
 * 2. `tag` (`meshgen upgrade tag <tag>`): a revision tag moves to the canary (its namespaces are then restarted);
 * 3. `gateways` (`meshgen upgrade gateways`): the east-west gateways move to the canary;
 * 4. `finish` (`meshgen upgrade finish`): the old revision is removed once nothing points at it.
 *
 * Each phase only rewrites `topology.yaml` (`istio.revisions`, `istio.tags`, `istio.gatewayRevision`) with the `yaml`
 * package's Document API, so that comments, key order and formatting elsewhere survive; the new text is validated as
 * synth would read it before it is written (atomically, under the work directory's lock). `npm run synth` then renders
 * the revisions. `meshgen upgrade` alone reports where the upgrade stands (read-only).
 *
 * The phase functions ({@link addRevision}, {@link moveTag}, {@link moveGateways}, {@link finishUpgrade},
 * {@link upgradeStatus}) are pure: topology text in, new text and what changed out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Document, isMap, isPair, isScalar, type Node, type Pair, parseDocument, type Scalar, type YAMLMap } from 'yaml';
import { InputError, type Problem, show } from '../errors';
import { writeFileAtomic } from '../fs-util';
import { withWorkdirLock } from '../lock';
import { parseTopology, readInput, TOPOLOGY_FILE } from '../topology/load';
import { compareVersions, DEFAULT_TAG, gatewayRevisionOf, type Installer, type Mesh, remotesOf, sailRevisionFor } from '../topology/model';
import { DNS1123_LABEL, TOPOLOGY_SCHEMA } from '../topology/schema';

/** The steps that change topology.yaml. */
export const UPGRADE_STEPS = ['add', 'tag', 'gateways', 'finish'] as const;
export type UpgradeStep = (typeof UPGRADE_STEPS)[number];

/** Where an upgrade stands (see {@link upgradeStatus}). */
export type UpgradePhase = 'stable' | 'canary added' | 'tags moving' | 'ready to finish';

/** The longest revision and tag names, as topology.yaml's schema has them (`istiod-<revision>` must fit Helm's 53). */
function maxNameLength(key: 'revisions' | 'tags'): number {
  const n = TOPOLOGY_SCHEMA.properties?.istio?.properties?.[key]?.propertyNames?.maxLength;
  if (n === undefined) throw new Error(`the topology schema has no maxLength for istio.${key} names`);
  return n;
}
const MAX_REVISION_NAME = maxNameLength('revisions');
const MAX_TAG_NAME = maxNameLength('tags');
/** Istio supports canary upgrades across at most this many minor versions. */
const MAX_MINOR_JUMP = 2;

/** How topology.yaml is written back: no folding of long lines, flow collections as `{a: b}`, quoted strings on one line. */
const STRINGIFY = { lineWidth: 0, flowCollectionPadding: false, doubleQuotedMinMultiLineLength: Number.MAX_SAFE_INTEGER } as const;

/**
 * The revision name of an Istio version: the version with dots turned into dashes and a leading `v` dropped
 * (`1.30.3` → `1-30-3`, `v1.30.0-beta.1` → `1-30-0-beta-1`), lower case. With Sail it is the name the Sail Operator gives
 * the revision of its RevisionBased `Istio` (`default-v1-30-3`), which topology.yaml must use.
 */
export function revisionNameFor(version: string, installer: Installer): string {
  if (installer === 'sail') return sailRevisionFor(version.trim());
  return version
    .trim()
    .replace(/^v(?=\d)/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

// ---------------------------------------------------------------------------------------------------------------
// What to wait for
// ---------------------------------------------------------------------------------------------------------------

/**
 * Exported for the README and tests: what to wait for after each step before running the next one. `<old>` is the
 * current (first) revision, `<canary>` the new one, `<tag>` a tag just moved, `<ctx>` each kube context of the mesh;
 * {@link waitLines} fills them in (and lists the commands per context).
 */
export const WAIT_BEFORE_NEXT: Record<UpgradeStep, string[]> = {
  add: [
    'every cluster synced (Argo CD Applications Synced/Healthy, or the Flux Kustomizations Ready), and on every primary',
    '  the canary control plane running: `kubectl --context <ctx> -n istio-system rollout status deploy/istiod-<canary>`;',
    '  `istioctl --context <ctx> proxy-status --revision <canary>` answers (it lists no proxy yet). Nothing has moved:',
    '  every workload still runs on <old>.',
  ],
  tag: [
    'every cluster synced: the tag webhook now injects <canary>',
    '  (`kubectl --context <ctx> get mutatingwebhookconfigurations -l <tag-selector> -L istio.io/rev` shows <canary>);',
    'then restart the workloads of the namespaces labelled istio.io/rev=<tag> (for the "default" tag also',
    '  istio-injection=enabled) so that they are injected by <canary>: `kubectl --context <ctx> -n <namespace> rollout restart deployment`',
    '  (statefulsets and daemonsets alike). Running pods keep the proxy they were started with until they restart.',
    'they are on the canary when `kubectl --context <ctx> get pods -A -l istio.io/rev=<canary>` lists them and',
    '  `istioctl --context <ctx> proxy-status --revision <canary>` shows them SYNCED. Roll back by moving the tag back',
    '  (edit istio.tags) and restarting again.',
  ],
  gateways: [
    'every cluster synced: the east-west gateway pods rolled out on <canary>',
    '  (`kubectl --context <ctx> -n istio-system get pods -l istio.io/rev=<canary>` lists them; cross-network traffic flows).',
  ],
  finish: [
    'every cluster synced, and Argo CD / Flux pruned the <old> control plane (istiod-<old> and its webhooks are gone;',
    '  Argo CD prunes only with automated sync prune or a sync with --prune, Flux Kustomizations with prune: true). The upgrade is over.',
  ],
};

/** Exported for the README and tests: what must hold before `meshgen upgrade finish` (placeholders as above). */
export const WAIT_BEFORE_FINISH: string[] = [
  'no proxy left on <old>: per context, `kubectl --context <ctx> get pods -A -l istio.io/rev=<old>` lists nothing and',
  '  `istioctl --context <ctx> proxy-status --revision <old>` (on each primary) shows no proxy. Namespaces labelled',
  '  istio.io/rev=<old> directly, not through a tag, must be relabelled to a tag or to <canary> and restarted first.',
];

/**
 * {@link WAIT_BEFORE_NEXT} of a step with its placeholders filled in (`<tag>` with one tag or several, `<ctx>` left for
 * the reader: see {@link contextsNote}).
 */
export function waitLines(step: UpgradeStep | 'before-finish', v: { old?: string; canary?: string; tags?: readonly string[] }): string[] {
  const tags = v.tags ?? [];
  const selector = tags.length === 1 ? `istio.io/tag=${tags[0]}` : tags.length > 1 ? `'istio.io/tag in (${tags.join(',')})'` : 'istio.io/tag=<tag>';
  const fill = (l: string) =>
    l
      .replaceAll('<old>', v.old ?? '<old>')
      .replaceAll('<canary>', v.canary ?? '<canary>')
      .replaceAll('<tag-selector>', selector)
      .replaceAll('istio.io/rev=<tag>', tags.length > 0 ? tags.map((t) => `istio.io/rev=${t}`).join(' or ') : 'istio.io/rev=<tag>');
  return (step === 'before-finish' ? WAIT_BEFORE_FINISH : WAIT_BEFORE_NEXT[step]).map(fill);
}

/**
 * With Sail, the old control plane is not in dist/: Sail created its IstioRevision and deletes it once unused (InUse
 * False longer than inactiveRevisionDeletionGracePeriodSeconds, 30 s by default; sail-operator pkg/revision/prune.go),
 * but never where istiod runs with EXTERNAL_ISTIOD (controllers/istio/istio_controller.go), which meshgen sets on
 * primaries serving remotes and on remotes: there it must be deleted by hand.
 */
export function sailPruneLines(mesh: Mesh, old: string): string[] {
  const external = mesh.clusters.filter((c) => c.role === 'remote' || remotesOf(mesh, c).length > 0);
  const lines = [
    `every cluster synced; Sail deletes IstioRevision ${old} (its istiod and webhooks) by itself once nothing uses it (30 s grace by default)`,
  ];
  if (external.length > 0) {
    lines.push(
      `  except with EXTERNAL_ISTIOD (primaries serving remotes, and remotes), where Sail never prunes: delete it there:`,
      ...external.map((c) => `  kubectl --context ${c.context} delete istiorevision ${old}`),
    );
  }
  return lines;
}

/** The line that says what `<ctx>` stands for. */
export function contextsNote(contexts: readonly string[]): string {
  return `(<ctx>: each kube context of the mesh: ${contexts.join(', ')})`;
}

/**
 * Per kube context, the commands that show which proxies still run on revision `old`: the pods it injected
 * (`istio.io/rev=<old>`, on every cluster) and the proxies connected to its istiod (on each primary, which also serves
 * the proxies of its remotes).
 */
export function oldProxyChecks(mesh: Mesh, old: string): string[] {
  return [
    ...mesh.clusters.map((c) => `kubectl --context ${c.context} get pods -A -l istio.io/rev=${old}`),
    ...mesh.clusters.filter((c) => c.role === 'primary').map((c) => `istioctl --context ${c.context} proxy-status --revision ${old}`),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------------------------

/** Where the upgrade stands, as `meshgen upgrade` prints it (and `--json`). */
export interface UpgradeStatus {
  readonly installer: Installer;
  /** In topology order: the current one first, then the canary. `name` is absent for the unrevisioned control plane. */
  readonly revisions: readonly { readonly name?: string; readonly version?: string; readonly role: 'current' | 'canary' }[];
  /** Each tag and the revision it points at. */
  readonly tags: readonly { readonly name: string; readonly revision: string; readonly onCanary: boolean }[];
  /** What the east-west gateways' pods are labelled with (a tag or a revision), and the revision it resolves to. */
  readonly gateways: { readonly label?: string; readonly revision?: string; readonly followsTag?: string; readonly explicit: boolean };
  readonly phase: UpgradePhase;
  /** The phase in words, e.g. `tags moving (1 of 2 on the canary)`. */
  readonly phaseText: string;
  /** The next command, or undefined when there is none (an unrevisioned control plane). */
  readonly next?: string;
  /** Why that command, in words. */
  readonly nextWhy: string;
  /** What to wait for (or check) before running it. */
  readonly waitFor: readonly string[];
  /** During an upgrade: per kube context, the commands that list the proxies still on the current (old) revision. */
  readonly oldProxies: readonly string[];
}

/** Where the upgrade of the topology `text` stands (see {@link UpgradeStatus}). */
export function upgradeStatus(text: string): UpgradeStatus {
  return statusOf(parseTopology(text));
}

function statusOf(mesh: Mesh): UpgradeStatus {
  const revs = mesh.istio.revisions;
  const [cur, canary] = revs;
  const contexts = mesh.clusters.map((c) => c.context);
  const gw = gatewayOf(mesh);
  const tags = mesh.istio.tags.map((t) => ({ name: t.name, revision: t.revision, onCanary: canary !== undefined && t.revision === canary.name }));
  const base = {
    installer: mesh.istio.installer,
    revisions: revs.map(
      (r, i) => ({ ...(r.name !== undefined ? { name: r.name } : {}), version: r.version, role: i === 0 ? 'current' : 'canary' }) as const,
    ),
    tags,
    gateways: gw,
  };
  if (canary === undefined) {
    if (cur.name === undefined) {
      return {
        ...base,
        phase: 'stable',
        phaseText: 'stable (unrevisioned control plane)',
        nextWhy: `the control plane has no revision name, so no canary can run beside it: upgrade in place by changing istio.version, or move to a named revision first (${UNREVISIONED_FIX})`,
        waitFor: [],
        oldProxies: [],
      };
    }
    return {
      ...base,
      phase: 'stable',
      phaseText: 'stable',
      next: 'meshgen upgrade --to <version>',
      nextWhy: `adds a canary revision next to ${cur.name}${cur.version ? ` (Istio ${cur.version})` : ''}`,
      waitFor: [],
      oldProxies: [],
    };
  }
  const old = cur.name as string;
  const onOld = orderTags(tags.filter((t) => t.revision === old).map((t) => t.name));
  const moved = tags.filter((t) => t.onCanary).map((t) => t.name);
  const gwOnOld = gw.revision === old;
  const gwOnCanary = gw.revision === canary.name;
  const fill = { old, canary: canary.name };
  let phase: UpgradePhase;
  let phaseText: string;
  if (onOld.length === 0 && !gwOnOld) {
    phase = 'ready to finish';
    phaseText = phase;
  } else if (moved.length === 0 && !gwOnCanary) {
    phase = 'canary added';
    phaseText = phase;
  } else {
    phase = 'tags moving';
    phaseText = `tags moving (${moved.length} of ${tags.length} on the canary)`;
  }
  let next: string;
  let nextWhy: string;
  if (onOld.length > 0) {
    next = `meshgen upgrade tag ${onOld[0]}`;
    nextWhy = `tag ${onOld[0]} still points at ${old}${gw.followsTag === onOld[0] ? ' (the east-west gateways follow it and move with it)' : ''}`;
  } else if (gwOnOld) {
    next = 'meshgen upgrade gateways';
    nextWhy = `the east-west gateways still run on ${old}`;
  } else {
    next = 'meshgen upgrade finish';
    nextWhy = `no tag and not the east-west gateways point at ${old} any more; finish removes it`;
  }
  if (phase === 'canary added' && tags.length === 0) {
    next = `meshgen upgrade tag ${DEFAULT_TAG}`;
    nextWhy = `no tag exists: create the "${DEFAULT_TAG}" tag on ${canary.name} (namespaces labelled istio.io/rev=${old} directly must be relabelled by hand)`;
  }
  // What the phases done so far need before the next command.
  const waitFor =
    phase === 'canary added'
      ? waitLines('add', fill)
      : [
          ...(moved.length > 0 ? waitLines('tag', { ...fill, tags: moved }) : []),
          ...(gw.explicit && gwOnCanary ? waitLines('gateways', fill) : []),
          ...(phase === 'ready to finish' ? waitLines('before-finish', fill) : []),
        ];
  waitFor.push(contextsNote(contexts));
  return { ...base, phase, phaseText, next, nextWhy, waitFor, oldProxies: oldProxyChecks(mesh, old) };
}

/** The status as text: revisions, tags, gateways, phase, next command and what to wait for. */
export function renderUpgradeStatus(s: UpgradeStatus): string {
  const out: string[] = [];
  out.push(`installer: ${s.installer}`);
  out.push('revisions:');
  for (const r of s.revisions) out.push(`  ${r.name ?? '(unrevisioned)'}  Istio ${r.version ?? '(not pinned)'}  ${r.role}`);
  out.push(s.tags.length === 0 ? 'tags: none' : 'tags:');
  for (const t of s.tags) out.push(`  ${t.name} -> ${t.revision}${s.revisions.length > 1 ? (t.onCanary ? '  (canary)' : '  (current)') : ''}`);
  const g = s.gateways;
  out.push(
    `east-west gateways: ${g.revision ?? '(unrevisioned)'}${g.followsTag ? ` (follow tag ${g.followsTag})` : g.explicit ? ' (istio.gatewayRevision)' : ''}`,
  );
  out.push(`phase: ${s.phaseText}`);
  out.push(s.next ? `next: ${s.next}  # ${s.nextWhy}` : `next: ${s.nextWhy}`);
  if (s.waitFor.length > 0) out.push('before it, wait for:', ...s.waitFor.map((l) => `  ${l}`));
  if (s.oldProxies.length > 0) {
    out.push(
      `proxies still on ${s.revisions[0].name} (the list must be empty before \`meshgen upgrade finish\`):`,
      ...s.oldProxies.map((l) => `  ${l}`),
    );
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// The phases (pure)
// ---------------------------------------------------------------------------------------------------------------

/** What a phase did to the topology text. */
export interface UpgradeEdit {
  readonly step: UpgradeStep;
  /** The new topology text; equal to the input when nothing changed. */
  readonly text: string;
  readonly changed: boolean;
  /** What changed (or why nothing did), one line each. */
  readonly changes: readonly string[];
  /** What the user should know (a large version jump, a downgrade). */
  readonly warnings: readonly string[];
  /** The command that usually follows. */
  readonly next?: string;
  /** What to wait for before it. */
  readonly waitFor: readonly string[];
}

/** Options of {@link addRevision}. */
export interface AddRevisionOptions {
  /** The Istio version of the canary (`1.30.3`). */
  readonly to: string;
  /** Its revision name. @default revisionNameFor(to, installer) */
  readonly revision?: string;
}

const UNREVISIONED_FIX =
  'either upgrade in place by changing istio.version, or move to a named revision first (set istio.revision, e.g. "1-29-2", run `npm run synth`, relabel the namespaces istio.io/rev=<revision> or add istio.tags, and commit) and then run `meshgen upgrade --to <version>`';

/**
 * Phase `add`: a canary revision after the current one. The shorthand `version:` / `revision:` becomes an
 * `istio.revisions` map at the same place; `istio.gatewayRevision` is set to the current revision when the gateways
 * would otherwise have no default.
 *
 * @throws InputError (nothing to write) on an unrevisioned control plane, an upgrade under way, the same version, a
 *   name already used, an ambient mesh, or a result the loader refuses
 */
export function addRevision(text: string, opts: AddRevisionOptions): UpgradeEdit {
  const mesh = parseTopology(text);
  const revs = mesh.istio.revisions;
  const cur = revs[0];
  const to = opts.to.trim();
  if (!/^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.-]+)?$/.test(to)) {
    throw usage('--to', `${show(opts.to)} is not an Istio version`, 'pass a version such as 1.30.3 (as the Istio release is named)');
  }
  if (revs.length > 1) throw underWay(mesh, 'an upgrade is already under way');
  if (cur.name === undefined) {
    throw new InputError({
      file: TOPOLOGY_FILE,
      path: 'istio',
      message:
        'the control plane is unrevisioned (no istio.revision): its istiod serves istio-injection=enabled namespaces through its own webhook, which cannot be handed over to a revision tag through Git, so no canary can take over from it',
      fix: UNREVISIONED_FIX,
    });
  }
  if (mesh.istio.installer === 'sail' && !mesh.istio.revisionBased) {
    throw new InputError({
      file: TOPOLOGY_FILE,
      path: 'istio',
      message: `the Sail Operator runs this control plane InPlace (istio.revision ${show(cur.name)}, the shorthand): Sail runs revisions side by side only with the RevisionBased strategy, where it names them itself, and moving an InPlace Istio to it is not a canary`,
      fix: `upgrade in place by changing istio.version; or move to \`revisions: {${sailRevisionFor(cur.version ?? '<version>')}: {version: ${cur.version ?? '<version>'}}}\` first (Sail installs that revision beside the InPlace one), then run \`meshgen upgrade --to <version>\``,
    });
  }
  if (cur.version === undefined) {
    throw new InputError({
      file: TOPOLOGY_FILE,
      path: 'istio.version',
      message: `revision ${cur.name} has no Istio version pinned, so the canary cannot be told apart from it (istio.revisions needs a version per revision)`,
      fix: 'set istio.version to the version the clusters run now, run `npm run synth` and commit; then run `meshgen upgrade --to <version>`',
    });
  }
  const cmp = compareVersions(to, cur.version);
  if (cmp === 0) {
    throw usage('--to', `revision ${cur.name} already runs Istio ${cur.version}`, 'pass the version to upgrade to (a newer Istio release)');
  }
  const name = opts.revision ?? revisionNameFor(to, mesh.istio.installer);
  const nameProblem = labelProblem(name, MAX_REVISION_NAME);
  if (nameProblem || name === DEFAULT_TAG) {
    throw usage(
      '--revision',
      `${show(name)} cannot be a revision name: ${name === DEFAULT_TAG ? 'Istio uses "default" for the unrevisioned control plane and the default tag' : nameProblem}`,
      'pass --revision <name>: lowercase letters, digits and "-", at most 46 characters, e.g. 1-30-3',
    );
  }
  if (name === cur.name) {
    throw usage(
      '--revision',
      `revision ${show(name)} is the current revision`,
      'pass another name with --revision (e.g. the new version with dashes)',
    );
  }
  if (mesh.istio.tags.some((t) => t.name === name)) {
    throw usage(
      '--revision',
      `${show(name)} is the name of a tag: namespaces labelled istio.io/rev=${name} would match both`,
      'pass another revision name with --revision',
    );
  }
  if (mesh.istio.dataplane === 'ambient') {
    throw new InputError({
      file: TOPOLOGY_FILE,
      path: 'istio.dataplane',
      message:
        'is ambient: revision tags and canary revisions are not supported with the ambient data plane (ztunnel is not revisioned, so meshgen cannot move it between control planes)',
      fix: `upgrade an ambient mesh in place: change the version of revision ${cur.name} in topology.yaml, run \`npm run synth\` and commit`,
    });
  }
  const warnings: string[] = [];
  if (cmp < 0) warnings.push(`Istio ${to} is older than ${cur.version}: this is a downgrade (check Istio's notes on rolling back)`);
  else if (minorJump(cur.version, to) > MAX_MINOR_JUMP) {
    warnings.push(
      `Istio ${to} is more than ${MAX_MINOR_JUMP} minor versions after ${cur.version}: Istio supports canary upgrades across at most ${MAX_MINOR_JUMP} minor versions; upgrade in steps`,
    );
  }

  const doc = parseDoc(text);
  const istio = istioMap(doc);
  const changes: string[] = [];
  const revisions = istio.get('revisions', true);
  if (isMap(revisions)) {
    const sibling = revisions.items[0]?.value;
    revisions.items.push(doc.createPair(name, versionMap(doc, to, isMap(sibling) ? sibling.flow === true : true)) as Pair<unknown, unknown>);
    changes.push(`istio.revisions: added ${name} (Istio ${to}) after ${cur.name} (Istio ${cur.version})`);
  } else {
    const keys = ['version', 'revision'];
    const at = istio.items.findIndex((p) => keys.includes(keyOf(p)));
    const old = istio.items.filter((p) => keys.includes(keyOf(p)));
    const map = doc.createNode({}) as YAMLMap;
    const curValue = versionMap(doc, cur.version, true);
    const trailing = old.map((p) => (isScalar(p.value) ? p.value.comment : undefined)).filter((c): c is string => Boolean(c));
    if (trailing.length > 0) curValue.comment = trailing.join('\n');
    map.items.push(
      doc.createPair(cur.name, curValue) as Pair<unknown, unknown>,
      doc.createPair(name, versionMap(doc, to, true)) as Pair<unknown, unknown>,
    );
    const pair = doc.createPair('revisions', map) as Pair<Scalar, YAMLMap>;
    const before = old.map((p) => (isScalar(p.key) ? p.key.commentBefore : undefined)).filter((c): c is string => Boolean(c));
    if (before.length > 0) pair.key.commentBefore = before.join('\n');
    if (old.some((p) => isScalar(p.key) && p.key.spaceBefore)) pair.key.spaceBefore = true;
    istio.items = istio.items.filter((p) => !keys.includes(keyOf(p)));
    istio.items.splice(at, 0, pair as Pair<unknown, unknown>);
    changes.push(
      `istio.version and istio.revision: replaced by istio.revisions: ${cur.name} (Istio ${cur.version}, current), ${name} (Istio ${to}, canary)`,
    );
  }
  const hasDefaultTag = mesh.istio.tags.some((t) => t.name === DEFAULT_TAG);
  if (mesh.istio.gatewayRevision === undefined && !hasDefaultTag) {
    const after = Math.max(...['revisions', 'tags'].map((k) => istio.items.findIndex((p) => keyOf(p) === k)));
    istio.items.splice(after + 1, 0, doc.createPair('gatewayRevision', cur.name) as Pair<unknown, unknown>);
    changes.push(`istio.gatewayRevision: set to ${cur.name} (the east-west gateways stay on it until \`meshgen upgrade gateways\`)`);
  }
  const newText = stringify(doc, text);
  const after = validated(newText, `after adding revision ${name}`);
  const contexts = after.clusters.map((c) => c.context);
  const firstTag = orderTags(mesh.istio.tags.map((t) => t.name))[0];
  return {
    step: 'add',
    text: newText,
    changed: true,
    changes,
    warnings,
    next: `meshgen upgrade tag ${firstTag ?? DEFAULT_TAG}`,
    waitFor: [...waitLines('add', { old: cur.name, canary: name }), contextsNote(contexts)],
  };
}

/**
 * Phase `tag`: points `tag` at the canary (the second revision); a tag that does not exist yet is created.
 *
 * @throws InputError when no upgrade is under way or the tag is on the canary already
 */
export function moveTag(text: string, tag: string): UpgradeEdit {
  const mesh = parseTopology(text);
  const [cur, canary] = mesh.istio.revisions;
  const problem = labelProblem(tag, MAX_TAG_NAME);
  if (problem) throw usage('tag', `${show(tag)} cannot be a tag name: ${problem}`, 'name a tag of istio.tags (e.g. default, prod)');
  if (canary === undefined) throw notUnderWay(mesh, `meshgen upgrade tag ${tag}`);
  const canaryName = canary.name as string;
  const existing = mesh.istio.tags.find((t) => t.name === tag);
  if (existing?.revision === canaryName) {
    throw new InputError({
      file: TOPOLOGY_FILE,
      path: `istio.tags.${tag}`,
      message: `tag ${tag} already points at the canary ${canaryName}`,
      fix: `nothing to do for it; run \`meshgen upgrade\` to see the next step`,
    });
  }
  if (mesh.istio.revisions.some((r) => r.name === tag)) {
    throw usage('tag', `${show(tag)} is a revision name, not a tag`, `name a tag (e.g. ${DEFAULT_TAG}, prod); a revision cannot be moved`);
  }
  const doc = parseDoc(text);
  const istio = istioMap(doc);
  const changes: string[] = [];
  const tags = istio.get('tags', true);
  if (isMap(tags)) {
    tags.set(tag, canaryName);
  } else {
    const map = doc.createNode({ [tag]: canaryName }) as YAMLMap;
    map.flow = true;
    const at = istio.items.findIndex((p) => keyOf(p) === 'revisions');
    istio.items.splice(at + 1, 0, doc.createPair('tags', map) as Pair<unknown, unknown>);
  }
  changes.push(
    existing
      ? `istio.tags.${tag}: ${existing.revision} -> ${canaryName}`
      : `istio.tags.${tag}: new tag, points at ${canaryName} (namespaces must be labelled istio.io/rev=${tag}${tag === DEFAULT_TAG ? ' or istio-injection=enabled' : ''} to use it)`,
  );
  const gw = gatewayOf(mesh);
  if (gw.followsTag === tag) changes.push(`the east-west gateways follow tag ${tag}: they move to ${canaryName} with it`);
  const newText = stringify(doc, text);
  const after = validated(newText, `after moving tag ${tag}`);
  const s = upgradeStatus(newText);
  return {
    step: 'tag',
    text: newText,
    changed: true,
    changes,
    warnings: [],
    next: s.next,
    waitFor: [...waitLines('tag', { old: cur.name, canary: canaryName, tags: [tag] }), contextsNote(after.clusters.map((c) => c.context))],
  };
}

/**
 * Phase `gateways`: `istio.gatewayRevision` from the current revision to the canary. Gateways that follow a tag move
 * with it: nothing changes then.
 *
 * @throws InputError when no upgrade is under way or the gateways run on the canary already
 */
export function moveGateways(text: string): UpgradeEdit {
  const mesh = parseTopology(text);
  const [cur, canary] = mesh.istio.revisions;
  if (canary === undefined) throw notUnderWay(mesh, 'meshgen upgrade gateways');
  const canaryName = canary.name as string;
  const gw = gatewayOf(mesh);
  const contexts = mesh.clusters.map((c) => c.context);
  if (gw.followsTag !== undefined) {
    const on = gw.revision === canaryName ? 'the canary' : `${gw.revision}`;
    return {
      step: 'gateways',
      text,
      changed: false,
      changes: [
        `the east-west gateways follow tag ${gw.followsTag} (now on ${on}): they move with that tag${gw.revision === canaryName ? '' : ` (\`meshgen upgrade tag ${gw.followsTag}\`)`}; nothing changed`,
      ],
      warnings: [],
      next: statusOf(mesh).next,
      waitFor: [],
    };
  }
  if (gw.revision === canaryName) {
    throw new InputError({
      file: TOPOLOGY_FILE,
      path: 'istio.gatewayRevision',
      message: `the east-west gateways already run on the canary ${canaryName}`,
      fix: 'nothing to do for them; run `meshgen upgrade` to see the next step',
    });
  }
  const doc = parseDoc(text);
  const istio = istioMap(doc);
  istio.set('gatewayRevision', canaryName);
  const newText = stringify(doc, text);
  validated(newText, 'after moving the east-west gateways');
  return {
    step: 'gateways',
    text: newText,
    changed: true,
    changes: [`istio.gatewayRevision: ${cur.name} -> ${canaryName} (the east-west gateways roll out on the canary)`],
    warnings: [],
    next: upgradeStatus(newText).next,
    waitFor: [...waitLines('gateways', { old: cur.name, canary: canaryName }), contextsNote(contexts)],
  };
}

/**
 * Phase `finish`: removes the current (first) revision once no tag and not the gateways point at it. `istio.revisions`
 * keeps its map form with the one remaining entry; `istio.gatewayRevision` is dropped when it names that revision and
 * the default would be the same (no `default` tag).
 *
 * @throws InputError when no upgrade is under way, or naming each tag / the gateways still on the old revision
 */
export function finishUpgrade(text: string): UpgradeEdit {
  const mesh = parseTopology(text);
  const [cur, canary] = mesh.istio.revisions;
  if (canary === undefined) throw notUnderWay(mesh, 'meshgen upgrade finish');
  const old = cur.name as string;
  const canaryName = canary.name as string;
  const problems: Problem[] = [];
  for (const t of mesh.istio.tags.filter((x) => x.revision === old)) {
    problems.push({
      file: TOPOLOGY_FILE,
      path: `istio.tags.${t.name}`,
      message: `tag ${t.name} still points at ${old}, the revision finish would remove`,
      fix: `run \`meshgen upgrade tag ${t.name}\` (then synth, commit, restart its namespaces) first`,
    });
  }
  const gw = gatewayOf(mesh);
  if (gw.revision === old && gw.followsTag === undefined) {
    problems.push({
      file: TOPOLOGY_FILE,
      path: 'istio.gatewayRevision',
      message: `the east-west gateways still run on ${old}, the revision finish would remove`,
      fix: 'run `meshgen upgrade gateways` (then synth, commit, wait for the rollout) first',
    });
  }
  if (problems.length > 0) throw new InputError(problems);

  const doc = parseDoc(text);
  const istio = istioMap(doc);
  const revisions = istio.get('revisions', true);
  if (!isMap(revisions)) throw new Error('topology.yaml: two revisions but no istio.revisions mapping');
  removePair(revisions, old);
  const changes = [`istio.revisions: removed ${old} (Istio ${cur.version}); ${canaryName} (Istio ${canary.version}) is the only revision`];
  const hasDefaultTag = mesh.istio.tags.some((t) => t.name === DEFAULT_TAG);
  if (mesh.istio.gatewayRevision === canaryName && !hasDefaultTag) {
    removePair(istio, 'gatewayRevision');
    changes.push(`istio.gatewayRevision: removed (the east-west gateways default to the only revision, ${canaryName})`);
  }
  const newText = stringify(doc, text);
  const after = validated(newText, `after removing revision ${old}`);
  return {
    step: 'finish',
    text: newText,
    changed: true,
    changes,
    warnings: [],
    waitFor: [
      // Argo CD and Flux prune what dist/ held of the old revision; with Sail that is no control plane: Sail prunes it.
      ...(after.istio.installer === 'sail' ? sailPruneLines(after, old) : waitLines('finish', { old, canary: canaryName })),
      contextsNote(after.clusters.map((c) => c.context)),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The locked writer
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link runUpgrade}. */
export type UpgradeRequest =
  | ({ readonly step: 'add' } & AddRevisionOptions)
  | { readonly step: 'tag'; readonly tag: string }
  | { readonly step: 'gateways' }
  | { readonly step: 'finish' };

/**
 * Runs one phase on `<workdir>/topology.yaml` under the work directory's lock, and writes the new text atomically
 * (keeping the file's mode) when it changed. Nothing else is written.
 */
export function runUpgrade(workdir: string, req: UpgradeRequest): UpgradeEdit {
  const command = `meshgen upgrade${req.step === 'add' ? ` --to ${req.to}` : ` ${req.step}`}`;
  return withWorkdirLock(workdir, command, 'exclusive', () => {
    const text = readInput(workdir, TOPOLOGY_FILE, 'run `meshgen prep --mesh-id <id> --org <org>` or pass --workdir');
    let edit: UpgradeEdit;
    switch (req.step) {
      case 'add':
        edit = addRevision(text, req);
        break;
      case 'tag':
        edit = moveTag(text, req.tag);
        break;
      case 'gateways':
        edit = moveGateways(text);
        break;
      case 'finish':
        edit = finishUpgrade(text);
        break;
    }
    if (edit.changed) {
      const file = fs.realpathSync(path.join(workdir, TOPOLOGY_FILE));
      writeFileAtomic(file, edit.text, fs.statSync(file).mode & 0o777);
    }
    return edit;
  });
}

/** {@link upgradeStatus} of `<workdir>/topology.yaml`, read under the work directory's shared lock. */
export function readUpgradeStatus(workdir: string): UpgradeStatus {
  return withWorkdirLock(workdir, 'meshgen upgrade', 'shared', () =>
    upgradeStatus(readInput(workdir, TOPOLOGY_FILE, 'run `meshgen prep --mesh-id <id> --org <org>` or pass --workdir')),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

function gatewayOf(mesh: Mesh): UpgradeStatus['gateways'] {
  const { label, revision } = gatewayRevisionOf(mesh);
  const tag = label === undefined ? undefined : mesh.istio.tags.find((t) => t.name === label);
  return {
    ...(label !== undefined ? { label } : {}),
    ...(revision.name !== undefined ? { revision: revision.name } : {}),
    ...(tag ? { followsTag: tag.name } : {}),
    explicit: mesh.istio.gatewayRevision !== undefined,
  };
}

/** Tags in the order they are moved: `default` first, then by name. */
function orderTags(names: readonly string[]): string[] {
  return [...names].sort((a, b) => (a === DEFAULT_TAG ? -1 : b === DEFAULT_TAG ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

function minorJump(from: string, to: string): number {
  const parts = (v: string) =>
    v
      .replace(/^v/, '')
      .split(/[.-]/)
      .map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = [parts(from), parts(to)];
  if (a[0] !== b[0]) return Number.POSITIVE_INFINITY;
  return b[1] - a[1];
}

function labelProblem(name: string, max: number): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > max) return `${name.length} characters, at most ${max}`;
  if (!new RegExp(DNS1123_LABEL).test(name))
    return 'not a DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit)';
  return undefined;
}

function usage(option: string, message: string, fix: string): InputError {
  return new InputError({ file: 'command line', path: option, message, fix });
}

function underWay(mesh: Mesh, what: string): InputError {
  const s = statusOf(mesh);
  const [cur, canary] = mesh.istio.revisions;
  return new InputError({
    file: TOPOLOGY_FILE,
    path: 'istio.revisions',
    message: `${what}: ${cur.name} (Istio ${cur.version}) and the canary ${canary.name} (Istio ${canary.version}) run side by side; phase: ${s.phaseText}`,
    fix: `continue it: the next phase is \`${s.next}\` (\`meshgen upgrade\` shows what to wait for); a new upgrade starts once it is finished`,
  });
}

function notUnderWay(mesh: Mesh, command: string): InputError {
  const cur = mesh.istio.revisions[0];
  return new InputError({
    file: TOPOLOGY_FILE,
    path: 'istio',
    message: `no upgrade is under way (one revision: ${cur.name ?? '(unrevisioned)'}${cur.version ? `, Istio ${cur.version}` : ''}), so \`${command}\` has nothing to move`,
    fix: cur.name === undefined ? UNREVISIONED_FIX : 'start one with `meshgen upgrade --to <version>`',
  });
}

function parseDoc(text: string): Document {
  // The text has passed parseTopology: one document without errors.
  return parseDocument(text, { keepSourceTokens: false });
}

function istioMap(doc: Document): YAMLMap<unknown, unknown> {
  const istio = doc.get('istio', true);
  if (!isMap(istio)) throw new Error('topology.yaml: istio is not a mapping although the topology has revisions');
  return istio;
}

function keyOf(p: unknown): string {
  return isPair(p) && isScalar(p.key) ? String(p.key.value) : '';
}

function versionMap(doc: Document, version: string, flow: boolean): YAMLMap<Scalar, Scalar> {
  const m = doc.createNode({ version }) as YAMLMap<Scalar, Scalar>;
  m.flow = flow;
  return m;
}

/** Removes the entry `key` of `map`; a comment above it moves to the entry that follows (else to the map's end). */
function removePair(map: YAMLMap<unknown, unknown>, key: string): void {
  const i = map.items.findIndex((p) => keyOf(p) === key);
  if (i < 0) return;
  const [pair] = map.items.splice(i, 1);
  const comment = isScalar(pair.key) ? pair.key.commentBefore : undefined;
  if (!comment) return;
  const next = map.items[i]?.key as Node | undefined;
  if (next && isScalar(next)) next.commentBefore = next.commentBefore ? `${comment}\n${next.commentBefore}` : comment;
  else map.comment = map.comment ? `${map.comment}\n${comment}` : comment;
}

/** The document as text, indented as the original (its first indented line). */
function stringify(doc: Document, original: string): string {
  const m = /^[^\s#][^\n]*:[ \t]*(?:#[^\n]*)?\n(?:[ \t]*(?:#[^\n]*)?\n)*( +)\S/m.exec(original);
  const indent = m ? m[1].length : 2;
  return doc.toString({ ...STRINGIFY, indent });
}

/** Validates the new text as synth will read it; its problems are reported without line numbers (the file is not written). */
function validated(text: string, when: string): Mesh {
  try {
    return parseTopology(text);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    throw new InputError(
      e.problems.map((p) => ({
        file: p.file,
        ...(p.path ? { path: p.path } : {}),
        message: `${when}: ${p.message}`,
        ...(p.fix ? { fix: p.fix } : {}),
      })),
    );
  }
}
