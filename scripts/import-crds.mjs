#!/usr/bin/env node
// Regenerates imports/ from the CRDs that ship in schemas/crds/, offline: one
//   npx cdk8s import <file> --language typescript --output imports --no-check-upgrade
// per entry of cdk8s.yaml's `imports:` (cdk8s.yaml is put back byte for byte: `cdk8s import` rewrites it).
//
// The output is byte for byte what `cdk8s import` writes (every class of every listed CRD, used by src/ or not).
//
//   npm run imports                       # rewrite imports/
//   npm run imports -- --check            # exit 1 when imports/ differs from what this script generates
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMPORTS = path.join(ROOT, 'imports');
const args = process.argv.slice(2);
const check = args.includes('--check');
for (const a of args) {
  if (a !== '--check') {
    console.error(`import-crds: unknown argument ${a} (use --check)`);
    process.exit(2);
  }
}

const project = fs.readFileSync(path.join(ROOT, 'cdk8s.yaml'));
const specs = parse(project.toString('utf8')).imports ?? [];
for (const spec of specs) {
  if (!fs.existsSync(path.join(ROOT, spec))) {
    console.error(`import-crds: ${spec} (cdk8s.yaml imports:) does not exist`);
    process.exit(2);
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-imports-'));
try {
  const generated = path.join(tmp, 'imports');
  try {
    for (const spec of specs) {
      const r = spawnSync('npx', ['cdk8s', 'import', spec, '--language', 'typescript', '--output', generated, '--no-check-upgrade'], {
        cwd: ROOT,
        env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' },
        encoding: 'utf8',
      });
      // process.exit would skip the finally blocks (cdk8s.yaml, the temporary directory): throw instead.
      if (r.status !== 0) throw new Error(`cdk8s import ${spec} failed:\n${r.stdout}${r.stderr}`);
    }
  } finally {
    fs.writeFileSync(path.join(ROOT, 'cdk8s.yaml'), project);
  }

  const out = new Map(); // file name → text
  for (const file of fs.readdirSync(generated).sort()) out.set(file, fs.readFileSync(path.join(generated, file), 'utf8'));

  if (check) {
    const have = fs.existsSync(IMPORTS) ? fs.readdirSync(IMPORTS).sort() : [];
    const problems = [];
    for (const f of have) if (!out.has(f)) problems.push(`imports/${f}: not generated (remove it)`);
    for (const [f, text] of out) {
      if (!have.includes(f)) problems.push(`imports/${f}: missing`);
      else if (fs.readFileSync(path.join(IMPORTS, f), 'utf8') !== text) problems.push(`imports/${f}: differs from what cdk8s import generates`);
    }
    for (const p of problems) console.error(p);
    if (problems.length > 0) {
      console.error('import-crds: imports/ is stale; run `npm run imports`');
      process.exitCode = 1;
    } else {
      console.log(`import-crds: imports/ is current (${out.size} modules from ${specs.length} CRD files)`);
    }
  } else {
    fs.rmSync(IMPORTS, { recursive: true, force: true });
    fs.mkdirSync(IMPORTS);
    for (const [f, text] of out) fs.writeFileSync(path.join(IMPORTS, f), text);
    console.log(`import-crds: wrote ${out.size} modules to imports/ from ${specs.length} CRD files`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
