#!/usr/bin/env node
// Cost of platform identity (after `npm run build`): `node scripts/bench/platforms.mjs [--iterations N]`.
//   1. parsing: identityFromDomainXml per domain XML (a Nova instance's, a hostile one with a 10 KB value);
//   2. reading (needs libvirt): the libvirt source's first discovery (reads every domain's XML,
//      in one virsh run) against the next ones (cached: no dumpxml), and N separate `virsh dumpxml`.
// Prints JSON; nothing here asserts timings.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { identityFromDomainXml } = await import(join(root, "dist", "platforms", "identity.js"));
const { LibvirtSource } = await import(join(root, "dist", "sources", "libvirt.js"));
const args = process.argv.slice(2);
const iterations = Number(args[args.indexOf("--iterations") + 1] || 2000) || 2000;

const nova = readFileSync(join(root, "test", "fixtures", "platforms", "nova-1.1-metadata.xml"), "utf8");
const devices = Array.from(
  { length: 12 },
  (_, i) =>
    `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/nova/instances/x/disk${i}'/><target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/></disk>`,
).join("\n");
const doc = (meta) =>
  `<domain type='kvm'><name>instance-0000a1b2</name><uuid>0b7c1e2d-3f4a-4b5c-8d9e-0f1a2b3c4d5e</uuid><metadata>${meta}</metadata><memory unit='KiB'>2097152</memory><vcpu>2</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${devices}</devices></domain>`;
const cases = { nova: doc(nova), hostile: doc(nova.replace("web-1 Ünïcødé 网站", "N".repeat(10_240))) };

const summary = { parse: {} };
for (const [name, xml] of Object.entries(cases)) {
  for (let i = 0; i < 100; i++) identityFromDomainXml(xml); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) identityFromDomainXml(xml);
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / iterations;
  summary.parse[name] = { xml_bytes: xml.length, us_per_domain: Math.round(us * 10) / 10 };
}

try {
  execFileSync("virsh", ["-c", "qemu:///system", "uri"], { stdio: "ignore", timeout: 10_000 });
  const src = new LibvirtSource({});
  const t = async () => {
    const t0 = performance.now();
    const d = await src.discover();
    return { ms: Math.round((performance.now() - t0) * 10) / 10, domains: d.domains.length };
  };
  const first = await t();
  const later = [await t(), await t(), await t()];
  const uuids = execFileSync("virsh", ["-q", "-c", "qemu:///system", "list", "--all", "--uuid"], { encoding: "utf8" })
    .trim()
    .split("\n")
    .filter(Boolean);
  const t0 = performance.now();
  for (const u of uuids) execFileSync("virsh", ["-q", "-r", "-c", "qemu:///system", "dumpxml", u], { stdio: "ignore" });
  summary.discovery = {
    domains: first.domains,
    first_ms: first.ms,
    later_ms: later.map((x) => x.ms),
    separate_virsh_dumpxml_ms: Math.round((performance.now() - t0) * 10) / 10,
  };
} catch (e) {
  summary.discovery = `skipped: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`;
}
console.log(JSON.stringify(summary, null, 2));
