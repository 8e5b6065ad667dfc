// Assembles the unpacked extension: the manifest at the root and the repository layout
// below it (browser/*.js, browser/devtools/, browser/extension/, pysym/_wasm/pysym.wasm),
// so the page and the module run unchanged.
//   node browser/extension/build.mjs OUTDIR      then chrome://extensions > Load unpacked
import { cp, mkdir, readdir, rm } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));

export async function buildExtension(outdir) {
  outdir = resolve(outdir);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(resolve(outdir, "browser"), { recursive: true });
  for (const name of await readdir(resolve(ROOT, "browser"))) {
    if (name.endsWith(".js") || name === "package.json") await cp(resolve(ROOT, "browser", name), resolve(outdir, "browser", name));
  }
  for (const dir of ["devtools", "extension"]) {
    await cp(resolve(ROOT, "browser", dir), resolve(outdir, "browser", dir), {
      recursive: true, filter: (src) => !/(serve|build)\.mjs$/.test(src),
    });
  }
  await mkdir(resolve(outdir, "pysym", "_wasm"), { recursive: true });
  await cp(resolve(ROOT, "pysym", "_wasm", "pysym.wasm"), resolve(outdir, "pysym", "_wasm", "pysym.wasm"));
  await cp(resolve(ROOT, "browser", "extension", "manifest.json"), resolve(outdir, "manifest.json"));
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv[2]) {
    console.error("usage: node browser/extension/build.mjs OUTDIR");
    process.exit(2);
  }
  console.log(await buildExtension(process.argv[2]));
}
