import path from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

// The web app builds into dist/web, which the server serves at /. `vite dev` proxies the API.
export default defineConfig({
  root: here,
  plugins: [react()],
  build: { outDir: path.join(here, '..', 'dist', 'web'), emptyOutDir: true, sourcemap: true },
  server: { proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } } },
});
