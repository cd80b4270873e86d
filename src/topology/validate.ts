import { show } from '../errors';
import type { SchemaNode } from './schema';

/** A schema violation at a path inside the document. */
export interface Violation {
  /** Keys and indices from the document root. */
  readonly path: readonly (string | number)[];
  /** When true, the violation is about the key at `path` (an unknown key), not its value. */
  readonly atKey?: boolean;
  readonly message: string;
  readonly fix?: string;
}

const typeOf = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
};

const article = (t: string) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`);

/**
 * Validates a plain value against the subset of JSON Schema meshgen uses, returning every violation
 * (not only the first), each with its path and a fix. Unknown keys get a "did you mean" hint.
 */
export function validateAgainstSchema(value: unknown, schema: SchemaNode, path: (string | number)[] = []): Violation[] {
  const out: Violation[] = [];
  if (schema.type) {
    const t = typeOf(value);
    const ok = t === schema.type || (schema.type === 'integer' && t === 'integer');
    if (!ok && value === null && schema.type === 'object' && schema.required?.length) {
      out.push({ path, message: 'has no settings', fix: `add ${schema.required.map((k) => `"${k}:"`).join(', ')} under it` });
      return out;
    }
    if (!ok) {
      const expected = schema.enum
        ? `one of ${schema.enum.map((e) => show(e)).join(', ')}`
        : article(schema.type === 'object' ? 'mapping' : schema.type);
      // YAML reads an unquoted 1.30 as the number 1.3 (and true, null, 0x1F as what they look like): quote a string.
      const quote = schema.type === 'string' && (t === 'number' || t === 'integer' || t === 'boolean');
      out.push({
        path,
        message: `expected ${expected}, got ${t === 'null' ? 'an empty value' : `${article(t)} ${show(value)}`}`,
        fix: quote ? `write it in quotes (unquoted, YAML reads ${article(t)}); ${fixFor(schema)}` : fixFor(schema),
      });
      return out;
    }
  }
  if (schema.enum && !schema.enum.includes(value as string)) {
    const hint = typeof value === 'string' ? nearest(value, schema.enum.map(String)) : undefined;
    out.push({
      path,
      message: `${show(value)} is not allowed${hint ? `; did you mean "${hint}"?` : ''}`,
      fix: `use one of ${schema.enum.map((e) => show(e)).join(', ')}`,
    });
    return out;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      out.push({ path, message: 'must not be empty', fix: fixFor(schema) });
    } else if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      out.push({ path, message: `${show(value)} is longer than ${schema.maxLength} characters`, fix: fixFor(schema) });
    } else if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) {
      out.push({ path, message: `${show(value)} is not valid`, fix: fixFor(schema) });
    }
  }
  if (Array.isArray(value) && schema.items) {
    for (const [i, item] of value.entries()) out.push(...validateAgainstSchema(item, schema.items as SchemaNode, [...path, i]));
  }
  if (typeOf(value) === 'object' && (schema.properties || schema.additionalProperties !== undefined)) {
    const obj = value as Record<string, unknown>;
    const props = schema.properties ?? {};
    for (const req of schema.required ?? []) {
      if (!Object.hasOwn(obj, req)) {
        out.push({
          path,
          message: `required key "${req}" is missing`,
          fix: `add "${req}:" (${(Object.hasOwn(props, req) ? props[req].description : undefined) ?? 'see the README'})`,
        });
      }
    }
    for (const [k, v] of Object.entries(obj)) {
      // Own keys only: a key named "toString" or "__proto__" must not find Object.prototype's.
      const sub = Object.hasOwn(props, k) ? props[k] : undefined;
      if (sub) {
        out.push(...validateAgainstSchema(v, sub, [...path, k]));
      } else if (schema.additionalProperties === false) {
        const hint = nearest(k, Object.keys(props));
        out.push({
          path: [...path, k],
          atKey: true,
          message: `unknown key ${show(k)}${hint ? `; did you mean "${hint}"?` : ''}`,
          fix: hint ? `rename it to "${hint}"` : `remove it; known keys here: ${Object.keys(props).join(', ')}`,
        });
      } else {
        if (schema.propertyNames) {
          for (const v2 of validateAgainstSchema(k, schema.propertyNames, [...path, k])) out.push({ ...v2, atKey: true });
        }
        if (typeof schema.additionalProperties === 'object') out.push(...validateAgainstSchema(v, schema.additionalProperties, [...path, k]));
      }
    }
  }
  return out;
}

function fixFor(schema: SchemaNode): string | undefined {
  if (schema['x-fix']) return schema['x-fix'];
  if (schema.enum) return `use one of ${schema.enum.map((e) => show(e)).join(', ')}`;
  if (schema.description) return `expected ${schema.type === 'object' ? 'a mapping' : article(schema.type ?? 'value')}: ${schema.description}`;
  return undefined;
}

/** The candidate closest to `word` by edit distance, when it is close enough to be a likely typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  return bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
