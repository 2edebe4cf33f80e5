// Loads the benchmark's synthetic fleet into Prometheus and VictoriaMetrics and keeps both up,
// for measuring queries by hand: prints {"time": eval_s, "prometheus": url, "victoria-metrics": url}
// and runs until killed. Every query should be evaluated at `time` (the data end there).
//   npx tsx scripts/bench/fleet-hold.ts [--hosts 1000] [--vms 40] [--window 300]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fleetShape, scrapeTimes } from "./fleet-data.js";
import { prometheusFromBlocks, victoriaMetricsImported } from "./fleet-engines.js";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "1000" },
    vms: { type: "string", default: "40" },
    window: { type: "string", default: "300" },
  },
});
const windowS = Number(values.window);
const shape = fleetShape({ hosts: Number(values.hosts), vms: Number(values.vms), seed: 1 });
const dir = mkdtempSync(join(tmpdir(), "vsteal-bench-hold-"));
const nowS = Math.floor(Date.now() / 1000);
const times = scrapeTimes(nowS - windowS - 120, nowS, 60);
const prom = await prometheusFromBlocks(shape, times, join(dir, "prom"));
const vm = await victoriaMetricsImported(shape, times, join(dir, "vm"));
console.log(
  JSON.stringify({
    time: times[times.length - 1],
    prometheus: prom.url,
    "victoria-metrics": vm.url,
    vcpus: shape.vcpus,
  }),
);
const stop = async () => {
  await Promise.all([prom.stop(), vm.stop()]);
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
setInterval(() => {}, 1 << 30);
