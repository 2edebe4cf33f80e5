#!/usr/bin/env node
// Bundles the command line with esbuild, replacing the files tsc wrote: dist/cli/main.js
// (src/cli/main.ts: the start, and a plain `vsteal domstats` whole, in one file) and
// dist/cli/program.js (src/cli/program.ts: every command, each command's lazily imported
// code a chunk of its own beside it, dist/cli/bundle-*.js), so no command parses the
// planner, the agent or zod unless it uses them.
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

rmSync(join(outdir, "main.js.map"), { force: true }); // tsc's maps of the files the bundles replace
rmSync(join(outdir, "program.js.map"), { force: true });
for (const f of readdirSync(outdir, { withFileTypes: true })) {
  if (f.isFile() && /^(bundle|start)-.*\.js(\.map)?$/.test(f.name)) rmSync(join(outdir, f.name));
}

const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

const common = {
  absWorkingDir: root,
  metafile: true,
  outdir,
  entryNames: "[name]",
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
};

// 1. main.js: the start of every command line, and all of a plain `vsteal domstats`, in one
//    file (each further file costs Node's ES module loader a few ms). The whole program is
//    the second bundle, loaded by main.js when the command line is anything else.
const programExternal = {
  name: "program-external",
  setup(b) {
    b.onResolve({ filter: /^\.\/program\.js$/ }, (a) => ({ path: a.path, external: true }));
  },
};
// Node's built-in modules through require() rather than import: an `import … from "node:fs"`
// makes Node build an ES module facade of every export of the module, and reading node:fs's
// ReadStream getter for it loads all of Node's streams (~3 ms at every start).
const builtinsByRequire = {
  name: "builtins-by-require",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) =>
      a.namespace === "builtin" ? { path: a.path, external: true } : { path: a.path, namespace: "builtin" },
    );
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (a) => ({
      contents: `module.exports = require(${JSON.stringify(a.path)});`,
      loader: "js",
    }));
  },
};
const start = await build({
  ...common,
  entryPoints: { main: join(root, "src", "cli", "main.ts") },
  // No chunks: code that the lazily loaded plain-QEMU source or XML reader shares with the
  // start would be a chunk of its own, a file more at every start. Lazily imported modules
  // are still evaluated only when imported; V8 only pre-parses what is never called.
  splitting: false,
  plugins: [programExternal, builtinsByRequire],
});

// 2. program.js: every command, each command's code in a chunk loaded when it runs.
await build({
  ...common,
  entryPoints: { program: join(root, "src", "cli", "program.ts") },
  chunkNames: "bundle-[name]-[hash]",
});

// What a plain `vsteal domstats` evaluates at start (what main.ts imports statically, module by
// module) must stay small: a package added there once made every start parse zod.
const inputs = start.metafile.inputs;
const key = (f) => f.replace(/\\/g, "/");
const reached = new Set();
const visit = (f) => {
  if (reached.has(f) || !inputs[f]) return;
  reached.add(f);
  for (const i of inputs[f].imports) if (i.kind !== "dynamic-import" && !i.external) visit(i.path);
};
visit(Object.keys(inputs).find((f) => key(f) === "src/cli/main.ts"));
const HEAVY = ["commander", "zod", "yaml", "hono", "@hono/node-server", "@xmldom/xmldom", "prom-client", "bcryptjs"];
const heavy = new Set(
  [...reached].map((f) => HEAVY.find((p) => key(f).startsWith(`node_modules/${p}/`))).filter(Boolean),
);
if (reached.size < 2 || heavy.size > 0) {
  console.error(
    reached.size < 2
      ? "build-cli: nothing found imported by src/cli/main.ts: has the metafile's shape changed?"
      : `build-cli: vsteal domstats would load ${[...heavy].join(", ")} at start: import it lazily (await import()) where it is used`,
  );
  process.exit(1);
}
