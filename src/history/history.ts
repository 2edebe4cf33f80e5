/**
 * The agent's embedded history of per-vCPU rates: the last hour at sampling resolution and
 * 7 days in 10-minute buckets, in fixed-size typed-array rings (store.ts), persisted as an
 * atomic snapshot (snapshot.ts) plus an append-only journal of the samples since
 * (journal.ts). Nothing here throws into the sampling loop: I/O problems are reported
 * through `onError`, `open()`'s report and `flush()`'s result.
 */
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import type { RatesSample } from "../model/types.js";
import { type HistoryIo, errCode, errMessage, fsyncDir, nodeIo, setAside } from "./io.js";
import { describeFsError } from "../util/bounded-read.js";
import { JournalWriter, readJournal } from "./journal.js";
import { type ScanSpec, queryDomains, querySeries } from "./query.js";
import { quantize } from "./quantize.js";
import { seriesBytes } from "./series.js";
import { readSnapshot, writeSnapshot } from "./snapshot.js";
import { type Item, Store, type StoreConfig } from "./store.js";
import type {
  DomainQuery,
  DomainSeen,
  FlushResult,
  HistoryDomainSeries,
  HistoryProblem,
  HistoryQuery,
  HistorySeries,
  OpenReport,
  Tier,
} from "./types.js";

export const SNAPSHOT_FILE = "history.snapshot";
export const JOURNAL_FILE = "history.journal";
export const BUCKET_S = 600;
export const BUCKET_SLOTS = 1008;
export const RETENTION_S = 7 * 24 * 3600;
export const DEFAULT_MAX_SERIES = 2500;
/** Samples held back while a snapshot is being written before the oldest are dropped. */
const MAX_QUEUED = 720;

export interface HistoryOptions {
  /** Sampling interval, seconds: the raw tier holds ceil(3600 / intervalS) samples. */
  intervalS: number;
  /** Directory for the snapshot and journal; null or absent: memory only. */
  dir?: string | null;
  /** Most vCPU series kept (default 2500, ~20 KB each at a 5 s interval). */
  maxSeries?: number;
  /** Wall clock, ms (tests pass a fake one). */
  now?: () => number;
  /**
   * Seconds between snapshots. Default 600 with the journal (which already keeps every
   * sample: a killed agent loses none), 60 without it (then a kill loses up to that long).
   */
  snapshotIntervalS?: number;
  /** Append every sample to a journal (default true). */
  journal?: boolean;
  /** Seconds between fdatasyncs of the journal: what a power cut may lose (default 10). */
  journalSyncS?: number;
  /** Stop appending to the journal beyond this size until the next snapshot (default 64 MiB). */
  journalMaxBytes?: number;
  /** Damaged files kept aside per name (default 3; older ones are deleted). */
  keepCorrupt?: number;
  /** Receives every problem after open(); default: a line on stderr. */
  onError?: (p: HistoryProblem) => void;
  /** File writes, replaceable to simulate a full disk in tests. */
  io?: Partial<HistoryIo>;
}

interface Pending {
  wallMs: number;
  items: Item[];
}

function positive(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isFinite(x) || x <= 0)
    throw new RangeError(`History: ${name} must be a positive number, got ${String(v)}`);
  return x;
}

/** Longest domain name or uuid kept (libvirt allows far less); longer ones are left out. */
const MAX_NAME = 4096;

/**
 * The vCPUs of a sample as quantised items. Left out: vCPUs whose rates are not numbers,
 * vCPU numbers that are not small non-negative integers, absurdly long names.
 */
export function sampleItems(sample: RatesSample): Item[] {
  const items: Item[] = [];
  for (const d of sample.domains) {
    if (d.domain.name.length > MAX_NAME || (d.domain.uuid !== null && d.domain.uuid.length > MAX_NAME)) continue;
    for (const v of d.vcpus) {
      if (!Number.isInteger(v.vcpu) || v.vcpu < 0 || v.vcpu > 0xffffffff) continue;
      if (!Number.isFinite(v.usage) || !Number.isFinite(v.delay) || !Number.isFinite(v.throttled)) continue;
      items.push({
        domain: d.domain.name,
        uuid: d.domain.uuid,
        vcpu: v.vcpu,
        u: quantize(v.usage),
        d: quantize(v.delay),
        t: quantize(v.throttled),
      });
    }
  }
  return items;
}

export class History {
  readonly intervalS: number;
  /** Where the history persists; null in memory only (also when a file there could be neither read nor set aside). */
  dir: string | null;
  private readonly cfg: StoreConfig;
  private store: Store;
  private readonly now: () => number;
  private readonly onError: (p: HistoryProblem) => void;
  private readonly io: HistoryIo;
  private readonly snapshotMs: number;
  private readonly journalEnabled: boolean;
  private readonly journalSyncMs: number;
  private readonly journalMaxBytes: number;
  private readonly keepCorrupt: number;

  private state: "new" | "opening" | "open" | "closed" = "new";
  private recorded = false;
  private lastAcceptedMs: number | null = null;
  /** Samples recorded while open() loads: applied once it has. */
  private beforeOpen: Pending[] = [];
  /** Non-null while a snapshot is written: samples wait here so the store holds still. */
  private queue: Pending[] | null = null;
  private flushing: Promise<FlushResult> | null = null;
  private journal: JournalWriter | null = null;
  /** The journal that replaces `journal` after a snapshot, while it is being set up. */
  private journalNext: JournalWriter | null = null;
  private lastSnapshotAt = 0;
  private lastJournalSyncAt = 0;
  private saidFull = false;
  private saidBackwards = false;
  private saidJournalFull = false;
  private openProblems: HistoryProblem[] | null = null;

  constructor(opts: HistoryOptions) {
    this.intervalS = positive("intervalS", opts.intervalS, 5);
    this.dir = opts.dir ?? null;
    const maxSeries = Math.floor(positive("maxSeries", opts.maxSeries, DEFAULT_MAX_SERIES));
    this.cfg = {
      rawCap: Math.ceil(3600 / this.intervalS),
      downCap: BUCKET_SLOTS,
      bucketMs: BUCKET_S * 1000,
      maxSeries: Math.max(1, maxSeries),
      retentionMs: RETENTION_S * 1000,
    };
    this.store = new Store(this.cfg);
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? ((p) => console.warn(`vsteal history: ${p.op}: ${p.message}`));
    this.io = { ...nodeIo, ...opts.io };
    this.journalEnabled = opts.journal ?? true;
    this.snapshotMs = positive("snapshotIntervalS", opts.snapshotIntervalS, this.journalEnabled ? 600 : 60) * 1000;
    this.journalSyncMs = positive("journalSyncS", opts.journalSyncS, 10) * 1000;
    this.journalMaxBytes = positive("journalMaxBytes", opts.journalMaxBytes, 64 << 20);
    this.keepCorrupt = Math.floor(positive("keepCorrupt", opts.keepCorrupt, 3));
  }

  /** Bytes of typed arrays one series takes (the bulk of the memory). */
  get bytesPerSeries(): number {
    return seriesBytes(this.cfg.rawCap, this.cfg.downCap);
  }

  stats(): {
    series: number;
    maxSeries: number;
    rawSlots: number;
    bucketSlots: number;
    bytesPerSeries: number;
    lastSampleMs: number | null;
  } {
    return {
      series: this.store.series.size,
      maxSeries: this.cfg.maxSeries,
      rawSlots: this.cfg.rawCap,
      bucketSlots: this.cfg.downCap,
      bytesPerSeries: this.bytesPerSeries,
      lastSampleMs: this.store.lastWallMs,
    };
  }

  private problem(p: HistoryProblem): void {
    if (this.openProblems !== null) {
      this.openProblems.push(p);
      return;
    }
    try {
      this.onError(p);
    } catch {
      // A throwing callback must not break the sampling loop.
    }
  }

  // ---- recording ----------------------------------------------------------------------

  /** Records one sample of all vCPUs. Never throws; samples not later than the previous one are refused. */
  record(sample: RatesSample): void {
    const wallMs = sample.wallMs;
    if (!Number.isFinite(wallMs)) {
      this.problem({ op: "record", message: `sample time ${String(wallMs)} is not a number: not recorded` });
      return;
    }
    if (this.lastAcceptedMs !== null && wallMs <= this.lastAcceptedMs) {
      // Said once per run of refused samples: a clock stepped back an hour would say it 720 times.
      if (!this.saidBackwards)
        this.problem({
          op: "record",
          message: `sample at ${when(wallMs)} is not later than the previous one (${when(this.lastAcceptedMs)}); the clock stepped back? Samples are not recorded until it passes that time`,
        });
      this.saidBackwards = true;
      return;
    }
    this.saidBackwards = false;
    this.lastAcceptedMs = wallMs;
    this.recorded = true;
    const items = sampleItems(sample);
    if (this.state === "opening") {
      this.beforeOpen.push({ wallMs, items });
      return;
    }
    this.accept({ wallMs, items });
  }

  private accept(p: Pending): void {
    if (this.state === "open") this.journalAppend(p);
    if (this.queue !== null) {
      this.queue.push(p);
      if (this.queue.length > MAX_QUEUED) {
        this.queue.shift();
        this.problem({
          op: "snapshot",
          message: `writing the snapshot takes very long: more than ${MAX_QUEUED} samples waited, the oldest was dropped from memory (it is in the journal)`,
        });
      }
    } else {
      this.apply(p);
    }
    this.schedule();
  }

  private apply(p: Pending): void {
    const r = this.store.apply(p.wallMs, p.items);
    if (r.refused > 0 && !this.saidFull) {
      this.problem({
        op: "record",
        message: `history is full (maxSeries=${this.cfg.maxSeries}, all written in this sample): ${r.refused} vCPU series not recorded; raise maxSeries`,
      });
    }
    this.saidFull = r.refused > 0;
  }

  private journalAppend(p: Pending): void {
    for (const j of [this.journal, this.journalNext]) {
      if (j === null) continue;
      if (j.offset > this.journalMaxBytes) {
        if (!this.saidJournalFull)
          this.problem({
            op: "journal",
            message: `journal passed ${this.journalMaxBytes} bytes (snapshots failing?): samples are kept only until the next snapshot`,
          });
        this.saidJournalFull = true;
        continue;
      }
      try {
        j.append(p.wallMs, p.items);
      } catch (e) {
        this.problem({
          op: "journal",
          message: `could not append to the journal: ${errMessage(e)}`,
          ...codeOf(e),
          path: this.journalPath(),
        });
      }
    }
  }

  private schedule(): void {
    if (this.state !== "open" || this.dir === null) return;
    const now = this.now();
    if (this.journal !== null && now - this.lastJournalSyncAt >= this.journalSyncMs) {
      this.lastJournalSyncAt = now;
      this.journal.syncAsync((e) =>
        this.problem({
          op: "journal",
          message: `fdatasync of the journal failed: ${errMessage(e)}`,
          ...codeOf(e),
          path: this.journalPath(),
        }),
      );
    }
    if (this.flushing === null && now - this.lastSnapshotAt >= this.snapshotMs) {
      this.lastSnapshotAt = now;
      void this.flush();
    }
  }

  // ---- queries ------------------------------------------------------------------------

  /** The raw tier if it reaches back to fromMs or the range lies within the last hour, else the 10-minute tier. */
  /**
   * `nowMs`: the time the request's relative times were read against. With a second clock
   * reading here, `from=now-1h` fell a millisecond outside the raw tier now and then.
   */
  tierFor(fromMs: number, nowMs: number = this.now()): Tier {
    const oldest = this.store.raw.oldest();
    if (oldest !== null && fromMs >= oldest) return "raw";
    return fromMs >= nowMs - this.cfg.rawCap * this.intervalS * 1000 ? "raw" : "10m";
  }

  private spec(q: { fromMs: number; toMs: number; stepS?: number; tier?: Tier; nowMs?: number }): ScanSpec | null {
    if (!Number.isFinite(q.fromMs) || !Number.isFinite(q.toMs) || q.toMs < q.fromMs) return null;
    const tier = q.tier ?? this.tierFor(q.fromMs, q.nowMs);
    const stepS = q.stepS !== undefined && Number.isFinite(q.stepS) && q.stepS > 0 ? q.stepS : 0;
    return { tier, fromMs: q.fromMs, toMs: q.toMs, stepS, nativeStepS: tier === "raw" ? this.intervalS : BUCKET_S };
  }

  /** Per-vCPU points in [fromMs, toMs], series sorted by domain, uuid, vCPU; series without points are left out. */
  query(q: HistoryQuery): HistorySeries[] {
    const spec = this.spec(q);
    return spec === null ? [] : querySeries(this.store, q, spec);
  }

  /** Per domain: points summed over its vCPUs (for a VMs × time heatmap, steal % = 100 · delay / vcpus). */
  queryDomain(q: DomainQuery): HistoryDomainSeries[] {
    const spec = this.spec(q);
    return spec === null ? [] : queryDomains(this.store, { domain: q.domain, uuid: q.uuid }, spec);
  }

  /** Every domain instance in the history with its vCPUs, sorted by name. */
  domainsSeen(): DomainSeen[] {
    const out = new Map<string, DomainSeen>();
    for (const s of this.store.series.values()) {
      const key = `${s.domain}\u0000${s.uuid ?? ""}`;
      const d = out.get(key);
      if (d === undefined) out.set(key, { domain: s.domain, uuid: s.uuid, vcpus: [s.vcpu], lastSeenMs: s.lastWriteMs });
      else {
        d.vcpus.push(s.vcpu);
        d.lastSeenMs = Math.max(d.lastSeenMs, s.lastWriteMs);
      }
    }
    for (const d of out.values()) d.vcpus.sort((a, b) => a - b);
    return [...out.values()].sort((a, b) =>
      a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : (a.uuid ?? "") < (b.uuid ?? "") ? -1 : 1,
    );
  }

  // ---- persistence --------------------------------------------------------------------

  private snapshotPath(): string {
    return join(this.dir ?? ".", SNAPSHOT_FILE);
  }

  private journalPath(): string {
    return join(this.dir ?? ".", JOURNAL_FILE);
  }

  /**
   * Loads the snapshot and replays the journal. A damaged file is renamed to
   * `<name>.corrupt-<timestamp>` and reported; nothing here throws for what is on disk.
   * Samples recorded while it runs are kept. Call it before the first record().
   */
  async open(): Promise<OpenReport> {
    if (this.state !== "new") throw new Error("History.open() may be called once");
    if (this.recorded)
      throw new Error("History.open() must come before the first record() (records while it runs are fine)");
    this.state = "opening";
    this.openProblems = [];
    const report: OpenReport = {
      dir: this.dir,
      snapshot: {
        path: this.snapshotPath(),
        status: "disabled",
        series: 0,
        rawPoints: 0,
        bucketPoints: 0,
        savedAtMs: null,
      },
      journal: {
        path: this.journalPath(),
        status: "disabled",
        samplesReplayed: 0,
        samplesAlreadyInSnapshot: 0,
        tornBytes: 0,
      },
      series: 0,
      lastSampleMs: null,
      problems: this.openProblems,
    };
    let needSnapshot = false;
    try {
      if (this.dir !== null) needSnapshot = await this.load(this.dir, report);
    } catch (e) {
      this.problem({ op: "open", message: `loading history failed: ${errMessage(e)}`, ...codeOf(e) });
    }
    this.openProblems = null;
    this.state = "open";
    this.lastSnapshotAt = this.now();
    this.lastJournalSyncAt = this.now();
    this.lastAcceptedMs = this.store.lastWallMs;
    for (const p of this.beforeOpen) {
      if (this.lastAcceptedMs !== null && p.wallMs <= this.lastAcceptedMs) continue;
      this.lastAcceptedMs = p.wallMs;
      this.accept(p);
    }
    this.beforeOpen = [];
    report.series = this.store.series.size;
    report.lastSampleMs = this.store.lastWallMs;
    if (needSnapshot) {
      const r = await this.flush();
      if (!r.ok)
        report.problems.push({
          op: "snapshot",
          message: `could not save the replayed samples: ${r.error}`,
          ...(r.code ? { code: r.code } : {}),
        });
    }
    return report;
  }

  /** Returns whether samples now live only in memory (their journal was set aside). */
  private async load(dir: string, report: OpenReport): Promise<boolean> {
    await fsp.mkdir(dir, { recursive: true });
    for (const f of [SNAPSHOT_FILE, JOURNAL_FILE]) await fsp.unlink(join(dir, `${f}.tmp`)).catch(() => undefined);

    const sp = this.snapshotPath();
    const snap = await readSnapshot(sp, this.cfg);
    const rs = report.snapshot;
    if (snap.kind === "ok") {
      this.store = snap.store;
      rs.status = "loaded";
      rs.series = snap.store.series.size;
      rs.rawPoints = snap.store.raw.count;
      rs.bucketPoints = snap.store.down.count;
      rs.savedAtMs = snap.meta.savedAtMs;
      if (snap.droppedSeries > 0)
        this.problem({
          op: "open",
          message: `snapshot holds more series than maxSeries=${this.cfg.maxSeries}: the ${snap.droppedSeries} written longest ago were dropped`,
          path: sp,
        });
    } else if (snap.kind === "missing") {
      rs.status = "missing";
    } else if (snap.kind === "unreadable") {
      // It exists but cannot be read (e.g. left owned by root): never replace it silently.
      rs.status = "unreadable";
      rs.reason = snap.reason;
      if (!(await this.putAside(sp, rs, "snapshot", snap.reason, "unreadable"))) return false;
    } else {
      rs.reason = snap.reason;
      await this.putAside(sp, rs, "snapshot", snap.reason);
    }

    if (!this.journalEnabled) return false;
    const jp = this.journalPath();
    const rj = report.journal;
    const jr = await readJournal(jp, (f) => {
      if (this.store.lastWallMs !== null && f.wallMs <= this.store.lastWallMs) {
        rj.samplesAlreadyInSnapshot++;
        return;
      }
      this.apply(f);
      rj.samplesReplayed++;
    });
    if (jr.kind === "ok" && jr.damage === null) {
      rj.status = "loaded";
      rj.tornBytes = jr.tornBytes;
      if (jr.tornBytes > 0)
        this.problem({
          op: "open",
          message: `journal ended with ${jr.tornBytes} bytes of an incomplete sample (a write cut short): dropped`,
          path: jp,
        });
      try {
        this.journal = JournalWriter.reopen(this.io, jp, jr.validBytes, jr.ids, jr.nextId);
        return false;
      } catch (e) {
        this.problem({
          op: "journal",
          message: `cannot append to the journal: ${errMessage(e)}`,
          ...codeOf(e),
          path: jp,
        });
      }
    } else if (jr.kind === "missing") {
      rj.status = "missing";
    } else if (jr.kind === "unreadable") {
      rj.status = "unreadable";
      rj.reason = jr.reason;
      if (!(await this.putAside(jp, rj, "journal", jr.reason, "unreadable"))) return false;
    } else {
      const reason = jr.kind === "damaged" ? jr.reason : (jr.damage ?? "damaged");
      rj.reason = reason;
      if (
        !(await this.putAside(
          jp,
          rj,
          "journal",
          jr.kind === "ok" ? `${reason} (the ${rj.samplesReplayed} samples before it were loaded)` : reason,
        ))
      )
        return false;
    }
    await this.rotateJournal();
    return rj.samplesReplayed > 0;
  }

  /**
   * Renames a damaged or unreadable file aside. When even that fails, the history is not
   * persisted in this run (kept in memory only): a file vsteal cannot read or move is never
   * overwritten. Returns whether the file was set aside.
   */
  private async putAside(
    path: string,
    r: { status: string; movedTo?: string },
    what: string,
    reason: string,
    label: "corrupt" | "unreadable" = "corrupt",
  ): Promise<boolean> {
    const state = label === "corrupt" ? `is damaged (${reason})` : `exists but cannot be read: ${reason}`;
    try {
      r.movedTo = await setAside(path, this.now(), this.keepCorrupt, label);
      r.status = "set-aside";
      this.problem({
        op: "open",
        message: `the ${what} ${path} ${state}; moved to ${r.movedTo}, starting without it`,
        path,
      });
      return true;
    } catch (e) {
      r.status = "unreadable";
      this.dir = null;
      this.journal?.close(false);
      this.journal = null;
      this.problem({
        op: "open",
        message: `the ${what} ${path} ${state}; nor can it be moved aside: ${describeFsError(e)}; history is kept in memory only, the file is left as it is: give the agent's user that directory and its files (chown), or move the file away`,
        ...codeOf(e),
        path,
      });
      return false;
    }
  }

  /**
   * Writes a snapshot now (atomically) and starts a new journal after it. Never rejects;
   * on failure (disk full, ...) the previous snapshot and the journal stay as they were.
   */
  async flush(): Promise<FlushResult> {
    if (this.dir === null) return { ok: true, skipped: "no directory: the history lives in memory only" };
    if (this.state === "new") return { ok: false, error: "open() the history before flush()" };
    while (this.flushing !== null) await this.flushing;
    if (this.state === "closed") return { ok: false, error: "the history is closed" };
    const p = this.snapshotNow(this.dir);
    this.flushing = p;
    try {
      return await p;
    } finally {
      this.flushing = null;
    }
  }

  private async snapshotNow(dir: string): Promise<FlushResult> {
    const started = performance.now();
    const path = this.snapshotPath();
    this.queue = [];
    this.lastSnapshotAt = this.now();
    try {
      await fsp.mkdir(dir, { recursive: true });
      const w = await writeSnapshot(this.io, path, this.store, this.now(), this.intervalS);
      if (this.journalEnabled && this.state !== "closed") await this.rotateJournal();
      return { ok: true, path, bytes: w.bytes, series: w.series, ms: Math.round(performance.now() - started) };
    } catch (e) {
      const code = errCode(e);
      const message = `could not write the snapshot (the previous one is intact): ${errMessage(e)}`;
      this.problem({ op: "snapshot", message, ...(code ? { code } : {}), path });
      return { ok: false, error: message, ...(code ? { code } : {}) };
    } finally {
      const q = this.queue;
      this.queue = null;
      for (const p of q) this.apply(p);
    }
  }

  /**
   * Replaces the journal by a new one holding the samples not in the snapshot just written
   * (those waiting in the queue). Until the rename, every sample goes to both files, so the
   * file named history.journal always holds every sample after the snapshot.
   */
  private async rotateJournal(): Promise<void> {
    if (this.dir === null) return;
    const path = this.journalPath();
    const tmp = `${path}.tmp`;
    let next: JournalWriter | null = null;
    try {
      next = JournalWriter.create(this.io, tmp);
      for (const p of this.queue ?? []) next.append(p.wallMs, p.items);
      this.journalNext = next;
      await next.sync();
      if (this.state === "closed") throw new Error("closed while the journal was replaced");
      await fsp.rename(tmp, path);
      this.journalNext = null;
      this.journal?.close(false);
      this.journal = next;
      next = null;
      this.saidJournalFull = false;
      await fsyncDir(this.dir);
    } catch (e) {
      if (next !== null) {
        if (this.journalNext === next) this.journalNext = null;
        next.close(false);
        await fsp.unlink(tmp).catch(() => undefined);
      }
      if (this.state !== "closed")
        this.problem({
          op: "journal",
          message: `could not start a new journal (the old one is kept): ${errMessage(e)}`,
          ...codeOf(e),
          path,
        });
    }
  }

  /**
   * Stops persisting: fdatasyncs and closes the journal (which holds every sample since
   * the last snapshot, so nothing recorded is lost). Await flush() first for a fresh snapshot.
   */
  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.journal?.close(true);
    this.journalNext?.close(false);
    this.journal = null;
    this.journalNext = null;
  }
}

/** A time for a message; never throws (toISOString does beyond ±8.64e15). */
function when(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString();
}

function codeOf(e: unknown): { code?: string } {
  const code = errCode(e);
  return code ? { code } : {};
}
