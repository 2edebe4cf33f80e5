/**
 * The disk filling while the agent persists its history: a 2 MiB tmpfs as --history.dir, almost
 * filled before the agent starts. The agent must keep sampling and serving, say what failed,
 * and start again afterwards from what is on disk (loaded, or set aside with a report), with
 * the disk still full and once it has room again.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { health, sleep, spawnAgent, waitHealth, type AgentProcess } from "./agent.js";
import { describeIf, rootMissing } from "./env.js";
import { FakeVm, fakeName } from "./fake-qemu.js";

interface HistoryReply {
  series: Array<{ domain: string; vcpu: number; points: unknown[] }>;
}

async function points(agent: AgentProcess, domain: string): Promise<number> {
  const r = await fetch(`${agent.url}/api/v1/history?domain=${encodeURIComponent(domain)}&vcpu=0&from=now-30m`);
  expect(r.status).toBe(200);
  const body = (await r.json()) as HistoryReply;
  return body.series.reduce((a, s) => a + s.points.length, 0);
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(200)) if (check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

describeIf(rootMissing)("the disk filling while history is persisted (2 MiB tmpfs, root)", () => {
  let mnt = "";
  let mounted = false;
  let vm: FakeVm;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    mnt = mkdtempSync(join(tmpdir(), "vsteal-rel-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", mnt]);
    mounted = true;
    // 400 vCPUs: about 4 KB of journal a second, plus ~30 KB for the first frame's series names.
    vm = await FakeVm.start({ name: fakeName("full"), vcpus: 400 });
  });

  afterAll(async () => {
    for (const a of agents) await a.stop("SIGKILL");
    await vm?.kill();
    if (mounted) execFileSync("umount", [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  const start = async (): Promise<AgentProcess> => {
    const a = await spawnAgent([
      "--source",
      "qemu",
      "--interval",
      "1",
      "--discovery-interval",
      "5",
      "--history.dir",
      join(mnt, "history"),
    ]);
    agents.push(a);
    await waitHealth(a.url, (h) => h.sweeps >= 2, "2 sweeps");
    return a;
  };

  it(
    "keeps sampling and serving, reports the error, and restarts from an uncorrupted history",
    { timeout: 240_000 },
    async () => {
      mkdirSync(join(mnt, "history"));
      // Leave 48 KiB free.
      writeFileSync(join(mnt, "filler"), Buffer.alloc(2 * 1024 * 1024 - 48 * 1024));

      // 1. The disk fills under a running agent.
      const a1 = await start();
      await waitFor(() => /ENOSPC/.test(a1.stderr()), "an ENOSPC report", 90_000);
      expect(a1.stderr()).toMatch(/warning: history journal: could not append to the journal: .*ENOSPC/);
      const h0 = await health(a1.url);
      await waitHealth(a1.url, (h) => h.sweeps >= h0.sweeps + 3, "3 more sweeps with the disk full");
      const m = await fetch(`${a1.url}/metrics`);
      expect(m.status).toBe(200);
      expect(await m.text()).toContain(`domain="${vm.name}"`);
      const inMemory = await points(a1, vm.name);
      expect(inMemory).toBeGreaterThan(3);
      const enospcLines = a1
        .stderr()
        .split("\n")
        .filter((l) => /ENOSPC/.test(l)).length;
      expect(await a1.stop()).toBe(0);
      // The snapshot at exit cannot be written either: said, not fatal.
      expect(a1.stderr()).toMatch(/history not saved|could not write the snapshot/);
      expect(a1.stderr()).not.toMatch(/\n\s+at /);

      // 2. Restart with the disk still full: what is on disk loads (or is set aside, reported).
      const a2 = await start();
      const loaded2 = /history in .*: (\d+) series loaded/.exec(a2.stderr());
      expect(loaded2, a2.stderr()).not.toBeNull();
      expect(Number(loaded2![1])).toBeGreaterThanOrEqual(vm.vcpus);
      const after2 = await points(a2, vm.name);
      expect(after2).toBeGreaterThan(0);
      expect(await a2.stop()).toBe(0);

      // 3. Room again: the next run loads, and saves a snapshot at exit.
      rmSync(join(mnt, "filler"));
      const a3 = await start();
      expect(Number(/(\d+) series loaded/.exec(a3.stderr())?.[1] ?? 0)).toBeGreaterThanOrEqual(vm.vcpus);
      expect(await points(a3, vm.name)).toBeGreaterThan(0);
      expect(await a3.stop()).toBe(0);
      expect(a3.stderr()).not.toMatch(/history not saved/);
      const a4 = await start();
      expect(a4.stderr()).not.toMatch(/damaged|set aside/);
      expect(Number(/(\d+) series loaded/.exec(a4.stderr())?.[1] ?? 0)).toBeGreaterThanOrEqual(vm.vcpus);
      expect(await a4.stop()).toBe(0);

      const files = readdirSync(join(mnt, "history")).sort();
      console.info(
        `disk full: ${inMemory} points of ${vm.name} vCPU 0 kept in memory while full; ${enospcLines} ENOSPC lines in ${h0.sweeps} s; ` +
          `restart on a full disk loaded ${loaded2![1]} series; files at the end: ${files.join(", ")}`,
      );
      for (const a of [a1, a2, a3, a4]) {
        for (const line of a
          .stderr()
          .split("\n")
          .filter((l) => /history|ENOSPC|damaged/.test(l))
          .slice(0, 6))
          console.info(`  ${line.slice(0, 240)}`);
      }
    },
  );
});
