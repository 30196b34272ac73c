/* global process */
// Running from the TypeScript sources (tests, tsx): a worker thread registers tsx, then loads its
// real module, whose URL is the last argument. The compiled package never uses this file.
const { register } = await import('tsx/esm/api');
register();
await import(process.argv[process.argv.length - 1]);
