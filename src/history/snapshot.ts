/**
 * The snapshot: the whole store in one file, replaced atomically (temp file in the same
 * directory, fsync, rename, fsync of the directory), checked by length and CRC-32 on load.
 *
 * Payload after the 32-byte header (file-format.ts), little-endian:
 *   u32 metaLength, meta JSON (SnapshotMeta), zero padding to a multiple of 8
 *   f64[rawCount]   raw-tier timestamps, oldest first
 *   f64[downCount]  10-minute bucket starts, oldest first
 *   per series, in meta.series order:
 *     u16[rawCount * 3]  usage, delay, throttled per raw timestamp
 *     u16[downCount * 4] mean usage, mean delay, mean throttled, max delay per bucket
 *     f64[5]             the open bucket's accumulators
 */
import type { FileHandle } from "node:fs/promises";
import * as fsp from "node:fs/promises";
import { dirname } from "node:path";
import { ChunkReader, ChunkWriter, bytesOf } from "./chunk-io.js";
import { HEADER_BYTES, SNAPSHOT_MAGIC, decodeHeader, encodeHeader } from "./file-format.js";
import { type HistoryIo, errCode, errMessage, fsyncDir } from "./io.js";
import { Q_SCALE } from "./quantize.js";
import { NOFOLLOW_FLAGS } from "../util/safe-write.js";
import { describeFsError } from "../util/bounded-read.js";
import { ACC_DMAX, ACC_FIELDS, ACC_N, DOWN_FIELDS, RAW_FIELDS, Series } from "./series.js";
import { Store, type StoreConfig } from "./store.js";
import type { TimeAxis } from "./time-axis.js";

const MAX_META_BYTES = 256 << 20;

export interface SnapshotMeta {
  format: "vsteal-history";
  savedAtMs: number;
  intervalS: number;
  bucketMs: number;
  lastWallMs: number | null;
  curBucket: number | null;
  rawCount: number;
  downCount: number;
  /** [domain, uuid, vcpu, lastWriteMs] */
  series: Array<[string, string | null, number, number]>;
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isCount = (v: unknown): v is number => isNum(v) && Number.isInteger(v) && v >= 0;

/** The metadata if `v` is well-formed, else why not. (Hand-written: zod would cost the agent ~14 MB RSS.) */
export function parseMeta(v: unknown): SnapshotMeta | string {
  if (typeof v !== "object" || v === null) return "not an object";
  const m = v as Record<string, unknown>;
  if (m.format !== "vsteal-history") return "format is not vsteal-history";
  for (const k of ["savedAtMs", "intervalS", "bucketMs"] as const) if (!isNum(m[k])) return `${k} is not a number`;
  for (const k of ["lastWallMs", "curBucket"] as const)
    if (m[k] !== null && !isNum(m[k])) return `${k} is not a number`;
  for (const k of ["rawCount", "downCount", "bucketMs"] as const) if (!isCount(m[k])) return `${k} is not a count`;
  if (!Array.isArray(m.series)) return "series is not a list";
  for (const [i, s] of (m.series as unknown[]).entries()) {
    if (!Array.isArray(s) || s.length !== 4) return `series ${i} is not [domain, uuid, vcpu, lastWriteMs]`;
    const [domain, uuid, vcpu, last] = s as unknown[];
    if (typeof domain !== "string" || (uuid !== null && typeof uuid !== "string") || !isCount(vcpu) || !isNum(last))
      return `series ${i} is malformed`;
  }
  return m as unknown as SnapshotMeta;
}

/** The ring positions of an axis's entries, oldest first, as at most two contiguous runs [start, length]. */
function runs(axis: TimeAxis): Array<[number, number]> {
  if (axis.count === 0) return [];
  const first = axis.slot(0);
  const tail = Math.min(axis.count, axis.cap - first);
  return tail === axis.count
    ? [[first, tail]]
    : [
        [first, tail],
        [0, axis.count - tail],
      ];
}

async function writePayload(w: ChunkWriter, store: Store, meta: SnapshotMeta, list: readonly Series[]): Promise<void> {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const head = Buffer.alloc(4 + json.length + ((8 - ((4 + json.length) % 8)) % 8));
  head.writeUInt32LE(json.length, 0);
  json.copy(head, 4);
  await w.bytes(head);
  for (const axis of [store.raw, store.down]) {
    for (const [a, n] of runs(axis)) await w.bytes(bytesOf(axis.times.subarray(a, a + n)), 8);
  }
  const rawRuns = runs(store.raw);
  const downRuns = runs(store.down);
  for (const s of list) {
    for (const [a, n] of rawRuns) await w.bytes(bytesOf(s.raw.subarray(a * RAW_FIELDS, (a + n) * RAW_FIELDS)), 2);
    for (const [a, n] of downRuns) await w.bytes(bytesOf(s.down.subarray(a * DOWN_FIELDS, (a + n) * DOWN_FIELDS)), 2);
    await w.bytes(bytesOf(s.acc), 8);
  }
  await w.flush();
}

export interface SnapshotWritten {
  bytes: number;
  series: number;
}

/**
 * Writes `store` to `path` atomically. The store must not change until the promise settles.
 * On failure (ENOSPC, ...) the temp file is removed, the previous snapshot is untouched, and
 * the error is thrown to the caller.
 */
export async function writeSnapshot(
  io: HistoryIo,
  path: string,
  store: Store,
  savedAtMs: number,
  intervalS: number,
): Promise<SnapshotWritten> {
  const list = [...store.series.values()];
  const meta: SnapshotMeta = {
    format: "vsteal-history",
    savedAtMs,
    intervalS,
    bucketMs: store.cfg.bucketMs,
    lastWallMs: store.lastWallMs,
    curBucket: store.curBucket,
    rawCount: store.raw.count,
    downCount: store.down.count,
    series: list.map((s) => [s.domain, s.uuid, s.vcpu, s.lastWriteMs]),
  };
  const tmp = `${path}.tmp`;
  let fh: FileHandle | null = null;
  try {
    // A new file: never an existing one, nor a symbolic link planted at its name.
    await fsp.unlink(tmp).catch(() => undefined);
    fh = await fsp.open(tmp, NOFOLLOW_FLAGS["create-new"], 0o640);
    const w = new ChunkWriter(io, fh, HEADER_BYTES);
    await writePayload(w, store, meta, list);
    await io.write(fh, encodeHeader(SNAPSHOT_MAGIC, w.total, w.crc), 0);
    await fh.sync();
    await fh.close();
    fh = null;
    await fsp.rename(tmp, path);
    await fsyncDir(dirname(path));
    return { bytes: HEADER_BYTES + w.total, series: list.length };
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw e;
  }
}

export type SnapshotRead =
  | { kind: "missing" }
  | { kind: "unreadable"; reason: string; code?: string }
  | { kind: "damaged"; reason: string }
  | { kind: "ok"; store: Store; meta: SnapshotMeta; droppedSeries: number };

class Damaged extends Error {}

/** Strictly increasing finite timestamps? */
function increasing(t: Float64Array): boolean {
  for (let i = 0; i < t.length; i++) {
    const v = t[i] as number;
    if (!Number.isFinite(v) || (i > 0 && v <= (t[i - 1] as number))) return false;
  }
  return true;
}

/** Loads the newest `keep` of `n` entries of `times` into an empty axis. */
function loadAxis(axis: TimeAxis, times: Float64Array): number {
  const keep = Math.min(times.length, axis.cap);
  axis.times.set(times.subarray(times.length - keep));
  axis.count = keep;
  axis.head = keep % axis.cap;
  return keep;
}

function validAcc(acc: Float64Array): boolean {
  const n = acc[ACC_N] as number;
  if (!Number.isInteger(n) || n < 0) return false;
  for (let i = 0; i < ACC_FIELDS; i++) {
    const v = acc[i] as number;
    if (!Number.isFinite(v) || v < 0) return false;
    if (i !== ACC_N && i !== ACC_DMAX && v > n * Q_SCALE) return false;
  }
  return (acc[ACC_DMAX] as number) <= Q_SCALE;
}

async function readBody(fh: FileHandle, size: number, cfg: StoreConfig): Promise<SnapshotRead> {
  const headBuf = Buffer.alloc(HEADER_BYTES);
  const { bytesRead } = await fh.read(headBuf, 0, HEADER_BYTES, 0);
  const h = decodeHeader(headBuf.subarray(0, bytesRead), SNAPSHOT_MAGIC);
  if (!h.ok) return { kind: "damaged", reason: h.reason };
  const len = h.header.payloadLength;
  if (size < HEADER_BYTES + len)
    return { kind: "damaged", reason: `truncated: ${size - HEADER_BYTES} of ${len} payload bytes present` };
  if (size > HEADER_BYTES + len)
    return { kind: "damaged", reason: `${size - HEADER_BYTES - len} unexpected bytes after the payload` };

  const r = new ChunkReader(fh, HEADER_BYTES, HEADER_BYTES + len);
  const need = async (dst: Uint8Array | number, elem: 1 | 2 | 8 = 1): Promise<void> => {
    if (!(await r.read(dst, elem))) throw new Damaged("payload ends early");
  };
  const lenBuf = Buffer.alloc(4);
  await need(lenBuf);
  const metaLen = lenBuf.readUInt32LE(0);
  if (metaLen > MAX_META_BYTES || 4 + metaLen > len)
    throw new Damaged(`metadata length ${metaLen} does not fit the payload`);
  const metaBuf = Buffer.alloc(metaLen);
  await need(metaBuf);
  await need((8 - ((4 + metaLen) % 8)) % 8);
  let parsed: unknown;
  try {
    parsed = JSON.parse(metaBuf.toString("utf8"));
  } catch (e) {
    throw new Damaged(`metadata is not JSON: ${errMessage(e)}`);
  }
  const meta = parseMeta(parsed);
  if (typeof meta === "string") throw new Damaged(`metadata is invalid: ${meta}`);
  if (meta.bucketMs !== cfg.bucketMs)
    throw new Damaged(`bucket width ${meta.bucketMs} ms differs from ${cfg.bucketMs} ms`);
  const perSeries = meta.rawCount * RAW_FIELDS * 2 + meta.downCount * DOWN_FIELDS * 2 + ACC_FIELDS * 8;
  const expected =
    4 +
    metaLen +
    ((8 - ((4 + metaLen) % 8)) % 8) +
    (meta.rawCount + meta.downCount) * 8 +
    meta.series.length * perSeries;
  if (expected !== len) throw new Damaged(`payload is ${len} bytes, its metadata describes ${expected}`);

  const store = new Store(cfg);
  const rawTimes = new Float64Array(meta.rawCount);
  await need(bytesOf(rawTimes), 8);
  const downTimes = new Float64Array(meta.downCount);
  await need(bytesOf(downTimes), 8);
  if (!increasing(rawTimes) || !increasing(downTimes)) throw new Damaged("timestamps are not increasing");
  const keepRaw = loadAxis(store.raw, rawTimes);
  const keepDown = loadAxis(store.down, downTimes);
  const newestRaw = store.raw.newest();
  if (newestRaw !== null && (meta.lastWallMs === null || meta.lastWallMs < newestRaw))
    throw new Damaged("last sample time is older than the newest timestamp");
  store.lastWallMs = meta.lastWallMs;
  store.curBucket = meta.curBucket;

  // More series than this build keeps: the ones written most recently win.
  let keepSet: Set<number> | null = null;
  if (meta.series.length > cfg.maxSeries) {
    const order = meta.series.map((s, i) => [s[3], i] as const).sort((a, b) => b[0] - a[0]);
    keepSet = new Set(order.slice(0, cfg.maxSeries).map((x) => x[1]));
  }
  for (let i = 0; i < meta.series.length; i++) {
    const [domain, uuid, vcpu, lastWriteMs] = meta.series[i] as SnapshotMeta["series"][number];
    if (keepSet !== null && !keepSet.has(i)) {
      await need(perSeries);
      continue;
    }
    const s = new Series(domain, uuid, vcpu, cfg.rawCap, cfg.downCap, lastWriteMs);
    await need((meta.rawCount - keepRaw) * RAW_FIELDS * 2);
    await need(bytesOf(s.raw.subarray(0, keepRaw * RAW_FIELDS)), 2);
    await need((meta.downCount - keepDown) * DOWN_FIELDS * 2);
    await need(bytesOf(s.down.subarray(0, keepDown * DOWN_FIELDS)), 2);
    await need(bytesOf(s.acc), 8);
    if (!validAcc(s.acc)) throw new Damaged(`series ${i} has impossible accumulators`);
    if (store.find(domain, uuid, vcpu) !== undefined)
      throw new Damaged(`series ${JSON.stringify(domain)} vCPU ${vcpu} appears twice`);
    store.add(s);
  }
  if (r.crc !== h.header.payloadCrc) throw new Damaged("payload checksum mismatch (the file is damaged)");
  return { kind: "ok", store, meta, droppedSeries: keepSet === null ? 0 : meta.series.length - keepSet.size };
}

/** Reads a snapshot; never throws: a missing, unreadable or damaged file is a result. */
export async function readSnapshot(path: string, cfg: StoreConfig): Promise<SnapshotRead> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(path, "r");
  } catch (e) {
    const code = errCode(e);
    if (code === "ENOENT") return { kind: "missing" };
    return { kind: "unreadable", reason: describeFsError(e), ...(code ? { code } : {}) };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { kind: "unreadable", reason: "not a regular file" };
    return await readBody(fh, st.size, cfg);
  } catch (e) {
    if (e instanceof Damaged) return { kind: "damaged", reason: e.message };
    const code = errCode(e);
    // A read error in the middle (EIO) means a bad disk block: damaged as far as we can tell;
    // an error without errno (a RangeError from absurd sizes) comes from the bytes too.
    if (code === undefined || code === "EIO") return { kind: "damaged", reason: errMessage(e) };
    return { kind: "unreadable", reason: describeFsError(e), code };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
