/**
 * CRC-32 (IEEE 802.3, the one of zip, gzip and PNG). Node ≥ 20.15 has it natively as
 * `zlib.crc32`; older Node 20 releases get the table-driven version below (same results).
 */
import * as zlib from "node:zlib";

let table: Uint32Array | null = null;

function makeTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

/** Table-driven CRC-32; `prev` continues a running checksum like zlib.crc32's second argument. */
export function crc32Table(data: Uint8Array, prev = 0): number {
  table ??= makeTable();
  let c = (prev ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) {
    c = (table[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

const native: ((data: Uint8Array, value?: number) => number) | null =
  typeof (zlib as { crc32?: unknown }).crc32 === "function" ? zlib.crc32 : null;

/** CRC-32 of `data`, continuing from `prev` (0 to start). */
export function crc32(data: Uint8Array, prev = 0): number {
  return native ? native(data, prev) >>> 0 : crc32Table(data, prev);
}
