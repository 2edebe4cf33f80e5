#!/usr/bin/env node
// Whole-process cost of `vsteal domstats --vcpu` against `virsh domstats --vcpu`, on one domain
// and on 20, as a script calling either per VM would see it (fork, exec, start, answer, exit).
// Runs are interleaved (virsh, vsteal, virsh, ...) so a busy machine slows both alike; medians.
//
//   npm run bench:cli [-- --runs 30 --prefix vsteal-test- --uri qemu:///system --vsteal /usr/bin/vsteal]
//
// --vsteal times that executable (the .deb's single executable, installed or unpacked with
// `dpkg-deb -x`) instead of `node dist/cli/main.cjs`.
//
// Needs 20 libvirt domains whose names start with the prefix (scripts/testbed up 20 makes them;
// paused ones do, and spare the CPU). Prints the ratios vsteal / virsh (< 1: vsteal is faster),
// and the floor: `node` starting an empty file.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = join(ROOT, "dist", "cli", "main.cjs");
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "25" },
    prefix: { type: "string", default: process.env.VSTEAL_TESTBED_PREFIX ?? "vsteal-test-" },
    uri: { type: "string", default: "qemu:///system" },
    json: { type: "boolean", default: false },
    vsteal: { type: "string" },
  },
});
const runs = Number(values.runs);
// What runs as vsteal: node and the npm build's entry, or one executable (--vsteal).
const vstealBin = values.vsteal ?? process.execPath;
const vstealLead = values.vsteal ? [] : [CLI];
if (!existsSync(CLI)) {
  console.error("bench-cli: dist/cli/main.cjs is missing: run npm run build (npm run bench:cli does)");
  process.exit(1);
}

const list = spawnSync("virsh", ["-q", "-c", values.uri, "list", "--all", "--name"], { encoding: "utf8" });
if (list.status !== 0) {
  console.error(`bench-cli: virsh list failed: ${list.stderr.trim()}: is libvirtd running?`);
  process.exit(1);
}
const domains = list.stdout
  .split("\n")
  .map((l) => l.trim())
  .filter((n) => n.startsWith(values.prefix))
  .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
if (domains.length < 20) {
  console.error(
    `bench-cli: needs 20 domains named ${values.prefix}*, found ${domains.length}: VSTEAL_TESTBED_PREFIX=${values.prefix} scripts/testbed up 20`,
  );
  process.exit(1);
}

// NODE_EXTRA_CA_CERTS makes every Node process parse that file at start (~30 ms): when it is set
// here, the floor and both comparisons are also measured without it, as on a host whose
// environment does not set it.
const withoutCa = { ...process.env };
delete withoutCa.NODE_EXTRA_CA_CERTS;

function once(cmd, args, env = process.env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr.trim()}`);
  return ms;
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function compare(names, env = process.env) {
  const virsh = [];
  const vsteal = [];
  const virshArgs = ["-c", values.uri, "domstats", "--vcpu", ...names];
  const vstealArgs = [...vstealLead, "domstats", "--vcpu", "--source", "libvirt", "-c", values.uri, ...names];
  once("virsh", virshArgs, env); // warm both: page cache, libvirt's connection code
  once(vstealBin, vstealArgs, env);
  for (let i = 0; i < runs; i++) {
    virsh.push(once("virsh", virshArgs, env));
    vsteal.push(once(vstealBin, vstealArgs, env));
  }
  return { virshMs: median(virsh), vstealMs: median(vsteal) };
}

// virsh asks each domain's QEMU for its vCPU counters: spinning vCPUs slow QEMU's answer, paused
// domains answer at once. Say which it was.
const states = spawnSync("virsh", ["-q", "-c", values.uri, "domstate", "--domain", domains[0]], {
  encoding: "utf8",
}).stdout.trim();
const running = domains
  .slice(0, 20)
  .filter(
    (d) =>
      spawnSync("virsh", ["-q", "-c", values.uri, "domstate", "--domain", d], { encoding: "utf8" }).stdout.trim() ===
      "running",
  ).length;

const floor = [];
for (let i = 0; i < runs; i++) floor.push(once(process.execPath, ["-e", "0"]));
const one = compare(domains.slice(0, 1));
const twenty = compare(domains.slice(0, 20));
const caSet = process.env.NODE_EXTRA_CA_CERTS !== undefined;
let noCa = null;
if (caSet) {
  const f = [];
  for (let i = 0; i < runs; i++) f.push(once(process.execPath, ["-e", "0"], withoutCa));
  const c = compare(domains.slice(0, 1), withoutCa);
  const t = compare(domains.slice(0, 20), withoutCa);
  noCa = {
    nodeEmptyStartMs: median(f),
    oneDomain: { ...c, ratio: c.vstealMs / c.virshMs },
    twentyDomains: { ...t, ratio: t.vstealMs / t.virshMs, speedup: t.virshMs / t.vstealMs },
  };
}
const result = {
  runs,
  vsteal: values.vsteal ?? "node dist/cli/main.cjs",
  runningDomains: running,
  firstDomainState: states,
  nodeEmptyStartMs: median(floor),
  nodeExtraCaCerts: caSet,
  oneDomain: { ...one, ratio: one.vstealMs / one.virshMs },
  twentyDomains: { ...twenty, ratio: twenty.vstealMs / twenty.virshMs, speedup: twenty.virshMs / twenty.vstealMs },
  withoutExtraCaCerts: noCa,
};
if (values.json) {
  console.log(JSON.stringify(result, null, 2));
} else {
  const f = (x) => x.toFixed(1).padStart(7);
  console.log(
    `bench-cli: medians of ${runs} interleaved runs, whole process (fork to exit); ${running} of the 20 domains running (spinning), the rest paused or off; vsteal is ${values.vsteal ?? "node dist/cli/main.cjs"}`,
  );
  console.log(
    `  node -e 0 (the floor of any Node program)    ${f(result.nodeEmptyStartMs)} ms${result.nodeExtraCaCerts ? "  (NODE_EXTRA_CA_CERTS is set: Node parses that file at every start)" : ""}`,
  );
  console.log(
    `  1 domain:   virsh ${f(one.virshMs)} ms   vsteal ${f(one.vstealMs)} ms   vsteal/virsh ${result.oneDomain.ratio.toFixed(2)} (goal <= 1)`,
  );
  console.log(
    `  20 domains: virsh ${f(twenty.virshMs)} ms   vsteal ${f(twenty.vstealMs)} ms   virsh/vsteal ${result.twentyDomains.speedup.toFixed(2)} (goal >= 5)`,
  );
  if (noCa) {
    console.log(`  without NODE_EXTRA_CA_CERTS:`);
    console.log(`    node -e 0                                  ${f(noCa.nodeEmptyStartMs)} ms`);
    console.log(
      `    1 domain: virsh ${f(noCa.oneDomain.virshMs)} ms   vsteal ${f(noCa.oneDomain.vstealMs)} ms   vsteal/virsh ${noCa.oneDomain.ratio.toFixed(2)} (goal <= 1)`,
    );
    console.log(
      `    20 domains: virsh ${f(noCa.twentyDomains.virshMs)} ms   vsteal ${f(noCa.twentyDomains.vstealMs)} ms   virsh/vsteal ${noCa.twentyDomains.speedup.toFixed(2)} (goal >= 5)`,
    );
  }
}
