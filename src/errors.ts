/**
 * One problem with the user's input: which file, where in it, what was found, and how to fix it.
 */
export interface Problem {
  /** Path of the file, relative to the work directory where possible (e.g. `topology.yaml`). */
  readonly file: string;
  /** Dotted YAML path (e.g. `contexts.context-east-1.network`), when the problem is inside a document. */
  readonly path?: string;
  /** 1-based line, when known. */
  readonly line?: number;
  /** 1-based column, when known. */
  readonly col?: number;
  /** What is wrong, including the value received. */
  readonly message: string;
  /** What to do about it. */
  readonly fix?: string;
}

/** Renders a problem as one line: `file:line:col: path: message; fix`. */
export function formatProblem(p: Problem): string {
  let where = p.file;
  if (p.line !== undefined) where += `:${p.line}${p.col !== undefined ? `:${p.col}` : ''}`;
  const at = p.path ? ` ${p.path}:` : '';
  const fix = p.fix ? `; fix: ${p.fix}` : '';
  return `${where}:${at} ${p.message}${fix}`;
}

/**
 * Bad input (exit code 2). Carries every problem found, so the user can fix them all at once.
 */
export class InputError extends Error {
  public readonly problems: readonly Problem[];
  constructor(problems: Problem | readonly Problem[]) {
    const list = Array.isArray(problems) ? (problems as readonly Problem[]) : [problems as Problem];
    super(list.map(formatProblem).join('\n'));
    this.name = 'InputError';
    this.problems = list;
  }
}

/**
 * A state the command cannot finish from, that is not malformed input: `--check` found differences,
 * `--frozen` needs work, `validate` found problems (exit code 1).
 */
export class CheckFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckFailed';
  }
}

/** Quotes a value for an error message: strings in double quotes, others as JSON, long values shortened. */
export function show(value: unknown): string {
  let s: string;
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') s = JSON.stringify(value);
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = String(value);
    }
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
