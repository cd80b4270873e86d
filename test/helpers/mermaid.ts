/**
 * Mermaid's own parser (the `mermaid` package's `mermaid.parse`, headless), in a worker thread: it is loaded in the
 * background (about a second and a half) while a test does other work, and its global DOM stays out of the test's process.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/** What Mermaid said of one diagram. */
export type MermaidResult = { readonly ok: true; readonly diagramType: string } | { readonly ok: false; readonly error: string };

/** A running parser; `close()` it when done. */
export interface MermaidParser {
  parse(text: string): Promise<MermaidResult>;
  close(): Promise<void>;
}

/** Starts the worker (it loads mermaid at once); `parse` waits for it. */
export function startMermaid(): MermaidParser {
  const worker = new Worker(path.join(__dirname, 'mermaid-worker.mjs'), { execArgv: [] });
  const pending = new Map<number, (r: MermaidResult) => void>();
  let next = 0;
  let failed: Error | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { ready?: true; id?: number } & MermaidResult) => {
      if (m.ready) return resolve();
      const { id, ...result } = m;
      pending.get(id as number)?.(result as MermaidResult);
      pending.delete(id as number);
    });
    worker.on('error', (e) => {
      failed = e;
      reject(e);
    });
    worker.on('exit', (code) => {
      failed ??= new Error(`the Mermaid worker exited (code ${code})`);
      reject(failed);
    });
  });
  return {
    async parse(text) {
      await ready;
      if (failed) throw failed;
      const id = next++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        worker.postMessage({ id, text });
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
