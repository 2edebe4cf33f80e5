// Writes a history file as an agent that has run for 7 days + 1 hour would have it, for the
// VMs a benchmark starts: 7 days at one sample per 10 minutes (fills the 10-minute tier), then
// the last hour at the sampling interval (fills the raw tier). Used by scripts/bench/agent.mjs
// (--full-history) and scripts/soak.mjs, so that the RSS measured is that of a full history
// and not of one still filling up.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * @param {{ root: string, dir: string, intervalS: number, vms: number, vcpus: number, nameOf: (i: number) => string, uuidOf: (i: number) => string }} o
 */
export async function prefillHistory(o) {
  const { History } = await import(pathToFileURL(join(o.root, "dist", "history", "index.js")).href);
  const h = new History({ intervalS: o.intervalS, dir: o.dir, journal: false });
  mkdirSync(o.dir, { recursive: true });
  await h.open();
  const now = Date.now();
  const sample = (wallMs) => ({
    wallMs,
    intervalS: o.intervalS,
    problems: [],
    domains: Array.from({ length: o.vms }, (_, i) => ({
      domain: {
        name: o.nameOf(i),
        uuid: o.uuidOf(i),
        id: null,
        state: "running",
        vcpuCurrent: o.vcpus,
        vcpuMaximum: o.vcpus,
        pid: 1,
        source: "qemu",
      },
      intervalS: o.intervalS,
      vcpus: Array.from({ length: o.vcpus }, (_, v) => ({
        vcpu: v,
        tid: v,
        usage: Math.random(),
        delay: Math.random() / 4,
        throttled: 0,
        contention: 0,
      })),
    })),
  });
  for (let t = now - 7 * 86_400_000; t < now - 3_600_000; t += 600_000) h.record(sample(t));
  for (let t = now - 3_600_000; t < now - 10_000; t += o.intervalS * 1000) h.record(sample(t));
  const r = await h.flush();
  h.close();
  if (!r.ok) throw new Error(`could not write the history: ${r.error}`);
}
