import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { InputError, type Problem } from '../errors';

/**
 * A parsed YAML file that remembers where each node came from, so problems can name a line.
 */
export class YamlSource {
  /** Parses `text`; YAML syntax errors and duplicate keys become an InputError naming the line. */
  public static parse(file: string, text: string): YamlSource {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
    if (doc.errors.length === 0) return new YamlSource(file, doc, lineCounter);
    const problems: Problem[] = [];
    if (doc.errors.some((e) => e.code === 'DUPLICATE_KEY')) problems.push(...duplicateKeys(file, text));
    for (const e of doc.errors) {
      if (e.code === 'DUPLICATE_KEY') continue;
      let pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      // An unclosed quote is reported where the file ends; point at the line where the quote opens.
      if (/closing "?quote/i.test(e.message)) pos = openingQuoteLine(text, pos.line) ?? pos;
      problems.push({
        file,
        line: pos.line,
        col: pos.col,
        message: `YAML syntax error: ${firstLine(e.message)}`,
        fix: 'fix the YAML syntax at that line (indent with spaces, close quotes and brackets)',
      });
    }
    throw new InputError(problems);
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
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false });
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

/** `['contexts', 'a.b', 'network']` → `contexts."a.b".network` */
export function formatPath(path: readonly (string | number)[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}
