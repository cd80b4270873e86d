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
    const problems: Problem[] = doc.errors.map((e) => {
      const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      const msg =
        e.code === 'DUPLICATE_KEY' ? 'duplicate key: each key may appear only once in a mapping' : `YAML syntax error: ${firstLine(e.message)}`;
      return {
        file,
        line: pos?.line,
        col: pos?.col,
        message: msg,
        fix: e.code === 'DUPLICATE_KEY' ? 'remove or rename one of the duplicates' : 'fix the YAML syntax at that line',
      };
    });
    if (problems.length > 0) throw new InputError(problems);
    return new YamlSource(file, doc, lineCounter);
  }

  private constructor(
    public readonly file: string,
    public readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  /** The document as plain data. */
  public toJS(): unknown {
    return this.doc.toJS({ maxAliasCount: 100 });
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
