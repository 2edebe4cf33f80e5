#!/usr/bin/env node
// Bundles the command line with esbuild, replacing the files tsc wrote: dist/cli/main.cjs
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
import { noIdentityInStart } from "./start-bundle.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "cli");

rmSync(join(outdir, "main.js.map"), { force: true }); // tsc's maps of the files the bundles replace
rmSync(join(outdir, "program.js.map"), { force: true });
for (const f of readdirSync(outdir, { withFileTypes: true })) {
  if (f.isFile() && /^bundle-.*\.js(\.map)?$/.test(f.name)) rmSync(join(outdir, f.name));
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

// 1. main.cjs, the `vsteal` command (package.json's bin): the start of every command line, and
//    all of a plain `vsteal domstats`, in one CommonJS file. CommonJS because Node then never
//    starts its ES module loader (~7 ms of CPU at every start), one file because each further
//    file costs a few ms more. The whole program is the second bundle, an ES module that
//    main.cjs imports when the command line is anything else.
const programExternal = {
  name: "program-external",
  setup(b) {
    b.onResolve({ filter: /^\.\/program\.js$/ }, (a) => ({ path: a.path, external: true }));
  },
};
const start = await build({
  ...common,
  entryPoints: { main: join(root, "src", "cli", "main.ts") },
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  // No chunks (CommonJS has none): lazily imported modules (the plain-QEMU source) are in the
  // file but evaluated only when imported; V8 only pre-parses them.
  splitting: false,
  // import.meta does not exist in CommonJS: the file's own URL stands in.
  define: { ...common.define, "import.meta": "__vstealMeta" },
  banner: { js: 'var __vstealMeta = { get url() { return require("node:url").pathToFileURL(__filename).href; } };' },
  plugins: [programExternal, noIdentityInStart],
});
rmSync(join(outdir, "main.js"), { force: true }); // tsc's, unbundled: one way in, main.cjs
rmSync(join(outdir, "main.d.ts"), { force: true });

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
if (reached.size < 2) {
  console.error("build-cli: nothing found imported by src/cli/main.ts: has the metafile's shape changed?");
  process.exit(1);
}
if (heavy.size > 0) {
  console.error(
    `build-cli: vsteal domstats would load ${[...heavy].join(", ")} at start: import it lazily (await import()) where it is used`,
  );
  process.exit(1);
}
// …and the XML parser is not in main.cjs at all, not even lazily imported (see noIdentityInStart).
if (Object.keys(inputs).some((f) => key(f).startsWith("node_modules/@xmldom/"))) {
  console.error(
    "build-cli: main.cjs holds the XML parser: something the start imports (even lazily) reaches src/platforms/xml.ts; keep it to the whole program (scripts/start-bundle.mjs)",
  );
  process.exit(1);
}
