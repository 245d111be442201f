// The explorer is built into the node (crates/node/build.rs passes --outDir).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: { target: 'es2022', chunkSizeWarningLimit: 2000, reportCompressedSize: false },
});
