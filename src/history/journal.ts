/**
 * The journal: every recorded sample since the last snapshot, appended as one frame per
 * sample with a synchronous write (so a killed process loses nothing it had recorded) and
 * fdatasync'ed every few seconds (so a power cut loses at most that much).
 *
 * After the 32-byte header (file-format.ts), frames, little-endian:
 *   u32 bodyLength, u32 CRC-32 of the body, body:
 *     f64 wallMs
 *     u32 nDefs, nDefs × (u32 id, u32 vcpu, u16 len + UTF-8 domain, u16 len + UTF-8 uuid | 0xFFFF for null)
 *     u32 n,     n × (u32 id, u16 usage, u16 delay, u16 throttled)
 * A series is defined (id → domain, uuid, vCPU) in the frame that first uses it in this file.
 */
import * as fs from "node:fs";
import type { FileHandle } from "node:fs/promises";
import * as fsp from "node:fs/promises";
import { ChunkReader } from "./chunk-io.js";
import { crc32 } from "./crc32.js";
import { HEADER_BYTES, JOURNAL_MAGIC, decodeHeader, encodeHeader } from "./file-format.js";
import { type HistoryIo, errCode, errMessage } from "./io.js";
import { KeyIndex } from "./key-index.js";
import { NOFOLLOW_FLAGS } from "../util/safe-write.js";
import { describeFsError } from "../util/bounded-read.js";
import type { Item } from "./store.js";

const FRAME_HEAD = 8;
const MIN_BODY = 8 + 4 + 4;
export const MAX_FRAME = 64 << 20;
const NULL_UUID = 0xffff;
const ENTRY = 10;

export interface Def {
  id: number;
  item: Item;
  domain: Buffer;
  uuid: Buffer | null;
}

/** Encodes one sample; `ids` is read, new series get ids from `nextId` on (returned in defs). */
export function encodeFrame(
  wallMs: number,
  items: readonly Item[],
  ids: KeyIndex<number>,
  nextId: number,
): { frame: Buffer; defs: Def[] } {
  const defs = new KeyIndex<number>();
  const defList: Def[] = [];
  const entryIds: number[] = [];
  let defBytes = 0;
  for (const it of items) {
    let id = ids.get(it.domain, it.uuid, it.vcpu) ?? defs.get(it.domain, it.uuid, it.vcpu);
    if (id === undefined) {
      id = nextId++;
      defs.set(it.domain, it.uuid, it.vcpu, id);
      const domain = Buffer.from(it.domain, "utf8");
      const uuid = it.uuid === null ? null : Buffer.from(it.uuid, "utf8");
      if (domain.length >= NULL_UUID || (uuid !== null && uuid.length >= NULL_UUID))
        throw new RangeError(`domain name or uuid too long for the journal: ${it.domain.slice(0, 80)}`);
      defList.push({ id, item: it, domain, uuid });
      defBytes += 4 + 4 + 2 + domain.length + 2 + (uuid?.length ?? 0);
    }
    entryIds.push(id);
  }
  const bodyLen = 8 + 4 + defBytes + 4 + items.length * ENTRY;
  const f = Buffer.allocUnsafe(FRAME_HEAD + bodyLen);
  let o = FRAME_HEAD;
  f.writeDoubleLE(wallMs, o);
  o += 8;
  f.writeUInt32LE(defList.length, o);
  o += 4;
  for (const d of defList) {
    f.writeUInt32LE(d.id, o);
    f.writeUInt32LE(d.item.vcpu >>> 0, o + 4);
    f.writeUInt16LE(d.domain.length, o + 8);
    o += 10;
    d.domain.copy(f, o);
    o += d.domain.length;
    f.writeUInt16LE(d.uuid === null ? NULL_UUID : d.uuid.length, o);
    o += 2;
    if (d.uuid !== null) {
      d.uuid.copy(f, o);
      o += d.uuid.length;
    }
  }
  f.writeUInt32LE(items.length, o);
  o += 4;
  items.forEach((it, i) => {
    f.writeUInt32LE(entryIds[i] as number, o);
    f.writeUInt16LE(it.u, o + 4);
    f.writeUInt16LE(it.d, o + 6);
    f.writeUInt16LE(it.t, o + 8);
    o += ENTRY;
  });
  f.writeUInt32LE(bodyLen, 0);
  f.writeUInt32LE(crc32(f.subarray(FRAME_HEAD)), 4);
  return { frame: f, defs: defList };
}

export interface DecodedFrame {
  wallMs: number;
  items: Item[];
}

/** Decodes a frame body (CRC already checked); `ids` gains the frame's definitions. Throws on nonsense. */
export function decodeBody(b: Buffer, ids: Map<number, Omit<Item, "u" | "d" | "t">>): DecodedFrame {
  let o = 0;
  const need = (n: number): void => {
    if (o + n > b.length) throw new RangeError("frame body ends early");
  };
  need(12);
  const wallMs = b.readDoubleLE(0);
  if (!Number.isFinite(wallMs)) throw new RangeError("frame time is not finite");
  const nDefs = b.readUInt32LE(8);
  o = 12;
  for (let i = 0; i < nDefs; i++) {
    need(10);
    const id = b.readUInt32LE(o);
    const vcpu = b.readUInt32LE(o + 4);
    const dl = b.readUInt16LE(o + 8);
    o += 10;
    need(dl + 2);
    const domain = b.toString("utf8", o, o + dl);
    o += dl;
    const ul = b.readUInt16LE(o);
    o += 2;
    let uuid: string | null = null;
    if (ul !== NULL_UUID) {
      need(ul);
      uuid = b.toString("utf8", o, o + ul);
      o += ul;
    }
    ids.set(id, { domain, uuid, vcpu });
  }
  need(4);
  const n = b.readUInt32LE(o);
  o += 4;
  if (n * ENTRY !== b.length - o) throw new RangeError("frame entry count does not match its length");
  const items: Item[] = [];
  for (let i = 0; i < n; i++, o += ENTRY) {
    const id = ids.get(b.readUInt32LE(o));
    if (id === undefined) throw new RangeError("frame uses an undefined series");
    items.push({ ...id, u: b.readUInt16LE(o + 4), d: b.readUInt16LE(o + 6), t: b.readUInt16LE(o + 8) });
  }
  return { wallMs, items };
}

/** An open journal file that frames are appended to. */
export class JournalWriter {
  private syncing = false;
  private closed = false;

  private constructor(
    private readonly io: HistoryIo,
    private readonly fd: number,
    /** File length = where the next frame goes. */
    public offset: number,
    private readonly ids: KeyIndex<number>,
    private nextId: number,
  ) {}

  /** A new, empty journal at `path` (replacing any file there). Throws on failure. */
  static create(io: HistoryIo, path: string): JournalWriter {
    // A new file: never an existing one, nor a symbolic link planted at its name.
    try {
      fs.unlinkSync(path);
    } catch {
      /* none there */
    }
    const fd = fs.openSync(path, NOFOLLOW_FLAGS["create-new"], 0o640);
    try {
      io.writeSync(fd, encodeHeader(JOURNAL_MAGIC, 0, 0), 0);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    return new JournalWriter(io, fd, HEADER_BYTES, new KeyIndex(), 0);
  }

  /** The existing journal, cut back to its `validBytes` (a torn last frame goes). Throws on failure. */
  static reopen(io: HistoryIo, path: string, validBytes: number, ids: KeyIndex<number>, nextId: number): JournalWriter {
    const fd = fs.openSync(path, NOFOLLOW_FLAGS.update);
    try {
      fs.ftruncateSync(fd, validBytes);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    return new JournalWriter(io, fd, validBytes, ids, nextId);
  }

  /**
   * Appends one sample. On failure (ENOSPC, ...) the file is cut back to the last whole
   * frame and the error is thrown; the journal stays usable.
   */
  append(wallMs: number, items: readonly Item[]): number {
    const { frame, defs } = encodeFrame(wallMs, items, this.ids, this.nextId);
    try {
      this.io.writeSync(this.fd, frame, this.offset);
    } catch (e) {
      try {
        fs.ftruncateSync(this.fd, this.offset);
      } catch {
        // The next append overwrites the partial frame at the same offset anyway.
      }
      throw e;
    }
    for (const d of defs) this.ids.set(d.item.domain, d.item.uuid, d.item.vcpu, d.id);
    this.nextId += defs.length;
    this.offset += frame.length;
    return frame.length;
  }

  /** fdatasync in the background; errors go to `onError`. */
  syncAsync(onError: (e: unknown) => void): void {
    if (this.syncing || this.closed) return;
    this.syncing = true;
    fs.fdatasync(this.fd, (err) => {
      this.syncing = false;
      if (this.closed) {
        fs.close(this.fd, () => undefined);
        return;
      }
      if (err) onError(err);
    });
  }

  async sync(): Promise<void> {
    await new Promise<void>((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  /** fdatasync (best effort) and close. A background sync still running closes the file when done. */
  close(syncFirst: boolean): void {
    if (this.closed) return;
    this.closed = true;
    if (syncFirst) {
      try {
        fs.fdatasyncSync(this.fd);
      } catch {
        // Closing anyway; what was written is in the page cache and survives a killed process.
      }
    }
    if (!this.syncing) fs.closeSync(this.fd);
  }
}

export type JournalRead =
  | { kind: "missing" }
  | { kind: "unreadable"; reason: string; code?: string }
  /** The header is damaged: nothing in the file can be trusted. */
  | { kind: "damaged"; reason: string }
  | {
      kind: "ok";
      /** Bytes up to the end of the last good frame. */
      validBytes: number;
      /** Bytes of an incomplete last frame (a write cut short): dropped, not damage. */
      tornBytes: number;
      /** A bad frame before the end: frames after it were not read. */
      damage: string | null;
      /** key → id of every series the file defines, and the next free id: to keep appending. */
      ids: KeyIndex<number>;
      nextId: number;
    };

/** Reads every good frame of a journal, oldest first, into `onFrame`. Never throws. */
export async function readJournal(path: string, onFrame: (f: DecodedFrame) => void): Promise<JournalRead> {
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
    const head = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(head, 0, HEADER_BYTES, 0);
    const h = decodeHeader(head.subarray(0, bytesRead), JOURNAL_MAGIC);
    if (!h.ok) return { kind: "damaged", reason: h.reason };

    const r = new ChunkReader(fh, HEADER_BYTES, st.size);
    const byId = new Map<number, Omit<Item, "u" | "d" | "t">>();
    let valid = HEADER_BYTES;
    let damage: string | null = null;
    const fhead = Buffer.alloc(FRAME_HEAD);
    while (r.remaining > 0) {
      if (r.remaining < FRAME_HEAD) break;
      await r.read(fhead);
      const len = fhead.readUInt32LE(0);
      if (len < MIN_BODY || len > MAX_FRAME) {
        damage = `frame at byte ${valid} has an impossible length ${len}`;
        break;
      }
      if (len > r.remaining) break; // torn: the write of the last frame was cut short
      const body = Buffer.alloc(len);
      await r.read(body);
      const last = r.remaining === 0;
      if (crc32(body) !== fhead.readUInt32LE(4)) {
        if (last) break; // torn: length extended but data not all written
        damage = `frame at byte ${valid} fails its checksum`;
        break;
      }
      let frame: DecodedFrame;
      try {
        frame = decodeBody(body, byId);
      } catch (e) {
        damage = `frame at byte ${valid}: ${errMessage(e)}`;
        break;
      }
      onFrame(frame);
      valid += FRAME_HEAD + len;
    }
    const ids = new KeyIndex<number>();
    let nextId = 0;
    for (const [id, s] of byId) {
      ids.set(s.domain, s.uuid, s.vcpu, id);
      nextId = Math.max(nextId, id + 1);
    }
    return { kind: "ok", validBytes: valid, tornBytes: damage === null ? st.size - valid : 0, damage, ids, nextId };
  } catch (e) {
    const code = errCode(e);
    if (code === undefined || code === "EIO") return { kind: "damaged", reason: errMessage(e) };
    return { kind: "unreadable", reason: describeFsError(e), code };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
