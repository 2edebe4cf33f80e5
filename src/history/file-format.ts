/**
 * The 32-byte header both persisted files start with, little-endian:
 *   0  magic      8 bytes, "VSTLSNAP" (snapshot) or "VSTLJRNL" (journal)
 *   8  version    u32 (FORMAT_VERSION)
 *   12 reserved   u32, 0
 *   16 length     u64, payload bytes after the header (snapshot; 0 for the journal)
 *   24 crc        u32, CRC-32 of the payload (snapshot; 0 for the journal)
 *   28 headerCrc  u32, CRC-32 of bytes 0..27
 * The journal's payload is a sequence of frames, each with its own length and CRC.
 */
import { crc32 } from "./crc32.js";

export const SNAPSHOT_MAGIC = "VSTLSNAP";
export const JOURNAL_MAGIC = "VSTLJRNL";
export const FORMAT_VERSION = 1;
export const HEADER_BYTES = 32;

export interface Header {
  version: number;
  payloadLength: number;
  payloadCrc: number;
}

export function encodeHeader(magic: string, payloadLength: number, payloadCrc: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.write(magic, 0, 8, "latin1");
  b.writeUInt32LE(FORMAT_VERSION, 8);
  b.writeBigUInt64LE(BigInt(payloadLength), 16);
  b.writeUInt32LE(payloadCrc >>> 0, 24);
  b.writeUInt32LE(crc32(b.subarray(0, 28)), 28);
  return b;
}

export type HeaderResult = { ok: true; header: Header } | { ok: false; reason: string };

export function decodeHeader(b: Uint8Array, magic: string): HeaderResult {
  if (b.length < HEADER_BYTES)
    return { ok: false, reason: `file is ${b.length} bytes, shorter than the ${HEADER_BYTES}-byte header (truncated)` };
  const buf = Buffer.from(b.buffer, b.byteOffset, HEADER_BYTES);
  const got = buf.toString("latin1", 0, 8);
  if (got !== magic)
    return {
      ok: false,
      reason: `not a vsteal history file (magic ${JSON.stringify(got)}, expected ${JSON.stringify(magic)})`,
    };
  if (crc32(buf.subarray(0, 28)) !== buf.readUInt32LE(28))
    return { ok: false, reason: "header checksum mismatch (damaged header)" };
  const version = buf.readUInt32LE(8);
  if (version !== FORMAT_VERSION)
    return { ok: false, reason: `format version ${version} is not supported (this build reads ${FORMAT_VERSION})` };
  const len = buf.readBigUInt64LE(16);
  if (len > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: "impossible payload length" };
  return { ok: true, header: { version, payloadLength: Number(len), payloadCrc: buf.readUInt32LE(24) } };
}
