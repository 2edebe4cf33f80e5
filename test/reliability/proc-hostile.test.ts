/**
 * /proc files that hold garbage, vanish or deny access: fixture roots (test/fixtures/proc-hostile)
 * read by the real qemu source and Sampler, and counters written between sweeps carried through
 * computeRates. The sampler must report a problem for the bad thread and sample the rest.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { computeRates } from "../../src/collect/rates.js";
import { Sampler } from "../../src/collect/sampler.js";
import { sampleOnce } from "../../src/index.js";
import type { RatesSample, Sample } from "../../src/model/types.js";
import { QemuSource } from "../../src/sources/qemu.js";
import type { DomainSource } from "../../src/sources/source.js";
import { ROOT } from "../e2e/virsh.js";
import { byMode, isRoot } from "./env.js";
import { OnlyOurs } from "./fake-qemu.js";

const FIXTURE = join(ROOT, "test", "fixtures", "proc-hostile", "root");
const U64_MAX = 2n ** 64n - 1n;
const GARBAGE = "hostile-garbage";
const HEALTHY = "hostile-healthy";

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A private copy of the fixture root that a test may damage (readable by every user). */
function copyRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-rel-proc-"));
  temps.push(dir);
  chmodSync(dir, 0o755);
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

function sampler(root: string, source: DomainSource = new QemuSource(root)): Sampler {
  return new Sampler({ source, procRoot: root, cgroupMounts: null, discoveryIntervalMs: 0 });
}

function vcpusOf(s: Sample, name: string): number[] {
  return s.domains.find((d) => d.domain.name === name)?.vcpus.map((v) => v.vcpu) ?? [];
}

function problemVcpus(s: Sample, name: string): number[] {
  return s.problems.filter((p) => p.domain === name).map((p) => p.vcpu ?? -1);
}

function expectSaneRates(r: RatesSample, context: string): void {
  for (const d of r.domains) {
    for (const v of d.vcpus) {
      for (const k of ["usage", "delay", "throttled", "contention"] as const) {
        if (!(Number.isFinite(v[k]) && v[k] >= 0 && v[k] <= 1))
          throw new Error(`${context}: vCPU ${v.vcpu} ${k} = ${v[k]}`);
      }
      if (v.usage + v.delay > 1 + 1e-9)
        throw new Error(`${context}: vCPU ${v.vcpu} usage + delay = ${v.usage + v.delay}`);
    }
  }
}

describe("schedstat files holding garbage, huge numbers, -1, nothing", () => {
  it("reports each bad thread with its file and reason, and samples the rest", async () => {
    const s = sampler(FIXTURE);
    try {
      for (let round = 0; round < 3; round++) {
        const x = await s.sample();
        expect(vcpusOf(x, HEALTHY)).toEqual([0, 1, 2, 3]);
        // (vCPU 7, longer than the read buffer, has a test of its own below.)
        expect(vcpusOf(x, GARBAGE).filter((v) => v !== 7)).toEqual([0, 1, 8]);
        expect(problemVcpus(x, GARBAGE).filter((v) => v !== 7)).toEqual([2, 3, 4, 5, 6, 9, 10, 11]);
        const g = x.domains.find((d) => d.domain.name === GARBAGE)!;
        expect(g.vcpus.find((v) => v.vcpu === 1)).toMatchObject({ time: U64_MAX, delay: U64_MAX, slices: U64_MAX });
        expect(g.vcpus.find((v) => v.vcpu === 8)).toMatchObject({ time: 42n, delay: 43n, slices: 44n });
        for (const p of x.problems) expect(p.message).toMatch(/\/7100\/task\/71\d\d\/schedstat: /);
        expect(x.problems.find((p) => p.vcpu === 2)?.message).toMatch(/larger than 2\^64-1/);
      }
    } finally {
      s.close();
    }
  });

  it("a schedstat longer than the read buffer, garbage after byte 128, is refused, not parsed on its first bytes", async () => {
    // vCPU 7 holds "1 2 3", 140 spaces, "4": parseSchedstat refuses it; the sampler must too.
    const s = sampler(FIXTURE);
    try {
      const x = await s.sample();
      expect(vcpusOf(x, GARBAGE)).not.toContain(7);
      expect(problemVcpus(x, GARBAGE)).toContain(7);
    } finally {
      s.close();
    }
  });

  it("the library's one-shot sample (what domstats --source qemu does) with such a root", async () => {
    const x = await sampleOnce({ source: "qemu", procRoot: FIXTURE });
    expect(vcpusOf(x, HEALTHY)).toEqual([0, 1, 2, 3]);
    expect(vcpusOf(x, GARBAGE)).toEqual(expect.arrayContaining([0, 1, 8]));
    expect(problemVcpus(x, GARBAGE)).toEqual(expect.arrayContaining([2, 3, 4, 5, 6, 9, 10, 11]));
  });
});

describe("task directories that vanish between discovery and the sampler's open", () => {
  it("reports the vanished thread and process, samples the rest, and forgets them at the next discovery", async () => {
    const root = copyRoot();
    let damaged = false;
    // Discovery has listed the threads; they vanish before the sampler opens their files.
    // (Once a descriptor is open a vanished thread fails on read with ESRCH: a real-/proc
    // behaviour a fixture on a normal file system cannot show; churn.test.ts covers it with
    // real processes.)
    const source = new OnlyOurs(new QemuSource(root), "hostile-", () => {
      if (damaged) return;
      damaged = true;
      rmSync(join(root, "7200", "task", "7203"), { recursive: true });
      rmSync(join(root, "7100"), { recursive: true });
    });
    const s = sampler(root, source);
    try {
      const x = await s.sample();
      expect(vcpusOf(x, HEALTHY)).toEqual([0, 1, 3]);
      expect(vcpusOf(x, GARBAGE)).toEqual([]);
      expect(x.problems.filter((p) => p.domain === HEALTHY)).toEqual([
        {
          domain: HEALTHY,
          vcpu: 2,
          tid: 7203,
          message: expect.stringMatching(/cannot open .*\/7200\/task\/7203\/schedstat: no such file \(ENOENT\)/),
        },
      ]);
      expect(problemVcpus(x, GARBAGE)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      const y = await s.sample();
      expect(y.problems).toEqual([]);
      expect(vcpusOf(y, HEALTHY)).toEqual([0, 1, 3]);
      expect(y.domains.map((d) => d.domain.name)).toEqual([HEALTHY]);
      expect(y.domains[0]?.domain.vcpuCurrent).toBe(3);
    } finally {
      s.close();
    }
  });
});

describe("files that deny access (chmod 000)", () => {
  // Root ignores file modes: as root, the sampler runs in a child process as nobody.
  it(
    `reports the unreadable thread and samples the rest${isRoot ? " (run as nobody)" : ""}`,
    { timeout: 30_000 },
    () => {
      const root = copyRoot();
      chmodSync(join(root, "7200", "task", "7202", "schedstat"), 0);
      chmodSync(join(root, "7200", "task", "7204"), 0);
      const dist = join(ROOT, "dist", "index.js");
      const script = `
      const { Sampler, QemuSource } = await import(${JSON.stringify(dist)});
      const root = ${JSON.stringify(root)};
      const s = new Sampler({ source: new QemuSource(root), procRoot: root, cgroupMounts: null, discoveryIntervalMs: 0 });
      const out = [];
      for (let i = 0; i < 2; i++) {
        const x = await s.sample();
        out.push({
          problems: x.problems.filter((p) => p.domain === ${JSON.stringify(HEALTHY)}),
          vcpus: x.domains.find((d) => d.domain.name === ${JSON.stringify(HEALTHY)})?.vcpus.map((v) => v.vcpu) ?? [],
          vcpuCurrent: x.domains.find((d) => d.domain.name === ${JSON.stringify(HEALTHY)})?.domain.vcpuCurrent,
        });
      }
      s.close();
      console.log(JSON.stringify(out));
    `;
      const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        cwd: "/",
        ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      const rounds = JSON.parse(out) as Array<{
        problems: Array<{ vcpu?: number; tid?: number; message: string }>;
        vcpus: number[];
        vcpuCurrent: number;
      }>;
      for (const r of rounds) {
        expect(r.vcpus).toEqual([0, 2]);
        // vCPU 1: schedstat unreadable. vCPU 3: its whole task directory is unreadable, so not
        // even its name can be read: it must be reported too, not silently left out.
        expect(r.problems.find((p) => p.vcpu === 1 && p.tid === 7202)?.message).toMatch(
          /cannot open .*7202\/schedstat: permission denied \(EACCES\)/,
        );
        const dir = r.problems.filter((p) => p.tid === 7204 || /7204/.test(p.message));
        expect(
          dir,
          `no problem reported for thread 7204 (task dir mode 000); problems: ${JSON.stringify(r.problems)}`,
        ).toHaveLength(1);
        expect(dir[0]?.message).toMatch(/EACCES/);
      }
    },
  );
});

describe("counters through the fixture root into computeRates", () => {
  const files = (root: string) =>
    [7201, 7202, 7203, 7204].map((tid) => join(root, "7200", "task", String(tid), "schedstat"));
  /** Rewrites the counters in place (same inode), as the kernel does: the kept descriptors see them. */
  const write = (root: string, contents: string[]) =>
    files(root).forEach((f, i) => writeFileSync(f, contents[i] ?? ""));
  const triple = (t: bigint, d: bigint, n = 1n) => `${t} ${d} ${n}\n`;

  it("a jump to 2^64-1, a wrap to 0, a value near 2^64, garbage in between: never NaN, negative or above 1", async () => {
    const root = copyRoot();
    const s = sampler(root, new OnlyOurs(new QemuSource(root), HEALTHY));
    try {
      const steps: string[][] = [
        [triple(0n, 0n), triple(U64_MAX - 10n ** 9n, 0n), triple(5n, 5n), triple(1n, 1n)],
        [triple(U64_MAX, 0n), triple(U64_MAX, 0n), triple(5n, 5n), "garbage\n"],
        [triple(0n, 0n), triple(U64_MAX, 10n ** 9n), triple(2n ** 64n, 0n), triple(2n, 2n)],
        [triple(10n ** 6n, 0n), "-1 -1 -1\n", triple(6n, 6n), triple(3n, 3n)],
      ];
      let prev = await s.sample();
      const rates: RatesSample[] = [];
      for (const [i, contents] of steps.entries()) {
        write(root, contents);
        const cur = await s.sample();
        const r = computeRates(prev, cur);
        expectSaneRates(r, `step ${i}`);
        rates.push(r);
        prev = cur;
      }
      const v = (r: RatesSample | undefined, vcpu: number) => r?.domains[0]?.vcpus.find((x) => x.vcpu === vcpu);
      // 0 → 2^64-1 ns in a few ms: the whole interval, no more.
      expect(v(rates[1], 0)?.usage).toBe(1);
      // 2^64-1 → 0: a reset (the thread was replaced), no rate rather than a negative one.
      expect(v(rates[2], 0)).toBeUndefined();
      // vCPU 1 near 2^64: reads, then 2^64 exactly is refused and reported.
      expect(v(rates[1], 1)?.delay).toBe(0);
      expect(rates[2]?.problems.map((p) => p.vcpu)).toContain(2);
      // Garbage for vCPU 3 in step 1: reported, dropped, back once valid.
      expect(rates[1]?.problems.map((p) => p.vcpu)).toContain(3);
      expect(v(rates[3], 3)).toBeDefined();
    } finally {
      s.close();
    }
  });

  it(
    "any sequence of counter files (valid, huge, wrapping or garbage): rates stay in [0, 1]",
    { timeout: byMode(60_000, 600_000) },
    async () => {
      const root = copyRoot();
      const s = sampler(root, new OnlyOurs(new QemuSource(root), HEALTHY));
      const u64 = fc.oneof(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.bigInt({ min: U64_MAX - 10n ** 12n, max: U64_MAX }),
        fc.bigInt({ min: 0n, max: U64_MAX }),
        fc.constantFrom(0n, 1n, 2n ** 53n, 2n ** 63n, U64_MAX),
      );
      const content = fc.oneof(
        { weight: 6, arbitrary: fc.tuple(u64, u64, u64).map(([a, b, c]) => triple(a, b, c)) },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            "",
            "abc\n",
            "-1 0 0\n",
            `${2n ** 64n} 0 0\n`,
            "1 2\n",
            "NaN NaN NaN\n",
            "1e3 1 1\n",
            "\u0000\u0000\u0000",
          ),
        },
        { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
      );
      let runs = 0;
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.array(content, { minLength: 4, maxLength: 4 }), { minLength: 2, maxLength: 6 }),
            async (rounds) => {
              runs++;
              let prev = await s.sample();
              for (const [i, contents] of rounds.entries()) {
                write(root, contents);
                const cur = await s.sample();
                expectSaneRates(computeRates(prev, cur), `round ${i}`);
                prev = cur;
              }
            },
          ),
          { numRuns: byMode(40, 500) },
        );
      } finally {
        s.close();
      }
      expect(runs).toBeGreaterThan(0);
    },
  );
});
