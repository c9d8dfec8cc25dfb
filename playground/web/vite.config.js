import { defineConfig } from 'vite';

// The bundle lands in ../dist, which is committed and embedded in the Go
// binary (playground/playground.go); the Go handler serves it under
// /playground/ and index.html at /.
export default defineConfig({
  base: '/playground/',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    license: { fileName: 'LICENSES.md' },
    chunkSizeWarningLimit: 8192,
    sourcemap: false,
  },
  worker: { format: 'es' },
});
