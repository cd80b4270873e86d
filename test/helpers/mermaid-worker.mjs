// The worker behind test/helpers/mermaid.ts: Mermaid's own parser, loaded without the test runner's TypeScript loader
// (tsx makes loading mermaid's hundreds of modules several times slower). `mermaid.parse` needs a DOM only for
// DOMPurify, which binds to the global window when it is loaded: happy-dom's window is set first.
import { parentPort } from 'node:worker_threads';
import { Window } from 'happy-dom';

const window = new Window();
globalThis.window = window;
const { default: mermaid } = await import('mermaid');

parentPort.on('message', async ({ id, text }) => {
  try {
    const r = await mermaid.parse(text);
    parentPort.postMessage({ id, ok: true, diagramType: r.diagramType });
  } catch (e) {
    parentPort.postMessage({ id, ok: false, error: String(e?.message ?? e) });
  }
});
parentPort.postMessage({ ready: true });
