import { type Document, isAlias, isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Node as YamlNode } from 'yaml';
import { clip, InputError, MAX_SHOWN, type Problem } from '../errors';

/** Mappings and lists nested deeper than this are refused (meshgen's files need fewer than 20 levels). */
export const MAX_NESTING = 64;
/** At most this many YAML syntax errors are listed; the rest are counted. */
const MAX_SYNTAX_ERRORS = 10;

/** One string of a document: a mapping key or a scalar value. */
export interface YamlString {
  /** Path of the value, or of the mapping entry whose key this is. */
  readonly path: readonly (string | number)[];
  readonly value: string;
  /** True for a mapping key. */
  readonly isKey: boolean;
}

/**
 * A parsed YAML file that remembers where each node came from, so problems can name a line.
 */
export class YamlSource {
  /** Parses `text`; YAML syntax errors and duplicate keys become an InputError naming the line. */
  public static parse(file: string, text: string): YamlSource {
    const lineCounter = new LineCounter();
    const tooDeep = (line?: number): InputError =>
      new InputError({
        file,
        line,
        message: `nesting too deep: more than ${MAX_NESTING} levels of mappings and lists`,
        fix: 'this is not a meshgen file (check that the path points at the right file), or flatten the nesting',
      });
    let doc: Document;
    try {
      doc = withoutStackTraces(() => parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true }));
    } catch (e) {
      if (e instanceof RangeError) throw tooDeep();
      throw e;
    }
    // The parser recurses once per level; a stack overflow surfaces as an error on every level.
    if (doc.errors.some((e) => /maximum call stack/i.test(e.message))) throw tooDeep();
    if (doc.errors.length === 0) {
      const deep = deepestNode(doc.contents);
      if (deep) throw tooDeep(deep.range?.[0] === undefined ? undefined : lineCounter.linePos(deep.range[0]).line);
      const tagged = tagProblems(file, doc, lineCounter);
      if (tagged.length > 0) throw new InputError(tagged);
      return new YamlSource(file, doc, lineCounter);
    }
    const problems: Problem[] = [];
    if (doc.errors.some((e) => e.code === 'DUPLICATE_KEY')) problems.push(...duplicateKeys(file, text));
    const errors = doc.errors.filter((e) => e.code !== 'DUPLICATE_KEY');
    for (const e of errors.slice(0, MAX_SYNTAX_ERRORS)) {
      let pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      // An unclosed quote is reported where the file ends; point at the line where the quote opens.
      if (/closing "?quote/i.test(e.message)) pos = openingQuoteLine(text, pos.line) ?? pos;
      problems.push({
        file,
        line: pos.line,
        col: pos.col,
        message: `YAML syntax error: ${clip(firstLine(e.message))}`,
        fix: 'fix the YAML syntax at that line (indent with spaces, close quotes and brackets)',
      });
    }
    if (errors.length > MAX_SYNTAX_ERRORS) {
      problems.push({
        file,
        message: `${errors.length - MAX_SYNTAX_ERRORS} more YAML syntax errors not listed`,
        fix: 'fix the errors above first (is this the right file?)',
      });
    }
    throw new InputError(problems.slice(0, 2 * MAX_SYNTAX_ERRORS));
  }

  private constructor(
    public readonly file: string,
    public readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  /** The document as plain data. */
  public toJS(): unknown {
    try {
      return this.doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new InputError({
        file: this.file,
        message: `cannot be read: ${(e as Error).message}`,
        fix: 'remove the YAML aliases (*name); meshgen files do not need them',
      });
    }
  }

  /**
   * Every mapping key and scalar string value of the document, with its path (aliases are not followed: what they
   * point at is visited where it is defined).
   */
  public strings(): YamlString[] {
    const out: YamlString[] = [];
    const walk = (node: unknown, path: (string | number)[]) => {
      if (isScalar(node)) {
        if (typeof node.value === 'string') out.push({ path, value: node.value, isKey: false });
      } else if (isMap(node)) {
        for (const pair of node.items) {
          const key = isScalar(pair.key) ? pair.key.value : pair.key;
          const k = typeof key === 'string' || typeof key === 'number' ? String(key) : String(key);
          if (typeof key === 'string') out.push({ path: [...path, k], value: key, isKey: true });
          else if (!isScalar(pair.key)) walk(pair.key, [...path, k]);
          walk(pair.value, [...path, k]);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          walk(item, [...path, i]);
        });
      }
    };
    walk(this.doc.contents, []);
    return out;
  }

  /** Line and column of the node at `path` (or of its key, with `atKey`), falling back to the nearest parent. */
  public locate(path: readonly (string | number)[], atKey = false): { line?: number; col?: number } {
    let node: unknown = this.doc.contents;
    let found: YamlNode | undefined = this.doc.contents ?? undefined;
    for (let i = 0; i < path.length; i++) {
      if (!isMap(node) && !(node && typeof node === 'object' && 'items' in node)) break;
      const items = (node as { items: unknown[] }).items;
      let next: unknown;
      if (isMap(node)) {
        const pair = items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(path[i]));
        if (!pair || !isPair(pair)) break;
        const last = i === path.length - 1;
        next = pair.value;
        found = (last && atKey ? pair.key : (pair.value ?? pair.key)) as YamlNode;
      } else {
        next = items[Number(path[i])];
        if (!next) break;
        found = next as YamlNode;
      }
      node = next;
    }
    const offset = found?.range?.[0];
    if (offset === undefined) return {};
    const pos = this.lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  }

  /** A Problem at `path`, with its line. */
  public problem(path: readonly (string | number)[], message: string, fix?: string, atKey = false): Problem {
    return { file: this.file, path: formatPath(path), ...this.locate(path, atKey), message, fix };
  }
}

/** Every key that appears twice in a mapping, with its path and the line of the repeated occurrence. */
function duplicateKeys(file: string, text: string): Problem[] {
  const lineCounter = new LineCounter();
  const doc = withoutStackTraces(() => parseDocument(text, { lineCounter, uniqueKeys: false }));
  const out: Problem[] = [];
  const walk = (node: unknown, path: string[]) => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const k = String(pair.key.value);
        const first = seen.get(k);
        if (first !== undefined) {
          const pos = lineCounter.linePos(pair.key.range?.[0] ?? 0);
          out.push({
            file,
            path: formatPath([...path, k]),
            line: pos.line,
            col: pos.col,
            message: `duplicate key "${k}" (first set on line ${first}); each key may appear only once in a mapping`,
            fix: 'remove or rename one of the two',
          });
        } else seen.set(k, lineCounter.linePos(pair.key.range?.[0] ?? 0).line);
        walk(pair.value, [...path, k]);
      }
    } else if (node && typeof node === 'object' && 'items' in node) {
      (node as { items: unknown[] }).items.forEach((item, i) => {
        walk(item, [...path, String(i)]);
      });
    }
  };
  walk(doc.contents, []);
  return out.length > 0
    ? out
    : [{ file, message: 'duplicate key: each key may appear only once in a mapping', fix: 'remove or rename one of the two' }];
}

/** The line (searching back from `fromLine`) that opens a quoted scalar without closing it. */
function openingQuoteLine(text: string, fromLine: number): { line: number; col: number } | undefined {
  const lines = text.split('\n');
  for (let i = Math.min(fromLine, lines.length) - 1; i >= 0; i--) {
    const l = lines[i].replace(/\s+#.*$/, '');
    for (const q of ['"', "'"]) {
      const n = l.split(q).length - 1;
      if (n % 2 === 1) return { line: i + 1, col: l.indexOf(q) + 1 };
    }
  }
  return undefined;
}

/**
 * Runs the YAML parser without capturing stack traces: it makes one YAMLError per problem (position, message), and on a
 * large malformed file (up to the 1 MiB limit) capturing their stacks took most of the time (1.3 s of 2.2 s).
 */
function withoutStackTraces<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The tags of plain data; any other (`!!binary`, `!!timestamp`, `!!set`, `!!merge`, `!custom`) makes values meshgen cannot use. */
const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/** A problem for each node with a tag other than those of plain data (at most MAX_SYNTAX_ERRORS). */
function tagProblems(file: string, doc: Document, lineCounter: LineCounter): Problem[] {
  const out: Problem[] = [];
  visit(doc, (_key, node) => {
    // `<<` is a merge key to Kubernetes' and Helm's YAML 1.1 parsers but a plain key to meshgen's (YAML 1.2): refused, so
    // a value never means one thing here and another in the cluster.
    if (isPair(node) && isScalar(node.key) && node.key.value === '<<') {
      const pos = node.key.range ? lineCounter.linePos(node.key.range[0]) : undefined;
      out.push({
        file,
        line: pos?.line,
        col: pos?.col,
        message: 'a "<<" key (a YAML merge key) is not supported: YAML 1.1 parsers (Kubernetes, Helm) merge it, YAML 1.2 keeps it as a key',
        fix: 'write the merged keys out in full',
      });
      return out.length >= MAX_SYNTAX_ERRORS ? visit.BREAK : undefined;
    }
    if (!isNode(node) || node.tag === undefined || PLAIN_TAGS.has(node.tag)) return undefined;
    const pos = node.range ? lineCounter.linePos(node.range[0]) : undefined;
    out.push({
      file,
      line: pos?.line,
      col: pos?.col,
      message: `the YAML tag ${clip(node.tag.replace(/^tag:yaml\.org,2002:/, '!!'), 40)} is not supported (it makes a value that is not a string, number, boolean, list or mapping)`,
      fix: 'remove the tag; write the value as plain YAML (quote it to make it a string)',
    });
    return out.length >= MAX_SYNTAX_ERRORS ? visit.BREAK : undefined;
  });
  return out;
}

/** The first node nested deeper than MAX_NESTING, if any (iterative: the depth is what is in question). */
function deepestNode(root: unknown): YamlNode | undefined {
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (isAlias(node) || !(isMap(node) || isSeq(node))) continue;
    if (depth > MAX_NESTING) return node as YamlNode;
    for (const item of node.items as unknown[]) {
      if (isPair(item)) {
        stack.push({ node: item.key, depth: depth + 1 }, { node: item.value, depth: depth + 1 });
      } else stack.push({ node: item, depth: depth + 1 });
    }
  }
  return undefined;
}

/** `['contexts', 'a.b', 'network']` → `contexts."a.b".network` */
export function formatPath(path: readonly (string | number)[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z0-9_-]+$/.test(p) ? clip(p, MAX_SHOWN) : clip(JSON.stringify(p), MAX_SHOWN)))
    .join('.')
    .replace(/\.\[/g, '[');
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
