import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeE2E } from "./env.js";
import { startAgent, testbed, type RunningAgent } from "./virsh.js";

function agentIn(dir: string): Promise<RunningAgent> {
  return startAgent(["--interval", "1", "--source", "libvirt", "--history.dir", dir]);
}

interface Series {
  domain: string;
  points: Array<{ t: number; delay: number }>;
}

describeE2E("agent history survives kill -9", () => {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-history-"));
  let agent: RunningAgent | null = null;

  beforeAll(() => {
    testbed("up", "3");
  });
  afterAll(() => {
    void agent?.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("loses at most the last minute after kill -9, and sets a damaged file aside", async () => {
    let a = (agent = await agentIn(dir));
    await a.sweeps(6);
    const before = (await (await fetch(`${a.url}/api/v1/history?domain=vsteal-test-1&from=now-10m`)).json()) as {
      series: Series[];
    };
    const lastBefore = Math.max(...before.series[0]!.points.map((p) => p.t));
    expect(before.series[0]!.points.length).toBeGreaterThanOrEqual(4);
    await a.stop("SIGKILL");

    a = agent = await agentIn(dir);
    await a.sweeps(1);
    const after = (await (await fetch(`${a.url}/api/v1/history?domain=vsteal-test-1&from=now-10m`)).json()) as {
      series: Series[];
    };
    const times = after.series[0]!.points.map((p) => p.t);
    // Everything recorded before the kill is back (the journal is written on every sample).
    for (const p of before.series[0]!.points) expect(times).toContain(p.t);
    expect(Math.max(...times)).toBeGreaterThanOrEqual(lastBefore);
    await a.stop("SIGTERM");

    // A damaged snapshot: reported, set aside, the agent starts anyway.
    const snap = readdirSync(dir).find((f) => f.endsWith(".snapshot"))!;
    writeFileSync(join(dir, snap), "garbage, not a snapshot");
    a = agent = await agentIn(dir);
    await a.sweeps(1);
    expect(a.stderr()).toMatch(/damaged.*set aside/);
    expect(readdirSync(dir).some((f) => f.includes(".corrupt-"))).toBe(true);
  });
});
