#!/usr/bin/env node
// One snapshot + plan from a Prometheus-compatible URL with the built code (dist/), timed in
// process: prints {snapshotMs, planMs, maxRssMb, bytes, queries, vms, moves} as JSON.
//   node scripts/bench/fleet-probe.mjs URL [WINDOW_S]
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist");
const { PrometheusClient } = await import(join(dist, "fleet", "prom-client.js"));
const { buildSnapshot } = await import(join(dist, "fleet", "snapshot-builder.js"));
const { parsePlanOptions } = await import(join(dist, "planner", "options.js"));
const { planValidated } = await import(join(dist, "planner", "plan.js"));
const { parseSnapshot } = await import(join(dist, "model", "fleet.js"));

const [url, windowArg] = process.argv.slice(2);
let bytes = 0;
// Counts the bytes as the client pulls them, reading no further ahead than it does (the
// TransformStream used here before showed peaks far above those of the whole CLI process).
const counting = async (input, init) => {
  const r = await fetch(input, init);
  if (!r.body) return r;
  const reader = r.body.getReader();
  const body = new ReadableStream(
    {
      async pull(c) {
        const { done, value } = await reader.read();
        if (done) return c.close();
        bytes += value.byteLength;
        c.enqueue(value);
      },
      cancel: (why) => reader.cancel(why),
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: r.status, statusText: r.statusText, headers: r.headers });
};
const client = new PrometheusClient({ url, fetch: counting, timeoutMs: 600_000, maxConcurrency: 4 }); // as the CLI and the controller
const t0 = performance.now();
const built = await buildSnapshot(client, { windowS: Number(windowArg ?? 300), staleAfterS: 3600 });
const t1 = performance.now();
const plan = planValidated(parseSnapshot(built.snapshot), parsePlanOptions({}));
const t2 = performance.now();
console.log(
  JSON.stringify({
    snapshotMs: t1 - t0,
    planMs: t2 - t1,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    bytes,
    queries: built.queries,
    vms: built.snapshot.vms.length,
    moves: plan.moves.length,
  }),
);
