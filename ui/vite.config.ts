import { defineConfig } from 'vite';

// The query service serves index.html at `/` and every built file under `/ui/`
// (crates/query/src/explorer.rs), so the bundle's own URLs start with `/ui/`.
export default defineConfig({
  base: '/ui/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // One script and one stylesheet: the page is small, and fewer requests load faster.
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: true,
  },
});
