import { defineConfig } from 'vite';

/**
 * The admin panel: Preact through esbuild's automatic JSX runtime (no plugin),
 * built to admin/dist and served by the API server at /admin/ (`npm run build:admin`).
 */
export default defineConfig({
  base: '/admin/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // scripts/build.ts reads it to measure the initial JS.
    manifest: true,
    target: 'es2020',
    // Charts, spreadsheet export and the pages are dynamic imports: the first screen stays small.
    chunkSizeWarningLimit: 1200,
    reportCompressedSize: false,
  },
});
