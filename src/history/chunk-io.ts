/**
 * Buffered sequential writing and reading of large files in 1 MiB chunks, with a running
 * CRC-32, so a 40 MB snapshot never needs a 40 MB buffer. Typed arrays are stored
 * little-endian; on a big-endian host they are byte-swapped on the way.
 */
import type { FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { crc32 } from "./crc32.js";
import type { HistoryIo } from "./io.js";

const CHUNK = 1 << 20;
const BIG_ENDIAN = endianness() === "BE";

/** Element size of a typed array's values for byte swapping: 1 (bytes), 2 or 8. */
export type ElemSize = 1 | 2 | 8;

export function bytesOf(a: Uint16Array | Float64Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function swapped(src: Uint8Array, elem: ElemSize): Uint8Array {
  if (!BIG_ENDIAN || elem === 1) return src;
  const b = Buffer.from(src);
  return elem === 2 ? b.swap16() : b.swap64();
}

export class ChunkWriter {
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  /** CRC-32 of everything written so far. */
  crc = 0;
  /** Bytes written so far. */
  total = 0;

  constructor(
    private readonly io: HistoryIo,
    private readonly fh: FileHandle,
    private pos: number,
  ) {}

  async bytes(src: Uint8Array, elem: ElemSize = 1): Promise<void> {
    const data = swapped(src, elem);
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, CHUNK - this.used);
      this.buf.set(data.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === CHUNK) await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const part = this.buf.subarray(0, this.used);
    await this.io.write(this.fh, part, this.pos);
    this.crc = crc32(part, this.crc);
    this.pos += this.used;
    this.total += this.used;
    this.used = 0;
  }
}

/** Reads [start, end) of a file sequentially; never reads past `end`. */
export class ChunkReader {
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private bufLen = 0;
  private bufOff = 0;
  /** CRC-32 of everything consumed so far. */
  crc = 0;

  constructor(
    private readonly fh: FileHandle,
    private pos: number,
    private readonly end: number,
  ) {}

  /** Bytes not consumed yet. */
  get remaining(): number {
    return this.end - this.pos + (this.bufLen - this.bufOff);
  }

  /** Fills `dst` (or skips `dst` bytes when given a number); false when the range ends first. */
  async read(dst: Uint8Array | number, elem: ElemSize = 1): Promise<boolean> {
    const want = typeof dst === "number" ? dst : dst.length;
    if (want > this.remaining) return false;
    let got = 0;
    while (got < want) {
      if (this.bufOff === this.bufLen) {
        const n = Math.min(CHUNK, this.end - this.pos);
        const { bytesRead } = await this.fh.read(this.buf, 0, n, this.pos);
        if (bytesRead <= 0) return false;
        this.pos += bytesRead;
        this.bufLen = bytesRead;
        this.bufOff = 0;
      }
      const n = Math.min(want - got, this.bufLen - this.bufOff);
      const part = this.buf.subarray(this.bufOff, this.bufOff + n);
      this.crc = crc32(part, this.crc);
      if (typeof dst !== "number") dst.set(part, got);
      this.bufOff += n;
      got += n;
    }
    if (BIG_ENDIAN && typeof dst !== "number" && elem !== 1) {
      const b = Buffer.from(dst.buffer, dst.byteOffset, dst.byteLength);
      if (elem === 2) b.swap16();
      else b.swap64();
    }
    return true;
  }
}
