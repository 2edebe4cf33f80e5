/**
 * VMs that come and go while the sampler sweeps, vCPU threads that exit, and thread ids that
 * are reused: real processes (fake-qemu.c, found by the real qemu source in the real /proc),
 * the library's Sampler with discovery on every sample.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { computeRates } from "../../src/collect/rates.js";
import { Sampler } from "../../src/collect/sampler.js";
import type { RatesSample, Sample } from "../../src/model/types.js";
import { QemuSource } from "../../src/sources/qemu.js";
import { ROOT } from "../e2e/virsh.js";
import { byMode, describeIf, MODE, rootMissing } from "./env.js";
import { FakeVm, OnlyOurs, fakeName, fakeQemuBinary, killAll } from "./fake-qemu.js";

/** Every rate of every vCPU is a number in [0, 1], throttled ≤ delay, contention ≥ 0. */
function expectSaneRates(r: RatesSample): void {
  for (const d of r.domains) {
    for (const v of d.vcpus) {
      for (const k of ["usage", "delay", "throttled", "contention"] as const) {
        const x = v[k];
        if (!(Number.isFinite(x) && x >= 0 && x <= 1)) throw new Error(`${d.domain.name} vCPU ${v.vcpu}: ${k} = ${x}`);
      }
      expect(v.throttled).toBeLessThanOrEqual(v.delay);
      expect(v.usage + v.delay).toBeLessThanOrEqual(1 + 1e-9);
    }
  }
}

/** vCPU numbers sampled per domain name. */
function sampled(s: Sample): Map<string, number[]> {
  return new Map(s.domains.filter((d) => d.vcpus.length > 0).map((d) => [d.domain.name, d.vcpus.map((v) => v.vcpu)]));
}

/** A small deterministic generator, so that a failing cycle can be replayed from the seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

const live = new Set<FakeVm>();
const samplers: Sampler[] = [];

afterEach(async () => {
  for (const s of samplers.splice(0)) s.close();
  await killAll(live);
  live.clear();
});

describe(`VMs created and destroyed during sweeps (${MODE})`, () => {
  it(
    "never throws, never gives a rate outside [0, 1], and counts exactly the vCPUs of the VMs alive",
    { timeout: byMode(120_000, 600_000) },
    async () => {
      const cycles = byMode(5, 100);
      const seed = Number(process.env.VSTEAL_RELIABILITY_SEED ?? Date.now() % 1_000_000);
      const rand = rng(seed);
      const prefix = `rel-fake-churn-${process.pid}-`;
      const sampler = new Sampler({ source: new OnlyOurs(new QemuSource(), prefix), discoveryIntervalMs: 0 });
      samplers.push(sampler);
      let prev = await sampler.sample();
      let samples = 0;
      let problems = 0;
      const startOne = async (): Promise<void> => {
        const busy =
          [...live].filter((v) => v.child.spawnargs.includes("-vsteal-busy")).length < 2 && rand() < 0.5 ? 20 : 0;
        const vm = await FakeVm.start({ name: fakeName("churn"), vcpus: 1 + Math.floor(rand() * 4), busy });
        live.add(vm);
      };
      const step = (s: Sample): void => {
        samples++;
        problems += s.problems.length;
        expectSaneRates(computeRates(prev, s));
        prev = s;
      };
      for (let c = 0; c < cycles; c++) {
        const context = `seed ${seed}, cycle ${c}`;
        // Start 0-2 VMs, kill 0-2: some reaped before the sweep, some dying during it.
        const starts = live.size < 2 ? 2 : Math.floor(rand() * 3);
        for (let i = 0; i < starts && live.size < 6; i++) await startOne();
        const victims = [...live].filter(() => rand() < 0.35).slice(0, 2);
        const dying: Promise<void>[] = [];
        for (const v of victims) {
          live.delete(v);
          if (rand() < 0.5) await v.kill(true);
          else dying.push(v.kill(false).then(() => v.exited));
        }
        // Sweeps while processes die: first through the kept descriptors only (the dead VMs'
        // reads fail), then with discovery. No exception, sane rates.
        step(sampler.sweep());
        step(await sampler.sample());
        step(await sampler.sample());
        await Promise.all(dying);
        // Once every death is reaped: exactly the vCPUs of the VMs alive, nothing of the dead.
        const s = await sampler.sample();
        step(s);
        const want = new Map([...live].map((v) => [v.name, Array.from({ length: v.vcpus }, (_, i) => i)]));
        expect(sampled(s), context).toEqual(want);
        expect(sampler.threadCount, context).toBe([...live].reduce((a, v) => a + v.vcpus, 0));
        for (const v of victims)
          expect(
            s.domains.find((d) => d.domain.name === v.name),
            context,
          ).toBeUndefined();
      }
      console.info(
        `churn (${MODE}): ${cycles} cycles, ${samples} samples, ${problems} problems reported (vanished threads), seed ${seed}`,
      );
    },
  );
});

describe("vCPU threads that exit", () => {
  it("a vCPU thread that exits (unplug) is reported and dropped; the others go on being sampled", async () => {
    const prefix = `rel-fake-unplug-${process.pid}-`;
    const vm = await FakeVm.start({ name: fakeName("unplug"), vcpus: 4, busy: 5 });
    live.add(vm);
    const sampler = new Sampler({ source: new OnlyOurs(new QemuSource(), prefix), discoveryIntervalMs: 3_600_000 });
    samplers.push(sampler);
    const s1 = await sampler.sample();
    expect(sampled(s1).get(vm.name)).toEqual([0, 1, 2, 3]);
    const gone = await vm.unplug();
    expect(gone.vcpu).toBe(3);
    // No discovery in between: the kept descriptor of the exited thread is what notices.
    const s2 = sampler.sweep();
    expect(sampled(s2).get(vm.name)).toEqual([0, 1, 2]);
    expect(s2.problems).toEqual([
      expect.objectContaining({
        domain: vm.name,
        vcpu: 3,
        tid: gone.tid,
        message: expect.stringMatching(/gone \(ESRCH\); dropped/),
      }),
    ]);
    expect(sampler.threadCount).toBe(3);
    expect(sampler.discoveryDue).toBe(true); // a vanished thread asks for a new discovery
    expectSaneRates(computeRates(s1, s2));
    const s3 = await sampler.sample();
    expect(s3.problems).toEqual([]);
    expect(sampled(s3).get(vm.name)).toEqual([0, 1, 2]);
    expect(s3.domains.find((d) => d.domain.name === vm.name)?.domain.vcpuCurrent).toBe(3);
  });

  it("a killed VM: every kept descriptor fails, each vCPU is reported once and dropped, nothing is read for it", async () => {
    const prefix = `rel-fake-killed-${process.pid}-`;
    const keep = await FakeVm.start({ name: fakeName("killed"), vcpus: 2 });
    const victim = await FakeVm.start({ name: fakeName("killed"), vcpus: 3 });
    live.add(keep).add(victim);
    const sampler = new Sampler({ source: new OnlyOurs(new QemuSource(), prefix), discoveryIntervalMs: 3_600_000 });
    samplers.push(sampler);
    const s1 = await sampler.sample();
    expect(sampled(s1)).toEqual(
      new Map([
        [keep.name, [0, 1]],
        [victim.name, [0, 1, 2]],
      ]),
    );
    live.delete(victim);
    await victim.kill();
    const s2 = sampler.sweep();
    expect(sampled(s2)).toEqual(new Map([[keep.name, [0, 1]]]));
    expect(s2.problems.map((p) => [p.domain, p.vcpu])).toEqual([
      [victim.name, 0],
      [victim.name, 1],
      [victim.name, 2],
    ]);
    for (const p of s2.problems) expect(p.message).toMatch(/ESRCH/);
    expect(sampler.threadCount).toBe(2);
    // Reported once: the next sweep says nothing more about it.
    expect(sampler.sweep().problems).toEqual([]);
    const s3 = await sampler.sample();
    expect(s3.domains.map((d) => d.domain.name)).toEqual([keep.name]);
  });
});

/**
 * The guarantee the sampler rests on: a descriptor kept open on /proc/PID/task/TID/schedstat
 * refers to that thread (its struct pid), not to the number TID. Once the thread has exited,
 * reads fail with ESRCH, even if a new thread got the same number.
 *
 * On a host, forcing a tid to be reused would mean cycling through pid_max (4 million) while
 * other processes race for the numbers: impractical. In a private PID namespace it is exact:
 * /proc/sys/kernel/ns_last_pid (root) sets the last number handed out, so the next process
 * gets the pid and thread ids of one that just died. The test runs the sampler inside such a
 * namespace (`unshare --pid --fork --mount-proc`, its own /proc) and restarts a fake VM with
 * the same uuid, pid and vCPU thread ids: same domain key, same vCPU, same tid — only the
 * kernel can tell the two apart, and it does.
 */
const unshareMissing =
  rootMissing ?? (existsSync("/proc/sys/kernel/ns_last_pid") ? null : "the kernel has no /proc/sys/kernel/ns_last_pid");
describeIf(unshareMissing)("thread ids reused (private PID namespace, root)", () => {
  it(
    "a kept descriptor of an exited thread fails instead of reading the new thread with the same pid and tid",
    { timeout: 60_000 },
    () => {
      const dist = join(ROOT, "dist", "index.js");
      const script = `
      import { spawn } from "node:child_process";
      import { readdirSync, readFileSync, writeFileSync } from "node:fs";
      const { Sampler, QemuSource, computeRates } = await import(${JSON.stringify(dist)});
      const args = ["-name", "guest=reused,debug-threads=on", "-uuid", "6f0e3b9a-5d1c-4e2f-9a8b-7c6d5e4f3a2b", "-smp", "3"];
      const start = () => new Promise((resolve, reject) => {
        const c = spawn(${JSON.stringify(fakeQemuBinary())}, args, { stdio: ["ignore", "pipe", "inherit"] });
        c.stdout.once("data", () => resolve(c));
        c.once("error", reject);
      });
      const reap = (c) => new Promise((r) => { c.once("exit", r); c.kill("SIGKILL"); });
      const tids = (pid) => readdirSync("/proc/" + pid + "/task").map(Number).filter((t) => t !== pid).sort((a, b) => a - b);
      const plain = (s) => ({
        problems: s.problems,
        vcpus: s.domains.flatMap((d) => d.vcpus.map((v) => ({ pid: d.domain.pid, vcpu: v.vcpu, tid: v.tid, time: String(v.time) }))),
      });
      const a = await start();
      const sampler = new Sampler({ source: new QemuSource("/proc"), procRoot: "/proc", cgroupMounts: null, discoveryIntervalMs: 3600000 });
      const s1 = await sampler.sample();
      const aTids = tids(a.pid);
      await reap(a);
      let b = null, attempts = 0;
      while (!b && attempts++ < 50) {
        writeFileSync("/proc/sys/kernel/ns_last_pid", String(a.pid - 1));
        const c = await start();
        if (c.pid === a.pid && JSON.stringify(tids(c.pid)) === JSON.stringify(aTids)) b = c;
        else await reap(c);
      }
      const bTids = b ? tids(b.pid) : [];
      // The new threads are there and readable by a fresh open...
      const fresh = bTids.map((t) => readFileSync("/proc/" + b.pid + "/task/" + t + "/schedstat", "utf8").trim());
      // ...but the sampler's kept descriptors are A's.
      const s2 = sampler.sweep();
      const s3 = await sampler.sample();
      await new Promise((r) => setTimeout(r, 50));
      const s4 = await sampler.sample();
      const rates = [computeRates(s1, s2), computeRates(s2, s3), computeRates(s3, s4)].map((r) => r.domains.flatMap((d) => d.vcpus));
      console.log(JSON.stringify({ aPid: a.pid, aTids, bPid: b ? b.pid : null, bTids, attempts, fresh, s1: plain(s1), s2: plain(s2), s3: plain(s3), s4: plain(s4), rates }));
      sampler.close();
      if (b) await reap(b);
    `;
      const out = execFileSync(
        "unshare",
        ["--pid", "--fork", "--mount-proc", process.execPath, "--input-type=module", "-e", script],
        { encoding: "utf8", timeout: 50_000 },
      );
      interface V {
        pid: number;
        vcpu: number;
        tid: number;
        time: string;
      }
      interface S {
        problems: Array<{ vcpu?: number; tid?: number; message: string }>;
        vcpus: V[];
      }
      const r = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
        aPid: number;
        aTids: number[];
        bPid: number | null;
        bTids: number[];
        fresh: string[];
        s1: S;
        s2: S;
        s3: S;
        s4: S;
        rates: Array<Array<{ usage: number; delay: number }>>;
      };
      // The reuse really happened: same pid, same three vCPU thread ids, readable.
      expect(r.aTids).toHaveLength(3);
      expect(r.bPid).toBe(r.aPid);
      expect(r.bTids).toEqual(r.aTids);
      for (const f of r.fresh) expect(f).toMatch(/^\d+ \d+ \d+$/);
      expect(r.s1.vcpus.map((v) => v.tid)).toEqual(r.aTids);
      // The kept descriptors fail: nothing is read from the new threads under the old tracks.
      expect(r.s2.vcpus).toEqual([]);
      expect(r.s2.problems.map((p) => [p.vcpu, p.tid])).toEqual(r.aTids.map((t, i) => [i, t]));
      for (const p of r.s2.problems) expect(p.message).toMatch(/ESRCH/);
      // Rediscovery opens the new threads; rates restart from them (no step across the two VMs).
      expect(r.s3.problems).toEqual([]);
      expect(r.s3.vcpus.map((v) => v.tid)).toEqual(r.aTids);
      expect(r.rates[0]).toEqual([]);
      expect(r.rates[1]).toEqual([]);
      expect(r.rates[2]).toHaveLength(3);
    },
  );
});

afterAll(() => {
  expect(live.size).toBe(0);
});
