import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The Django/ASGI server (API, WebSockets, job browse proxy) in development.
const backend = "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) },
  },
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
  },
  server: {
    // The Host header is kept (no changeOrigin) so Django's CSRF and WebSocket
    // origin checks see the same host the browser used.
    proxy: {
      "/api": { target: backend },
      "/ws": { target: backend, ws: true },
      "/s/": { target: backend },
      "^/jobs/[^/]+/browse": { target: backend, ws: true },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    restoreMocks: true,
    unstubGlobals: true,
    environmentOptions: { jsdom: { url: "http://localhost:5173/" } },
  },
});
