import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { makeSample, wave, type DomainSpec } from "../../test/fixtures/history/samples.js";
import { crc32 } from "./crc32.js";
import { HEADER_BYTES, SNAPSHOT_MAGIC, encodeHeader } from "./file-format.js";
import { History, JOURNAL_FILE, SNAPSHOT_FILE, type HistoryOptions } from "./history.js";
import { type HistoryIo, nodeIo } from "./io.js";
import { Q_SCALE } from "./quantize.js";
import type { HistoryProblem, HistorySeries } from "./types.js";

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);
const DOMS: DomainSpec[] = [
  { name: "kvm-a", vcpus: 8 },
  { name: "kvm-b", vcpus: 4 },
];
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "vsteal-history-"));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Opened {
  h: History;
  clock: { t: number };
  problems: HistoryProblem[];
}

function make(dir: string, opts: Partial<HistoryOptions> = {}): Opened {
  const clock = { t: T0 };
  const problems: HistoryProblem[] = [];
  const h = new History({ intervalS: 5, dir, now: () => clock.t, onError: (p) => problems.push(p), ...opts });
  return { h, clock, problems };
}

/** Records samples first..last (index i at T0 + 5 s · i). */
function fill(o: Opened, first: number, last: number): void {
  for (let i = first; i <= last; i++) {
    o.clock.t = T0 + i * 5000;
    o.h.record(makeSample(o.clock.t, DOMS, (d, v) => wave(i, d, v)));
  }
}

const everything = (h: History, tier: "raw" | "10m"): HistorySeries[] => h.query({ fromMs: 0, toMs: 8.64e15, tier });

function corruptFiles(dir: string, name: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(`${name}.corrupt-`));
}

describe("History persistence", () => {
  it("round-trips through a snapshot exactly, both tiers and the open bucket", async () => {
    const dir = tempDir();
    const a = make(dir);
    await a.h.open();
    fill(a, 0, 900); // wraps the raw ring, fills 15 buckets
    const r = await a.h.flush();
    expect(r.ok).toBe(true);
    a.h.close();

    const b = make(dir);
    b.clock.t = a.clock.t;
    const rep = await b.h.open();
    expect(rep.problems).toEqual([]);
    expect(rep.snapshot.status).toBe("loaded");
    expect(rep.snapshot.series).toBe(12);
    expect(rep.snapshot.rawPoints).toBe(720);
    expect(rep.journal.samplesReplayed).toBe(0);
    expect(everything(b.h, "raw")).toEqual(everything(a.h, "raw"));
    expect(everything(b.h, "10m")).toEqual(everything(a.h, "10m"));
    expect(b.h.domainsSeen()).toEqual(a.h.domainsSeen());
    // and it carries on where it stopped: bucket means stay exact across the restart
    fill(a, 901, 1000);
    fill(b, 901, 1000);
    expect(everything(b.h, "10m")).toEqual(everything(a.h, "10m"));
    b.h.close();
  });

  it("replays the journal: samples after the last snapshot survive without close() or flush()", async () => {
    const dir = tempDir();
    const a = make(dir);
    await a.h.open();
    fill(a, 0, 99);
    expect((await a.h.flush()).ok).toBe(true);
    fill(a, 100, 150);
    // no flush, no close: as if killed. The journal was written with synchronous writes.
    const b = make(dir);
    b.clock.t = a.clock.t;
    const rep = await b.h.open();
    expect(rep.problems).toEqual([]);
    expect(rep.snapshot.status).toBe("loaded");
    expect(rep.journal.status).toBe("loaded");
    expect(rep.journal.samplesReplayed).toBe(51);
    expect(rep.lastSampleMs).toBe(T0 + 150 * 5000);
    expect(everything(b.h, "raw")).toEqual(everything(a.h, "raw"));
    expect(everything(b.h, "10m")).toEqual(everything(a.h, "10m"));
    a.h.close();
    b.h.close();
  });

  it("snapshots on its own every snapshotIntervalS and starts a new journal after each", async () => {
    const dir = tempDir();
    const a = make(dir, { snapshotIntervalS: 60 });
    await a.h.open();
    fill(a, 0, 30);
    // let the snapshots started from record() finish
    for (let k = 0; k < 50 && fs.existsSync(join(dir, `${SNAPSHOT_FILE}.tmp`)); k++)
      await new Promise((r) => setTimeout(r, 20));
    await a.h.flush();
    a.h.close();
    const b = make(dir);
    const rep = await b.h.open();
    expect(rep.snapshot.status).toBe("loaded");
    expect(rep.lastSampleMs).toBe(T0 + 30 * 5000);
    expect(rep.journal.samplesAlreadyInSnapshot).toBe(0);
    expect(everything(b.h, "raw")).toEqual(everything(a.h, "raw"));
    b.h.close();
  });

  it("keeps samples recorded while a snapshot is being written", async () => {
    const dir = tempDir();
    const a = make(dir);
    await a.h.open();
    fill(a, 0, 50);
    const pending = a.h.flush();
    fill(a, 51, 60); // queued until the snapshot is written, and journaled twice over
    expect((await pending).ok).toBe(true);
    expect(everything(a.h, "raw")[0]?.points.length).toBe(61);
    const b = make(dir);
    const rep = await b.h.open();
    expect(rep.journal.samplesReplayed).toBe(10);
    expect(everything(b.h, "raw")).toEqual(everything(a.h, "raw"));
    a.h.close();
    b.h.close();
  });

  it("keeps samples recorded while open() is still loading, and journals them", async () => {
    const dir = tempDir();
    const a = make(dir);
    await a.h.open();
    fill(a, 0, 30);
    a.h.close();
    const b = make(dir);
    const opening = b.h.open();
    fill(b, 25, 40); // 25..30 are already on disk: dropped; 31..40 are new
    const rep = await opening;
    expect(rep.journal.samplesReplayed).toBe(31);
    expect(everything(b.h, "raw")[0]?.points.length).toBe(41);
    b.h.close();
    const c = make(dir);
    expect((await c.h.open()).journal.samplesReplayed).toBe(41);
    c.h.close();
  });

  it("loads only the most recently written maxSeries series of a bigger snapshot", async () => {
    const dir = tempDir();
    const a = make(dir, { journal: false });
    await a.h.open();
    fill(a, 0, 3); // 12 series
    a.clock.t = T0 + 4 * 5000;
    a.h.record(
      makeSample(a.clock.t, [{ name: "kvm-b", uuid: "00000000-0000-4000-8000-000000000001", vcpus: 4 }], (d, v) =>
        wave(4, d, v),
      ),
    );
    await a.h.flush();
    a.h.close();
    const b = make(dir, { journal: false, maxSeries: 4 });
    const rep = await b.h.open();
    expect(rep.snapshot.status).toBe("loaded");
    expect(rep.snapshot.series).toBe(4);
    expect(b.h.domainsSeen().map((d) => d.domain)).toEqual(["kvm-b"]);
    expect(rep.problems.map((p) => p.message).join()).toMatch(/8 written longest ago were dropped/);
    b.h.close();
  });

  it("in memory only: flush() says so and open() reports nothing to load", async () => {
    const h = new History({ intervalS: 5 });
    const rep = await h.open();
    expect(rep.snapshot.status).toBe("disabled");
    expect(await h.flush()).toMatchObject({ ok: true, skipped: expect.stringMatching(/memory only/) });
    h.close();
  });

  it("works without a journal, and with a different interval after a restart", async () => {
    const dir = tempDir();
    const a = make(dir, { journal: false });
    await a.h.open();
    fill(a, 0, 800);
    await a.h.flush();
    a.h.close();
    expect(fs.existsSync(join(dir, JOURNAL_FILE))).toBe(false);
    const b = make(dir, { intervalS: 10, journal: false });
    const rep = await b.h.open();
    expect(rep.journal.status).toBe("disabled");
    expect(rep.snapshot.rawPoints).toBe(360); // the newest 360 of 720 fit the smaller ring
    const pa = everything(a.h, "raw")[0]?.points ?? [];
    expect(everything(b.h, "raw")[0]?.points).toEqual(pa.slice(-360));
    expect(everything(b.h, "10m")).toEqual(everything(a.h, "10m"));
    b.h.close();
  });

  it("sets a truncated snapshot aside, reports it, and starts from the journal", async () => {
    const dir = tempDir();
    const a = make(dir);
    await a.h.open();
    fill(a, 0, 40);
    await a.h.flush();
    fill(a, 41, 45);
    a.h.close();
    const path = join(dir, SNAPSHOT_FILE);
    const full = readFileSync(path);
    for (const cut of [0, 7, HEADER_BYTES, HEADER_BYTES + 3, Math.floor(full.length / 2), full.length - 1]) {
      writeFileSync(path, full.subarray(0, cut));
      const b = make(dir, { keepCorrupt: 100 });
      const before = corruptFiles(dir, SNAPSHOT_FILE).length;
      const rep = await b.h.open();
      expect(rep.snapshot.status).toBe("set-aside");
      expect(rep.snapshot.reason).toMatch(/truncated|shorter|ends early/);
      expect(rep.snapshot.movedTo).toMatch(/history\.snapshot\.corrupt-\d{4}-\d\d-\d\dT/);
      expect(fs.existsSync(rep.snapshot.movedTo ?? "")).toBe(true);
      expect(corruptFiles(dir, SNAPSHOT_FILE).length).toBe(before + 1);
      expect(rep.problems.some((p) => p.message.includes("damaged"))).toBe(true);
      // the journal holds the 5 samples after the snapshot: that is what remains
      expect(rep.journal.samplesReplayed).toBe(5);
      expect(everything(b.h, "raw")[0]?.points.length).toBe(5);
      b.h.close();
      // the replayed samples were saved at once: restore the journal's old content for the next round
      writeFileSync(path, full);
    }
  });

  it("detects a flipped bit anywhere in a snapshot", async () => {
    const dir = tempDir();
    const a = make(dir, { journal: false });
    await a.h.open();
    fill(a, 0, 100);
    await a.h.flush();
    a.h.close();
    const path = join(dir, SNAPSHOT_FILE);
    const good = readFileSync(path);
    const positions = [
      0,
      9,
      17,
      25,
      29,
      HEADER_BYTES + 1,
      HEADER_BYTES + 40,
      Math.floor(good.length / 3),
      good.length - 3,
    ];
    for (const pos of positions) {
      const bad = Buffer.from(good);
      bad[pos] = (bad[pos] as number) ^ 0x10;
      writeFileSync(path, bad);
      const b = make(dir, { journal: false, keepCorrupt: 2 });
      const rep = await b.h.open();
      expect(rep.snapshot.status, `bit flip at ${pos}`).toBe("set-aside");
      expect(b.h.stats().series).toBe(0);
      b.h.close();
    }
    // only the newest keepCorrupt=2 damaged files are kept
    expect(corruptFiles(dir, SNAPSHOT_FILE).length).toBe(2);
  });

  it("never throws on any bytes as the snapshot or journal (fuzz)", async () => {
    const dir = tempDir();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2000 }),
        fc.uint8Array({ maxLength: 2000 }),
        fc.boolean(),
        async (snap, jrnl, validHeaders) => {
          // with validHeaders, the bytes get a correct header and CRC so the parser proper is fuzzed
          const s = validHeaders ? Buffer.concat([encodeHeader(SNAPSHOT_MAGIC, snap.length, crc32(snap)), snap]) : snap;
          writeFileSync(join(dir, SNAPSHOT_FILE), s);
          writeFileSync(
            join(dir, JOURNAL_FILE),
            validHeaders ? Buffer.concat([encodeHeader("VSTLJRNL", 0, 0), jrnl]) : jrnl,
          );
          const b = make(dir, { keepCorrupt: 1 });
          const rep = await b.h.open();
          expect(["set-aside", "loaded"]).toContain(rep.snapshot.status);
          expect(["set-aside", "loaded"]).toContain(rep.journal.status);
          b.h.record(makeSample(T0 + 1e12, DOMS, (d, v) => wave(0, d, v)));
          b.h.close();
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it("never throws on a real snapshot with bytes changed and the checksum fixed up (fuzz)", async () => {
    const dir = tempDir();
    const a = make(dir, { journal: false });
    await a.h.open();
    fill(a, 0, 80);
    await a.h.flush();
    a.h.close();
    const good = readFileSync(join(dir, SNAPSHOT_FILE));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(good.length - HEADER_BYTES - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async (edits) => {
          const payload = Buffer.from(good.subarray(HEADER_BYTES));
          for (const [pos, x] of edits) payload[pos] = (payload[pos] as number) ^ x;
          writeFileSync(
            join(dir, SNAPSHOT_FILE),
            Buffer.concat([encodeHeader(SNAPSHOT_MAGIC, payload.length, crc32(payload)), payload]),
          );
          const b = make(dir, { journal: false, keepCorrupt: 1 });
          const rep = await b.h.open();
          expect(["set-aside", "loaded"]).toContain(rep.snapshot.status);
          b.h.query({ fromMs: 0, toMs: 8.64e15 });
          b.h.query({ fromMs: 0, toMs: 8.64e15, tier: "raw", stepS: 60 });
          b.h.close();
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it("drops a torn last journal frame and keeps appending after the good ones", async () => {
    const dir = tempDir();
    const a = make(dir);
    await a.h.open();
    fill(a, 0, 20);
    a.h.close();
    const jp = join(dir, JOURNAL_FILE);
    fs.truncateSync(jp, fs.statSync(jp).size - 7);
    const b = make(dir);
    const rep = await b.h.open();
    expect(rep.journal.status).toBe("loaded");
    expect(rep.journal.tornBytes).toBeGreaterThan(0);
    expect(rep.journal.samplesReplayed).toBe(20);
    expect(rep.lastSampleMs).toBe(T0 + 19 * 5000);
    fill(b, 21, 30);
    b.h.close();
    const c = make(dir);
    const rep2 = await c.h.open();
    expect(rep2.problems).toEqual([]);
    expect(rep2.journal.samplesReplayed).toBe(30);
    c.h.close();
  });

  it("sets a journal with a damaged frame in the middle aside, keeping the frames before it", async () => {
    const dir = tempDir();
    const a = make(dir);
    await a.h.open();
    fill(a, 0, 20);
    a.h.close();
    const jp = join(dir, JOURNAL_FILE);
    const bytes = readFileSync(jp);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = (bytes[mid] as number) ^ 0x01;
    writeFileSync(jp, bytes);
    const b = make(dir);
    const rep = await b.h.open();
    expect(rep.journal.status).toBe("set-aside");
    expect(rep.journal.reason).toMatch(/checksum|frame/);
    expect(rep.journal.samplesReplayed).toBeGreaterThan(5);
    expect(rep.journal.samplesReplayed).toBeLessThan(21);
    expect(corruptFiles(dir, JOURNAL_FILE).length).toBe(1);
    // what was replayed was saved in a snapshot right away
    expect(rep.problems.map((p) => p.message).join("\n")).toMatch(/journal is damaged/);
    b.h.close();
    const c = make(dir);
    const rep2 = await c.h.open();
    expect(rep2.problems).toEqual([]);
    expect(rep2.snapshot.status).toBe("loaded");
    expect(everything(c.h, "raw")).toEqual(everything(b.h, "raw"));
    c.h.close();
  });

  it("survives a full disk: the previous snapshot stays, the error is reported, nothing throws", async () => {
    // ENOSPC is simulated by injecting write functions that fail after a byte budget,
    // having written part of the data first, as a real full disk does.
    let budget = Number.POSITIVE_INFINITY;
    const enospc = (): Error =>
      Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28 });
    const io: HistoryIo = {
      async write(fh, buf, pos) {
        if (buf.length > budget) {
          await nodeIo.write(fh, buf.subarray(0, Math.max(0, budget)), pos);
          budget = 0;
          throw enospc();
        }
        budget -= buf.length;
        await nodeIo.write(fh, buf, pos);
      },
      writeSync(fd, buf, pos) {
        if (buf.length > budget) {
          nodeIo.writeSync(fd, buf.subarray(0, Math.max(0, budget)), pos);
          budget = 0;
          throw enospc();
        }
        budget -= buf.length;
        nodeIo.writeSync(fd, buf, pos);
      },
    };
    const dir = tempDir();
    const a = make(dir, { io });
    await a.h.open();
    fill(a, 0, 100);
    expect((await a.h.flush()).ok).toBe(true);
    const goodSnapshot = readFileSync(join(dir, SNAPSHOT_FILE));
    fill(a, 101, 110);

    budget = 3000; // the next snapshot (about 12 KB here) runs out of space part-way
    const r = await a.h.flush();
    expect(r).toMatchObject({ ok: false, code: "ENOSPC" });
    expect(a.problems.some((p) => p.op === "snapshot" && p.code === "ENOSPC")).toBe(true);
    expect(readFileSync(join(dir, SNAPSHOT_FILE)).equals(goodSnapshot)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    // the journal cannot grow either: record() still returns normally and reports
    const before = a.problems.length;
    expect(() => fill(a, 111, 115)).not.toThrow();
    expect(a.problems.slice(before).every((p) => p.op === "journal" && p.code === "ENOSPC")).toBe(true);
    expect(a.problems.length - before).toBe(5);
    expect(everything(a.h, "raw")[0]?.points.length).toBe(116); // memory keeps everything

    budget = Number.POSITIVE_INFINITY; // space again
    fill(a, 116, 120);
    const b = make(dir);
    const rep = await b.h.open();
    // snapshot up to 100, journal 101..110 and 116..120 (111..115 found no space)
    expect(rep.problems).toEqual([]);
    expect(rep.journal.samplesReplayed).toBe(15);
    expect(everything(b.h, "raw")[0]?.points.length).toBe(116);
    a.h.close();
    b.h.close();
  });

  it("loses nothing recorded when the process is killed with SIGKILL, even mid-snapshot", async () => {
    const dir = tempDir();
    const child = join(import.meta.dirname, "..", "..", "test", "fixtures", "history", "kill-child.ts");
    // Snapshots run every 12 samples by the child's clock; at these stops a kill often lands
    // while one is written or the journal is being replaced (a .tmp file is left behind).
    for (const stopAt of [23, 37, 56, 140]) {
      const proc = spawn(process.execPath, ["--import", "tsx", child, dir], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const last = await new Promise<number>((resolve, reject) => {
        proc.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const lines = out.trim().split("\n");
          const n = Number(lines[lines.length - 1]?.split(" ")[0]);
          if (n >= stopAt) {
            proc.kill("SIGKILL");
            resolve(n);
          }
        });
        proc.on("exit", (code, sig) =>
          sig === "SIGKILL" ? undefined : reject(new Error(`child exited ${code}: ${err}`)),
        );
      });
      await new Promise((r) => proc.on("close", r));
      expect(err).toBe("");
      const b = make(dir);
      b.clock.t = T0 + last * 5000;
      const rep = await b.h.open();
      expect(rep.problems.filter((p) => p.message.includes("damaged"))).toEqual([]);
      expect(["loaded", "missing"]).toContain(rep.snapshot.status);
      // every sample the child had printed (recorded) is there, with its values
      const s = b.h.query({ domain: "kvm-a", vcpu: 3, fromMs: T0, toMs: T0 + last * 5000 })[0];
      expect(s?.points.length).toBe(last + 1);
      s?.points.forEach((p, i) => expect(Math.abs(p.delay - wave(i, 0, 3).delay)).toBeLessThanOrEqual(1 / Q_SCALE));
      b.h.close();
      rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
    }
  }, 60_000);
});
