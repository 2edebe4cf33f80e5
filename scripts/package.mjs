#!/usr/bin/env node
// Builds what a host installs (docs/install.md), from a finished `npm run build`:
//   dist/pkg/vsteal-<version>.tgz           npm tarball: dist/ prebuilt, `vsteal` runs as installed
//   dist/pkg/vsteal_<version>_amd64.deb     Debian package: /usr/bin/vsteal is a Node single
//                                           executable (this Node, the CLI bundled, the dashboard
//                                           embedded), so the host needs no Node
//
//   node scripts/package.mjs [--deb-only | --npm-only]
//
// The single executable follows Node's documented recipe (nodejs.org/api/single-executable-applications.html):
// a CommonJS bundle, `node --experimental-sea-config`, a copy of the node binary, `postject`
// (the start is the main script, the rest of the program an asset: step 1 below).
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { noIdentityInStart } from "./start-bundle.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const out = join(root, "dist", "pkg");
const args = process.argv.slice(2);
const wantNpm = !args.includes("--deb-only");
const wantDeb = !args.includes("--npm-only");

function fail(msg) {
  console.error(`package: ${msg}`);
  process.exit(1);
}
if (!existsSync(join(root, "dist", "cli", "main.cjs")) || !existsSync(join(root, "dist", "web", "index.html"))) {
  fail("dist/ is not built: run npm run build first (npm run package does)");
}
mkdirSync(out, { recursive: true });

// ---------------------------------------------------------------- npm tarball --
if (wantNpm) {
  for (const f of readdirSync(out)) if (f.endsWith(".tgz")) rmSync(join(out, f));
  const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", out], { cwd: root, encoding: "utf8" })
    .trim()
    .split("\n")
    .pop();
  console.log(`package: ${join("dist", "pkg", name)} (${(statSync(join(out, name)).size / 1024).toFixed(0)} KiB)`);
}

// ------------------------------------------------------------ the .deb --
if (wantDeb) {
  if (process.arch !== "x64") fail(`the .deb is amd64 and is built with an x64 Node; this is ${process.arch}`);
  const work = join(out, "build");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  // 1. Two CommonJS files (single executables run CommonJS). import.meta.url does not exist
  //    there: the executable's own path stands in (the dashboard then comes from the embedded
  //    assets). The executable's main script is the start (src/cli/main.ts: a plain
  //    `vsteal domstats` whole, as dist/cli/main.cjs); the whole program (src/cli/program.ts)
  //    is an embedded asset, compiled only when the command line is anything else. One bundle
  //    of everything made every `vsteal domstats` compile 2 MB: twice the start's CPU time.
  const seaCommon = {
    absWorkingDir: root,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    define: { VSTEAL_VERSION: JSON.stringify(pkg.version), "import.meta.url": "__vstealMetaUrl" },
    banner: { js: 'var __vstealMetaUrl = require("node:url").pathToFileURL(process.execPath).href;' },
    legalComments: "none",
    logLevel: "warning",
  };
  const programBundle = join(work, "program.cjs");
  await build({ ...seaCommon, entryPoints: [join(root, "src", "cli", "program.ts")], outfile: programBundle });
  // In the executable, main.ts's `import("./program.js")` compiles that asset as a CommonJS
  // module. Its require() is the executable's (built-in modules only): the bundle holds the rest.
  const programFromAsset = {
    name: "program-from-asset",
    setup(b) {
      b.onResolve({ filter: /^\.\/program\.js$/ }, () => ({ path: "program", namespace: "sea-asset" }));
      b.onLoad({ filter: /.*/, namespace: "sea-asset" }, () => ({
        loader: "js",
        contents: `const { getAsset } = require("node:sea");
const { compileFunction } = require("node:vm");
const params = ["exports", "require", "module", "__filename", "__dirname"];
const m = { exports: {} };
compileFunction(getAsset("program.cjs", "utf8"), params, { filename: "vsteal:program.cjs" })(
  m.exports, require, m, process.execPath, require("node:path").dirname(process.execPath));
module.exports = m.exports;`,
      }));
    },
  };
  const bundle = join(work, "vsteal.cjs");
  await build({
    ...seaCommon,
    entryPoints: [join(root, "src", "cli", "main.ts")],
    outfile: bundle,
    plugins: [programFromAsset, noIdentityInStart],
  });

  // 2. The blob: the start as its main script, the program and the dashboard as assets. (No
  //    code cache: V8 rejects it, with a warning at every start, when NODE_OPTIONS sets V8
  //    flags, as the systemd unit does.)
  const web = join(root, "dist", "web");
  const webNames = readdirSync(web).filter((n) => statSync(join(web, n)).isFile());
  writeFileSync(join(work, "web-files.txt"), webNames.join("\n"));
  const assets = { "web/.files": join(work, "web-files.txt"), "program.cjs": programBundle };
  for (const n of webNames) assets[`web/${n}`] = join(web, n);
  const blob = join(work, "sea-prep.blob");
  writeFileSync(
    join(work, "sea-config.json"),
    JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, assets }, null, 2),
  );
  execFileSync(process.execPath, ["--experimental-sea-config", join(work, "sea-config.json")], {
    stdio: ["ignore", "ignore", "inherit"],
  });

  // 3. A copy of this node with the blob injected.
  const exe = join(work, "vsteal");
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  const postject = createRequire(import.meta.url).resolve("postject/dist/cli.js");
  execFileSync(
    process.execPath,
    [postject, exe, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"],
    {
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const v = execFileSync(exe, ["--version"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } }).trim();
  if (v !== pkg.version) fail(`the single executable says version ${JSON.stringify(v)}, expected ${pkg.version}`);

  // 4. The package's tree.
  const tree = join(work, "root");
  const put = (src, dest, mode = 0o644) => {
    const d = join(tree, dest);
    mkdirSync(dirname(d), { recursive: true });
    copyFileSync(src, d);
    chmodSync(d, mode);
  };
  const text = (dest, body, mode = 0o644) => {
    const d = join(tree, dest);
    mkdirSync(dirname(d), { recursive: true });
    writeFileSync(d, body);
    chmodSync(d, mode);
  };
  put(exe, "usr/bin/vsteal", 0o755);
  put(join(root, "deploy", "systemd", "vsteal-agent.service"), "lib/systemd/system/vsteal-agent.service");
  put(join(root, "src", "alerts", "default-rules.yaml"), "usr/share/vsteal/alerts/default-rules.yaml");
  put(
    join(root, "deploy", "prometheus", "vsteal-alerts.rules.yml"),
    "usr/share/vsteal/prometheus/vsteal-alerts.rules.yml",
  );
  put(
    join(root, "deploy", "prometheus", "vsteal-alerts.rules.test.yml"),
    "usr/share/vsteal/prometheus/vsteal-alerts.rules.test.yml",
  );
  put(join(root, "deploy", "grafana", "vsteal-dashboard.json"), "usr/share/vsteal/grafana/vsteal-dashboard.json");
  // The unit's ExecStart reads /etc/vsteal/alerts.yaml: the defaults, for the admin to edit.
  put(join(root, "src", "alerts", "default-rules.yaml"), "etc/vsteal/alerts.yaml");
  text(
    "etc/vsteal/web-config.yml.example",
    [
      "# exporter-toolkit web config for `vsteal agent --web.config.file /etc/vsteal/web-config.yml`:",
      "# TLS and basic auth on /metrics, the API and the dashboard. Copy to web-config.yml and edit.",
      "# tls_server_config:",
      "#   cert_file: /etc/vsteal/tls/agent.crt",
      "#   key_file: /etc/vsteal/tls/agent.key",
      "# basic_auth_users:",
      "#   prometheus: $2b$12$...   # a bcrypt hash, e.g. from `htpasswd -nBC 12 prometheus`",
      "",
    ].join("\n"),
  );
  put(join(root, "README.md"), "usr/share/doc/vsteal/README.md");
  text(
    "usr/share/doc/vsteal/copyright",
    `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: vsteal\n\nFiles: *\nLicense: ${pkg.license}\n On Debian systems the full text of the Apache License 2.0 is in\n /usr/share/common-licenses/Apache-2.0. The executable contains Node.js (MIT License).\n`,
  );
  const changelog = `vsteal (${pkg.version}) unstable; urgency=medium\n\n  * Built by scripts/package.mjs.\n\n -- vsteal maintainers <vsteal@users.noreply.github.com>  Thu, 01 Jan 2026 00:00:00 +0000\n`;
  mkdirSync(join(tree, "usr/share/doc/vsteal"), { recursive: true });
  writeFileSync(join(tree, "usr/share/doc/vsteal/changelog.Debian.gz"), gzipSync(changelog, { level: 9 }));

  const installedKb = Math.ceil(
    Number(execFileSync("du", ["-sk", "--exclude=DEBIAN", tree], { encoding: "utf8" }).split("\t")[0]),
  );
  const control = [
    "Package: vsteal",
    `Version: ${pkg.version}`,
    "Architecture: amd64",
    "Maintainer: vsteal maintainers <vsteal@users.noreply.github.com>",
    `Installed-Size: ${installedKb}`,
    // The executable carries Node itself; it links only the C and C++ runtimes.
    "Depends: libc6 (>= 2.28), libstdc++6 (>= 10), libgcc-s1, adduser",
    "Recommends: libvirt-clients",
    "Section: admin",
    "Priority: optional",
    "Homepage: https://github.com/vsteal/vsteal",
    `Description: ${pkg.description}`,
    " vsteal reads each vCPU's run-queue delay (the guest's steal time) from /proc,",
    " exports it to Prometheus with a dashboard and alerts, and plans live migrations",
    " off oversubscribed hosts. This package holds the agent and the command line as",
    " one executable (Node.js included), its systemd unit, and the Prometheus rules",
    " and Grafana dashboard under /usr/share/vsteal.",
    "",
  ].join("\n");
  text("DEBIAN/control", control);
  text("DEBIAN/conffiles", "/etc/vsteal/alerts.yaml\n/etc/vsteal/web-config.yml.example\n");
  text(
    "DEBIAN/postinst",
    `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  # The agent's user: no login, no home of its own but its state directory.
  adduser --system --group --quiet --no-create-home --home /var/lib/vsteal vsteal
  # systemd's StateDirectory= makes it too; without systemd the agent still finds it.
  install -d -o vsteal -g vsteal -m 0750 /var/lib/vsteal
fi
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
  if [ -z "$2" ]; then
    systemctl enable vsteal-agent.service >/dev/null || true
  fi
  systemctl restart vsteal-agent.service >/dev/null || true
fi
exit 0
`,
    0o755,
  );
  text(
    "DEBIAN/prerm",
    `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop vsteal-agent.service >/dev/null || true
fi
exit 0
`,
    0o755,
  );
  text(
    "DEBIAN/postrm",
    `#!/bin/sh
set -e
if [ "$1" = remove ] || [ "$1" = purge ]; then
  if [ -d /run/systemd/system ]; then
    systemctl disable vsteal-agent.service >/dev/null 2>&1 || true
    systemctl --system daemon-reload >/dev/null || true
  fi
fi
if [ "$1" = purge ]; then
  # The agent's history. The vsteal user stays, as Debian leaves system users
  # (files elsewhere may still belong to it); remove it with: deluser --system vsteal
  rm -rf /var/lib/vsteal
fi
exit 0
`,
    0o755,
  );

  for (const f of readdirSync(out)) if (f.endsWith(".deb")) rmSync(join(out, f));
  const deb = join(out, `vsteal_${pkg.version}_amd64.deb`);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "-z1", "--build", tree, deb], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  rmSync(work, { recursive: true, force: true });
  console.log(
    `package: ${join("dist", "pkg", `vsteal_${pkg.version}_amd64.deb`)} (${(statSync(deb).size / 1024 / 1024).toFixed(1)} MiB)`,
  );
}
