#!/usr/bin/env node
// Bundles the command line (src/cli/main.ts) with esbuild into dist/cli/main.js, replacing the
// file tsc wrote there: Node then reads one file at start instead of ~60 modules and their
// packages. Each command's lazily imported code becomes its own chunk beside main.js
// (dist/cli/bundle-*.js), so `vsteal domstats` never parses the planner, the agent or zod.
// Chunks sit in dist/cli so that paths resolved from import.meta.url (the dashboard in
// dist/web) are the same as from tsc's output. The rest of dist/ (the library) stays tsc's.
//
//   node scripts/build-cli.mjs
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "cli");

rmSync(join(outdir, "main.js.map"), { force: true }); // tsc's map of the file the bundle replaces
for (const f of readdirSync(outdir, { withFileTypes: true })) {
  if (f.isFile() && /^bundle-.*\.js(\.map)?$/.test(f.name)) rmSync(join(outdir, f.name));
}

const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

await build({
  absWorkingDir: root,
  entryPoints: { main: join(root, "src", "cli", "main.ts") },
  outdir,
  entryNames: "[name]",
  chunkNames: "bundle-[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  define: { VSTEAL_VERSION: JSON.stringify(version) },
  // Packages written as CommonJS (prom-client) call require(): give the bundle a real one.
  banner: {
    js: 'import { createRequire as __vstealCreateRequire } from "node:module";\nconst require = __vstealCreateRequire(import.meta.url);',
  },
  legalComments: "none",
  sourcemap: false,
  logLevel: "warning",
});
