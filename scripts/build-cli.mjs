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

const result = await build({
  absWorkingDir: root,
  metafile: true,
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

// What `vsteal domstats` loads at start (main.js, the domstats chunk and what they import
// statically) must stay small: a package added there once made every start parse zod.
const outputs = result.metafile.outputs;
const key = (f) => f.replace(/\\/g, "/");
const domstatsChunk = Object.keys(outputs).find((f) => outputs[f].entryPoint === "src/cli/domstats.ts");
const startFiles = new Set();
const visit = (f) => {
  if (startFiles.has(f)) return;
  startFiles.add(f);
  for (const i of outputs[f].imports) if (i.kind === "import-statement" && outputs[i.path]) visit(i.path);
};
visit(Object.keys(outputs).find((f) => key(f).endsWith("dist/cli/main.js")));
if (domstatsChunk) visit(domstatsChunk);
const HEAVY = ["zod", "yaml", "hono", "@hono/node-server", "@xmldom/xmldom", "prom-client", "bcryptjs"];
const heavy = new Set();
for (const f of startFiles)
  for (const input of Object.keys(outputs[f].inputs)) {
    const pkg = HEAVY.find((p) => key(input).startsWith(`node_modules/${p}/`));
    if (pkg) heavy.add(pkg);
  }
if (!domstatsChunk || heavy.size > 0) {
  console.error(
    domstatsChunk
      ? `build-cli: vsteal domstats would load ${[...heavy].join(", ")} at start: import it lazily (await import()) where it is used`
      : "build-cli: no chunk for src/cli/domstats.ts: is it still imported lazily by its command?",
  );
  process.exit(1);
}
