#!/usr/bin/env node
// Builds the dashboard (web/) into dist/web: type-checks web/ with its own tsconfig (DOM lib),
// bundles and minifies with esbuild (uPlot and its CSS included: no CDN), names the script and
// stylesheet by content hash, writes index.html pointing at them, and prints the sizes. Fails if
// anything outside web/ and node_modules/ (the server's code) would enter the bundle.
//
//   node scripts/build-web.mjs [--no-check] [--outdir DIR]
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(root, "web");
const args = process.argv.slice(2);
const outIdx = args.indexOf("--outdir");
const outdir = outIdx >= 0 && args[outIdx + 1] ? join(process.cwd(), args[outIdx + 1]) : join(root, "dist", "web");

if (!args.includes("--no-check")) {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(web, "tsconfig.json")], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error("build-web: type errors in web/ (see above)");
    process.exit(1);
  }
}

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: join(web, "src", "main.ts") },
  outdir,
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome100", "firefox100", "safari15"],
  platform: "browser",
  legalComments: "none",
  sourcemap: false,
  metafile: true,
  logLevel: "warning",
});

// The dashboard imports the server's answer types type-only: no file of the server may be bundled.
const serverFiles = Object.keys(result.metafile.inputs).filter(
  (p) => !p.startsWith("web/") && !p.includes("node_modules/"),
);
if (serverFiles.length)
  throw new Error(`build-web: server code in the dashboard's bundle (use import type): ${serverFiles.join(", ")}`);

const outputs = Object.keys(result.metafile.outputs).map((p) => join(root, p));
const js = outputs.find((p) => p.endsWith(".js"));
const css = outputs.find((p) => p.endsWith(".css"));
if (!js || !css) throw new Error(`build-web: expected a .js and a .css output, got ${outputs.join(", ")}`);

const html = readFileSync(join(web, "index.html"), "utf8")
  .replace("{{APP_JS}}", basename(js))
  .replace("{{APP_CSS}}", basename(css));
if (html.includes("{{")) throw new Error("build-web: web/index.html has a placeholder left");
writeFileSync(join(outdir, "index.html"), html);
copyFileSync(join(web, "favicon.svg"), join(outdir, "favicon.svg"));

let total = 0;
let totalGz = 0;
const lines = [];
for (const f of [join(outdir, "index.html"), js, css, join(outdir, "favicon.svg")]) {
  const body = readFileSync(f);
  const gz = gzipSync(body, { level: 9 }).length;
  total += body.length;
  totalGz += gz;
  lines.push(
    `  ${relative(root, f).padEnd(40)} ${(body.length / 1024).toFixed(1).padStart(7)} KiB  ${(gz / 1024).toFixed(1).padStart(6)} KiB gzip`,
  );
}
console.log(
  `build-web: dashboard in ${relative(root, outdir) || "."}\n${lines.join("\n")}\n  ${"total".padEnd(40)} ${(total / 1024).toFixed(1).padStart(7)} KiB  ${(totalGz / 1024).toFixed(1).padStart(6)} KiB gzip`,
);
