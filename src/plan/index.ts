/**
 * `meshgen plan`: synthesizes in memory (never writing, never creating keys, never sealing) and tells, per cluster and
 * in Istio's terms, what the new tree changes against the committed `dist/` (or another ref, or a directory).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DIST_DIR, runSynth, type SynthCollector } from '../commands/synth';
import { withWorkdirLock } from '../lock';
import type { TreeDiff } from '../output/tree';
import { certificateInfo } from '../pki';
import { type AgainstTree, againstDir, againstGit } from './against';
import { type PlanChange, semanticChanges } from './semantic';

export type { PlanChange } from './semantic';

/** Options of {@link plan}. */
export interface PlanOptions {
  /** The work directory. */
  readonly workdir: string;
  /** A git revision whose `dist/` (of this work directory) is compared with; default HEAD. */
  readonly against?: string;
  /** A `dist/` directory to compare with, instead of a git revision. */
  readonly againstDir?: string;
  /** The current time (sealing-certificate expiry). */
  readonly now?: Date;
}

/** The counts and the one-line summary of a plan. */
export interface PlanSummary {
  /** Whether anything changes (including what needs `meshgen synth`). */
  readonly changed: boolean;
  readonly clustersAdded: string[];
  readonly clustersRemoved: string[];
  /** Clusters with at least one change (added and removed ones included). */
  readonly clustersChanged: string[];
  /** Changes (`+`, `-`, `~`), of which `disruptive` are disruptive. */
  readonly changes: number;
  readonly disruptive: number;
  /** `!` lines: what needs new keys or sealing, which plan does not do. */
  readonly needsSynth: number;
  /** The line that ends the text output. */
  readonly text: string;
}

/** What {@link plan} found. */
export interface PlanResult {
  /** Per cluster (sorted), then the mesh-wide ones; each cluster's `!` lines last. */
  readonly changes: PlanChange[];
  readonly summary: PlanSummary;
  /** What was compared with. */
  readonly against: AgainstTree;
  /** The files of `dist/` that differ (paths relative to the work directory). */
  readonly files: TreeDiff;
  /** Synth's warnings (remote secrets left out until tokens are sealed...). */
  readonly warnings: string[];
}

/**
 * Plans a synth of `workdir` against the committed `dist/` (or `against` / `againstDir`), holding the work directory's
 * shared lock like `synth --check`. Writes nothing.
 *
 * @throws InputError (exit 2) on bad input, an unknown ref or a missing `againstDir`
 */
export async function plan(opts: PlanOptions): Promise<PlanResult> {
  const workdir = path.resolve(opts.workdir);
  return withWorkdirLock(workdir, 'meshgen plan', 'shared', async () => {
    const against = opts.againstDir !== undefined ? againstDir(opts.againstDir) : againstGit(workdir, opts.against);
    const collect: SynthCollector = { files: new Map(), needs: [] };
    const r = await runSynth({ workdir, check: true, frozen: true, collect, now: opts.now }, { keyModeWarnings: false });

    const expiry = new Map<string, Date | undefined>();
    const expiryOf = (cluster: string) => {
      if (!expiry.has(cluster)) {
        let d: Date | undefined;
        try {
          d = certificateInfo(fs.readFileSync(path.join(workdir, 'certs', cluster, 'ca-cert.pem'), 'utf8')).notAfter;
        } catch {
          d = undefined;
        }
        expiry.set(cluster, d);
      }
      return expiry.get(cluster);
    };
    const semantic = semanticChanges(against.files, collect.files, expiryOf);
    const needs = needLines(collect.needs);
    // Each cluster's lines, then what it needs; mesh-wide lines last.
    const clusters = [...new Set([...semantic, ...needs].map((c) => c.cluster).filter((c): c is string => c !== undefined))].sort();
    const changes = [
      ...clusters.flatMap((c) => [...semantic.filter((x) => x.cluster === c), ...needs.filter((x) => x.cluster === c)]),
      ...semantic.filter((x) => x.cluster === undefined),
      ...needs.filter((x) => x.cluster === undefined),
    ];
    const files = treeDiff(against.files, collect.files);
    return { changes, summary: summarize(changes, against), against, files, warnings: r.warnings.slice() };
  });
}

/** synth's Needs as `!` lines, one per secret (with its keys) or intermediate CA. */
function needLines(needs: readonly { what: string; why: string }[]): PlanChange[] {
  const groups = new Map<string, { cluster?: string; subject: string; keys: string[]; why: string }>();
  for (const n of needs) {
    let cluster: string | undefined;
    let subject = n.what;
    let key: string | undefined;
    const sealed = /^sealed\/([^/ ]+)\.yaml(?: ([^/]+)\/(.+))?$/.exec(n.what);
    const certs = /^certs\/([^/]+)\/$/.exec(n.what);
    if (sealed) {
      cluster = sealed[1];
      subject = sealed[2] ? `seal ${sealed[2]}` : `reseal every value of ${n.what}`;
      // A remote secret has one key, named after the peer the secret is named after.
      if (sealed[2] && !sealed[2].startsWith('istio-remote-secret-')) key = sealed[3];
    } else if (certs) {
      cluster = certs[1];
      subject = `issue the intermediate CA (${n.what})`;
    }
    const id = JSON.stringify([cluster, subject, n.why]);
    const g = groups.get(id) ?? { cluster, subject, keys: [], why: n.why };
    if (key !== undefined && !g.keys.includes(key)) g.keys.push(key);
    groups.set(id, g);
  }
  return [...groups.values()].map(
    (g): PlanChange => ({
      op: '!',
      ...(g.cluster !== undefined ? { cluster: g.cluster } : {}),
      subject: 'needs synth',
      text: `! needs synth: ${g.subject}${g.keys.length > 0 ? ` (${g.keys.join(', ')})` : ''}: ${g.why}`,
    }),
  );
}

function summarize(changes: readonly PlanChange[], against: AgainstTree): PlanSummary {
  const clustersAdded = changes.filter((c) => c.subject === 'cluster' && c.op === '+' && c.cluster).map((c) => c.cluster as string);
  const clustersRemoved = changes.filter((c) => c.subject === 'cluster' && c.op === '-' && c.cluster).map((c) => c.cluster as string);
  const clustersChanged = [...new Set(changes.map((c) => c.cluster).filter((c): c is string => c !== undefined))].sort();
  const real = changes.filter((c) => c.op !== '!');
  const disruptive = real.filter((c) => c.disruptive !== undefined).length;
  const needsSynth = changes.length - real.length;
  const changed = changes.length > 0;
  let text: string;
  if (!changed) text = `No changes: the synthesized dist/ is the same as ${against.label}.`;
  else {
    const parts = [
      `${plural(real.length, 'change')} in ${plural(clustersChanged.length, 'cluster')}`,
      ...(clustersAdded.length > 0 ? [`${clustersAdded.length} added`] : []),
      ...(clustersRemoved.length > 0 ? [`${clustersRemoved.length} removed`] : []),
      `${disruptive} disruptive`,
    ];
    const needs = needsSynth > 0 ? `; ${plural(needsSynth, 'item')} need${needsSynth === 1 ? 's' : ''} \`npm run synth\` first` : '';
    text = `Plan: ${parts.join(', ')} against ${against.label}${needs}.`;
  }
  return { changed, clustersAdded, clustersRemoved, clustersChanged, changes: real.length, disruptive, needsSynth, text };
}

function treeDiff(a: Map<string, string>, b: Map<string, string>): TreeDiff {
  const p = (f: string) => `${DIST_DIR}/${f}`;
  return {
    added: [...b.keys()]
      .filter((f) => !a.has(f))
      .sort()
      .map(p),
    changed: [...b.keys()]
      .filter((f) => a.has(f) && a.get(f) !== b.get(f))
      .sort()
      .map(p),
    removed: [...a.keys()]
      .filter((f) => !b.has(f))
      .sort()
      .map(p),
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
