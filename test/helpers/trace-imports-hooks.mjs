// The loader hooks of trace-imports.mjs: each resolved module's URL goes to the main thread.
let port;
export async function initialize(data) {
  port = data.port;
}
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}
