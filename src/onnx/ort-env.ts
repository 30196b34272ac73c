/**
 * Import before onnxruntime-node creates its environment. ORT's telemetry matches regular
 * expressions against the process's command line (/proc/self/cmdline) with a recursive matcher:
 * a long command line (`convlens classify *.jpg` over a few hundred absolute paths) overflows the
 * stack and the process dies with SIGSEGV. Switching the telemetry off skips that code. Set here,
 * on the main thread, the variable reaches the real environment that ORT reads from any thread.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';
export {};
