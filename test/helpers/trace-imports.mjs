// `node --import ./trace-imports.mjs`: records every module the process resolves in
// globalThis.convlensLoaded (for the test that the package's root entry loads no server code).
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const { port1, port2 } = new MessageChannel();
globalThis.convlensLoaded = [];
port1.on('message', (url) => globalThis.convlensLoaded.push(url));
port1.unref();
register('./trace-imports-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
