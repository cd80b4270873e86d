#!/usr/bin/env node
// Fails (exit 1) when the modules of src/ import each other in a cycle, printing each cycle. Reads the import and
// export-from statements of every src/**/*.ts (type-only imports included: a cycle of types is still a cycle of design).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..', 'src');
const files = [];
const walk = (d) => {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
};
walk(root);
const resolveImport = (from, spec) => {
  const base = resolve(dirname(from), spec);
  for (const c of [`${base}.ts`, join(base, 'index.ts')]) if (files.includes(c)) return c;
  return undefined;
};
const graph = new Map();
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const deps = new Set();
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
    const target = resolveImport(f, m[1]);
    if (target) deps.add(target);
  }
  graph.set(f, [...deps].sort());
}
// Tarjan's strongly connected components: every component of more than one module (or a self-import) is a cycle.
let index = 0;
const stack = [];
const info = new Map();
const cycles = [];
const strong = (v) => {
  info.set(v, { index, low: index, onStack: true });
  index += 1;
  stack.push(v);
  for (const w of graph.get(v)) {
    if (!info.has(w)) {
      strong(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).onStack) info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
  }
  if (info.get(v).low === info.get(v).index) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      info.get(w).onStack = false;
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || graph.get(v).includes(v)) cycles.push(comp.map((c) => relative(root, c)).sort());
  }
};
for (const f of files.sort()) if (!info.has(f)) strong(f);
if (cycles.length > 0) {
  console.error(`import cycles in src/ (${cycles.length}):`);
  for (const c of cycles) console.error(`  ${c.join(' <-> ')}`);
  process.exit(1);
}
console.log(`no import cycle among ${files.length} modules of src/`);
