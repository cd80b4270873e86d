import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import type { ClusterChart } from './charts/cluster-chart';
import { InputError } from './errors';
import type { Cluster, Mesh } from './topology/model';

/** The file, in the work directory, that extends every cluster directory. */
export const CONFIG_FILES = ['meshgen.config.ts', 'meshgen.config.js', 'meshgen.config.cjs'] as const;

/** What the extension function receives besides the chart. */
export interface ExtendContext {
  /** The whole mesh, as validated from topology.yaml. */
  readonly mesh: Mesh;
  /** The cluster this chart is for. */
  readonly cluster: Cluster;
}

/**
 * The function a `meshgen.config.ts` exports (as `default` or `extend`): called once per cluster with that cluster's
 * chart, it adds constructs (to `chart` itself, or to `chart.extensionScope(Stage.X)`), or patches meshgen's own
 * objects (`chart.findApiObject(kind, name)?.addJsonPatch(...)`).
 */
export type ExtendFunction = (chart: ClusterChart, context: ExtendContext) => void;

/**
 * Loads the work directory's `meshgen.config.ts` (or `.js`, `.cjs`), if any. TypeScript is transpiled in memory with
 * the TypeScript compiler (no type check; `tsc --noEmit` in the user's project does that) and run as CommonJS, with
 * `require` resolving from the work directory (its `cdk8s`, `constructs`, `meshgen`).
 */
export function loadExtension(workdir: string): { file: string; extend: ExtendFunction } | undefined {
  const file = CONFIG_FILES.find((f) => fs.existsSync(path.join(workdir, f)));
  if (!file) return undefined;
  const abs = path.join(workdir, file);
  const fail = (message: string, fix: string): never => {
    throw new InputError({ file, message, fix });
  };
  let source = fs.readFileSync(abs, 'utf8');
  if (file.endsWith('.ts')) {
    // Loaded lazily: only a work directory with a meshgen.config.ts pays for the compiler.
    const ts = require('typescript') as typeof import('typescript');
    const out = ts.transpileModule(source, {
      fileName: abs,
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const diag = out.diagnostics?.[0];
    if (diag) fail(`does not compile: ${ts.flattenDiagnosticMessageText(diag.messageText, ' ')}`, 'fix the syntax error');
    source = out.outputText;
  }
  const mod = new Module(abs, module) as Module & { _compile(code: string, filename: string): void };
  mod.filename = abs;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(workdir);
  try {
    mod._compile(source, abs);
  } catch (e) {
    fail(`fails to load: ${(e as Error).message}`, 'fix the error in the file (it runs as CommonJS, requiring modules from the work directory)');
  }
  const exported = mod.exports as { default?: unknown; extend?: unknown } | unknown;
  const fn = typeof exported === 'function' ? exported : ((exported as { default?: unknown }).default ?? (exported as { extend?: unknown }).extend);
  if (typeof fn !== 'function') {
    fail('exports no function', 'export it: `export default function (chart, { mesh, cluster }) { ... }` (or `export function extend`)');
  }
  return { file, extend: fn as ExtendFunction };
}

/** Runs the extension on one cluster's chart; an exception becomes an input error naming the file and the cluster. */
export function runExtension(ext: { file: string; extend: ExtendFunction }, chart: ClusterChart, context: ExtendContext): void {
  try {
    ext.extend(chart, context);
  } catch (e) {
    throw new InputError({
      file: ext.file,
      message: `fails for cluster ${context.cluster.name}: ${(e as Error).message}`,
      fix: 'fix the extension function (it runs once per cluster)',
    });
  }
}
