// check.mjs FILE... parses each file with Mermaid's own parser and prints
// "ok FILE DIAGRAM-TYPE", or "error FILE: MESSAGE" and exits 1. Mermaid
// needs a DOM even to parse, so jsdom provides one.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

let failed = false;
for (const file of process.argv.slice(2)) {
  try {
    const res = await mermaid.parse(readFileSync(file, 'utf8'));
    console.log(`ok ${file} ${res.diagramType}`);
  } catch (e) {
    console.log(`error ${file}: ${String(e.message ?? e).split('\n').join(' | ')}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
