import { stringify } from 'yaml';
import { isBase64 } from '../util/records';

/**
 * A fast YAML emitter for the JSON-shaped objects meshgen writes, producing exactly what
 * `yaml.stringify(value, { lineWidth: 0, minContentWidth: 0, version: '1.1' })` produces (a test compares them on every
 * generated file), several times faster: the structure is walked directly, and only scalars go through the `yaml`
 * package, memoized, so it still decides every quoting question. Long base64 values (ciphertext) take a shortcut:
 * they can only be plain strings.
 */
export function emitYaml(value: unknown): string {
  try {
    return emitFast(value);
  } catch (e) {
    if (e !== UNSUPPORTED) throw e;
    return stringify(value, OPTS); // multi-line keys, nested sequences: not in Kubernetes objects, but correct anyway
  }
}

const UNSUPPORTED = new Error('unsupported by the fast emitter');

function emitFast(value: unknown): string {
  const out: string[] = [];
  if (isMap(value) && Object.keys(value).some((k) => value[k] !== undefined)) emitMap(value, 0, out);
  else if (Array.isArray(value) && value.length > 0) emitSeq(value, 0, out);
  else if (isMap(value) || Array.isArray(value)) out.push(`${inline(value, 0)}\n`);
  else out.push(`${scalar(value, 0)}\n`);
  return out.join('');
}

/** Options that must match render.ts's toYaml. */
const OPTS = { lineWidth: 0, minContentWidth: 0, aliasDuplicateObjects: false, version: '1.1' } as const;
const cache = new Map<string, string>();
/** A character that no YAML 1.1 number, boolean, null or timestamp contains. */
const NOT_A_NUMBER = /[A-DF-Za-df-z+/]/;

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function emitMap(map: Record<string, unknown>, indent: number, out: string[], firstPrefix?: string): void {
  const pad = ' '.repeat(indent);
  let first = true;
  for (const [k, v] of Object.entries(map)) {
    if (v === undefined) continue;
    const lead = first && firstPrefix !== undefined ? firstPrefix : pad;
    first = false;
    if (k.includes('\n')) throw UNSUPPORTED;
    const key = scalar(k, indent);
    if (isMap(v) && Object.keys(v).some((x) => v[x] !== undefined)) {
      out.push(`${lead}${key}:\n`);
      emitMap(v, indent + 2, out);
    } else if (Array.isArray(v) && v.length > 0) {
      out.push(`${lead}${key}:\n`);
      emitSeq(v, indent + 2, out);
    } else {
      out.push(`${lead}${key}: ${inline(v, indent)}\n`);
    }
  }
}

function emitSeq(seq: readonly unknown[], indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  for (const item of seq) {
    if (isMap(item) && Object.keys(item).some((x) => item[x] !== undefined)) {
      emitMap(item, indent + 2, out, `${pad}- `);
    } else if (Array.isArray(item) && item.length > 0) {
      throw UNSUPPORTED;
    } else {
      out.push(`${pad}- ${inline(item, indent)}\n`);
    }
  }
}

function inline(v: unknown, indent: number): string {
  if (isMap(v)) return '{}';
  if (Array.isArray(v)) return '[]';
  return scalar(v, indent);
}

/** A scalar as the `yaml` package writes it at this indentation (block scalars are re-indented). */
function scalar(v: unknown, indent: number): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isFinite(v)) return cached(`n:${v}`, v);
  if (typeof v !== 'string') return cached(`x:${JSON.stringify(v)}`, v);
  if (v.length > 40 && isBase64(v) && NOT_A_NUMBER.test(v)) return v;
  if (!v.includes('\n')) return cached(`s:${v}`, v);
  // A block scalar: rendered under a key at column 0 its lines are indented by 2; move them to this depth.
  const text = stringify({ x: v }, OPTS);
  const body = text.slice(3).replace(/\n$/, '');
  return indent === 0 ? body : body.replace(/\n(?=.)/g, `\n${' '.repeat(indent)}`);
}

function cached(key: string, v: unknown): string {
  let s = cache.get(key);
  if (s === undefined) {
    s = stringify(v, OPTS).replace(/\n$/, '');
    if (cache.size > 100_000) cache.clear();
    cache.set(key, s);
  }
  return s;
}
