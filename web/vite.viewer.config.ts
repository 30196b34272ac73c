// The standalone HTML map's viewer as one IIFE script + CSS (dist/web/viewer/), which
// src/server/html-map.ts inlines into a self-contained page. Built after the app (same outDir root).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../dist/web/viewer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    cssCodeSplit: false,
    lib: {
      entry: fileURLToPath(new URL('./src/viewer/standalone.ts', import.meta.url)),
      name: 'ConvlensMap',
      formats: ['iife'],
      fileName: () => 'convlens-map.js',
      cssFileName: 'convlens-map',
    },
  },
});
