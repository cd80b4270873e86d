import type { PlanResult } from '.';
import type { PlanChange } from './semantic';

/** The prefix of the lines that concern the whole mesh rather than one cluster. */
export const MESH_WIDE = 'mesh-wide';

/** The version of the JSON document of `meshgen plan --output json` (changed only when fields change meaning or go). */
export const PLAN_JSON_SCHEMA = 'meshgen.plan/v1';

/** A change as one line: `cluster-east-1: ~ istiod values.global.network: a → b  [disruptive: istiod restart]`. */
export function planLine(c: PlanChange): string {
  return `${c.cluster ?? MESH_WIDE}: ${c.text}${c.disruptive ? `  [disruptive: ${c.disruptive}]` : ''}`;
}

/** The text output: one line per change, then the summary line. */
export function renderPlanText(r: PlanResult): string {
  return `${[...r.changes.map(planLine), r.summary.text].join('\n')}\n`;
}

/** The JSON output (see the README for its schema). */
export function renderPlanJson(r: PlanResult): string {
  const doc = {
    schema: PLAN_JSON_SCHEMA,
    against: { ...r.against.source, label: r.against.label },
    changed: r.summary.changed,
    summary: r.summary,
    changes: r.changes,
    files: r.files,
    warnings: r.warnings,
    notes: r.against.notes,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** The marker of the pull-request comment, so a workflow can find and update it. */
export const PLAN_COMMENT_MARKER = '<!-- meshgen-plan -->';

/** Markdown for a pull-request comment: the summary, a table of the changes, the files in a folded list. */
export function renderPlanMarkdown(r: PlanResult): string {
  const out = [PLAN_COMMENT_MARKER, '### meshgen plan', '', r.summary.text, ''];
  if (r.changes.length > 0) {
    out.push('| Cluster | Change | Disruptive |', '|---|---|---|');
    for (const c of r.changes) {
      out.push(`| ${c.cluster ? code(c.cluster) : `_${MESH_WIDE}_`} | ${code(c.text)} | ${c.disruptive ? `⚠️ ${cell(c.disruptive)}` : ''} |`);
    }
    out.push('');
  }
  const n = r.files.added.length + r.files.changed.length + r.files.removed.length;
  if (n > 0) {
    out.push(`<details><summary>${n} file(s) of dist/ differ</summary>`, '');
    for (const [what, list] of [
      ['added', r.files.added],
      ['changed', r.files.changed],
      ['removed', r.files.removed],
    ] as const) {
      for (const f of list) out.push(`- ${what} ${code(f)}`);
    }
    out.push('', '</details>', '');
  }
  for (const w of r.warnings) out.push(`> warning: ${cell(w)}`, '');
  for (const note of r.against.notes) out.push(`> note: ${cell(note)}`, '');
  return `${out.join('\n').trimEnd()}\n`;
}

/** A code span safe in a table cell. */
function code(s: string): string {
  return `\`${s.replace(/`/g, "'").replace(/\|/g, '\\|')}\``;
}

/** Text safe in a table cell (no HTML, no column break). */
function cell(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');
}
