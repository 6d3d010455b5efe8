/**
 * The two Node globals that simple-peer (and the readable-stream under it)
 * use, for the page bundle: esbuild injects these wherever the bundle reads
 * `process` or `Buffer` (package.json, `bundle:web`). Nothing else of Node
 * reaches the page.
 */
import process from 'process/browser.js';
import { Buffer } from 'buffer/'; // the npm package (a bare 'buffer' names Node's builtin to the dependency rules)

export { process, Buffer };
