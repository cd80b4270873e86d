#!/usr/bin/env node
// The baseline of the benchmark: "a plain `yaml` writer of the same objects".
//
//   node bench/plain-writer.mjs dump  --dist DIR/dist --out objects.json
//       Reads the dist/ tree meshgen produced, parses every YAML document of every file with the `yaml` package and
//       keeps the objects in memory grouped by file, then dumps them as JSON (with each file's leading comment and
//       whether its documents start with `---`). Not timed.
//   node bench/plain-writer.mjs write --in objects.json --out FRESH_DIR
//       The timed part, run as a fresh child process: builds the plain JS objects again from the JSON dump and writes
//       the same files with `yaml.stringify(obj, {lineWidth: 0})` into FRESH_DIR. Its whole-process wall time
//       (Node start-up included, as for meshgen) is the denominator of the "ratio" column.
//   node bench/plain-writer.mjs compare --a DIR1 --b DIR2
//       Prints {"files": n, "different": [...], "missing": [...], "extra": [...]} (a sanity check that the baseline
//       writes the same bytes meshgen writes).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

/** Every regular file under `root`, as sorted POSIX paths relative to it. */
export function listFiles(root) {
  const out = [];
  const walk = (dir, rel) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) walk(path.join(dir, ent.name), r);
      else if (ent.isFile()) out.push(r);
    }
  };
  walk(root, '');
  return out.sort();
}

/**
 * Parses the tree: one entry per file with its leading comment lines (`header`), whether documents are introduced by
 * `---` (`sep`) and the documents as plain JS objects (`docs`).
 */
export function readObjects(distDir) {
  const files = [];
  for (const rel of listFiles(distDir)) {
    // dist/README.md (Markdown documentation) is not an object file: the plain writer writes YAML only.
    if (!rel.endsWith('.yaml')) continue;
    const text = fs.readFileSync(path.join(distDir, rel), 'utf8');
    const m = /^(?:#[^\n]*\n)*/.exec(text);
    const header = m ? m[0] : '';
    const body = text.slice(header.length);
    const docs = YAML.parseAllDocuments(body).map((d) => {
      if (d.errors.length > 0) throw new Error(`${rel}: ${d.errors[0].message}`);
      return d.toJS();
    });
    files.push({ path: rel, header, sep: body.startsWith('---'), docs: docs.filter((d) => d !== null && d !== undefined) });
  }
  return files;
}

/** Counts Kubernetes objects (documents with apiVersion and kind; kustomization.yaml files are build config, not objects). */
export function countObjects(files) {
  let n = 0;
  for (const f of files) {
    if (path.posix.basename(f.path) === 'kustomization.yaml') continue;
    for (const d of f.docs) if (d && typeof d === 'object' && d.apiVersion && d.kind) n++;
  }
  return n;
}

function write(inFile, outDir) {
  const { files } = JSON.parse(fs.readFileSync(inFile, 'utf8'));
  const made = new Set();
  for (const f of files) {
    const dest = path.join(outDir, ...f.path.split('/'));
    const dir = path.dirname(dest);
    if (!made.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    let text = f.header;
    for (const obj of f.docs) text += (f.sep ? '---\n' : '') + YAML.stringify(obj, { lineWidth: 0 });
    fs.writeFileSync(dest, text);
  }
}

/** Byte-compares the YAML files of two trees (the plain writer writes no README.md). */
export function compareTrees(a, b) {
  const fa = listFiles(a).filter((f) => f.endsWith('.yaml'));
  const fb = new Set(listFiles(b).filter((f) => f.endsWith('.yaml')));
  const different = [];
  const missing = [];
  for (const rel of fa) {
    if (!fb.has(rel)) missing.push(rel);
    else if (!fs.readFileSync(path.join(a, rel)).equals(fs.readFileSync(path.join(b, rel)))) different.push(rel);
    fb.delete(rel);
  }
  return { files: fa.length, different, missing, extra: [...fb] };
}

function arg(argv, name) {
  const i = argv.indexOf(name);
  if (i < 0 || i + 1 >= argv.length) {
    process.stderr.write(`plain-writer: ${name} is required\n`);
    process.exit(2);
  }
  return path.resolve(argv[i + 1]);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'dump') {
    const files = readObjects(arg(rest, '--dist'));
    fs.writeFileSync(arg(rest, '--out'), JSON.stringify({ files }));
    process.stdout.write(`${JSON.stringify({ files: files.length, objects: countObjects(files) })}\n`);
  } else if (mode === 'write') {
    write(arg(rest, '--in'), arg(rest, '--out'));
  } else if (mode === 'compare') {
    process.stdout.write(`${JSON.stringify(compareTrees(arg(rest, '--a'), arg(rest, '--b')))}\n`);
  } else {
    process.stderr.write('usage: node bench/plain-writer.mjs dump --dist DIR --out FILE | write --in FILE --out DIR | compare --a DIR --b DIR\n');
    process.exit(2);
  }
}
