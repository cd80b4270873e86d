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
  /**
   * @param message the whole report, as printed
   * @param needs what synth would have to create or seal (`--check`, `--frozen`), as data: readers such as `validate`
   *   use these rather than parse the message
   */
  constructor(
    message: string,
    public readonly needs: readonly { readonly what: string; readonly why: string }[] = [],
  ) {
    super(message);
    this.name = 'CheckFailed';
  }
}

/** At most this many characters of a value are quoted in a message (a huge bad value must not flood the terminal). */
export const MAX_SHOWN = 80;

/**
 * Quotes a value for an error message: strings in double quotes, others as JSON, long values shortened to
 * {@link MAX_SHOWN} characters. Control characters (C0, DEL, C1, U+2028/U+2029) are escaped so that a value cannot
 * move the cursor or recolour the terminal, and anything that looks like a private key is not shown at all.
 */
export function show(value: unknown): string {
  let s: string;
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') s = JSON.stringify(value.length > 4 * MAX_SHOWN ? value.slice(0, 4 * MAX_SHOWN) : value);
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = String(value);
    }
  }
  if (/PRIVATE KEY/.test(s)) return '(what looks like a private key; not shown)';
  if (/eyJ[A-Za-z0-9_-]{5,}\.eyJ/.test(s)) return '(what looks like a token; not shown)';
  // Credentials in a URL (`https://user:password@host`) are masked.
  s = escapeControls(s).replace(/(:\/\/)[^\s/?#@"]*@/g, '$1***@');
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN - 3)}...` : s;
}

/** Escapes the characters JSON.stringify leaves as they are but a terminal interprets: DEL, C1, U+2028/U+2029. */
export function escapeControls(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Shortens free text (a parser's message, a file name) for a message: controls escaped, at most `max` characters. */
export function clip(text: string, max = 2 * MAX_SHOWN): string {
  const s = escapeControls(text);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
