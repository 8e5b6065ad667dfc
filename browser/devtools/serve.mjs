// Serves the repository for local use of the devtools page, with the strict CSP:
//   node browser/devtools/serve.mjs [port]   ->  http://127.0.0.1:8000/browser/devtools/
// Only files under the repository root are served; nothing is written or uploaded.
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'";
const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".map": "application/json", ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8", ".png": "image/png",
};
const ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));

/** `mounts`: extra URL prefixes served from other directories ({"/golden/": dir}). */
export function startServer(port = 8000, host = "127.0.0.1", mounts = {}) {
  const server = createServer(async (req, res) => {
    try {
      let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      let root = ROOT;
      for (const [prefix, dir] of Object.entries(mounts)) {
        if (path.startsWith(prefix)) {
          root = resolve(dir);
          path = "/" + path.slice(prefix.length);
        }
      }
      let file = resolve(root, "." + normalize(path));
      if (file !== root && !file.startsWith(root + sep)) throw new Error("outside");
      if ((await stat(file)).isDirectory()) file = resolve(file, "index.html");
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] || "application/octet-stream",
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
      });
      res.end(body);
    } catch (e) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
    }
  });
  return new Promise((ok) => server.listen(port, host, () => ok(server)));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] || 8000);
  const server = await startServer(port);
  console.log(`pysym devtools page: http://127.0.0.1:${server.address().port}/browser/devtools/`);
}
