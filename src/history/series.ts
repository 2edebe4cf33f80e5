/**
 * One vCPU's stored history: the values of both tiers in one ArrayBuffer each series owns.
 *   raw[slot*3 + 0..2]  usage, delay, throttled at sampling resolution (ring of `rawCap`)
 *   down[slot*4 + 0..3] mean usage, mean delay, mean throttled, max delay per 10-minute bucket
 *   acc[0..4]           the open bucket: sums of usage, delay, throttled, max delay, count
 * Values are quantised (see quantize.ts); acc holds sums of quantised values, so replaying a
 * journal reproduces the live means bit for bit.
 */
import { NO_DATA } from "./quantize.js";

export const RAW_FIELDS = 3;
export const DOWN_FIELDS = 4;
export const ACC_FIELDS = 5;
export const ACC_U = 0;
export const ACC_D = 1;
export const ACC_T = 2;
export const ACC_DMAX = 3;
export const ACC_N = 4;

/** Identity of a series: the domain name, its uuid (null if unknown) and the vCPU number. */
export interface SeriesId {
  domain: string;
  uuid: string | null;
  vcpu: number;
}

/** Map key of a series. NUL cannot occur in a libvirt domain name or a uuid. */
export function seriesKey(domain: string, uuid: string | null, vcpu: number): string {
  return `${domain}\u0000${uuid ?? ""}\u0000${vcpu}`;
}

/** Bytes of typed-array storage one series takes. */
export function seriesBytes(rawCap: number, downCap: number): number {
  return ACC_FIELDS * 8 + (rawCap * RAW_FIELDS + downCap * DOWN_FIELDS) * 2;
}

export class Series implements SeriesId {
  readonly acc: Float64Array;
  readonly raw: Uint16Array;
  readonly down: Uint16Array;

  constructor(
    readonly domain: string,
    readonly uuid: string | null,
    readonly vcpu: number,
    rawCap: number,
    downCap: number,
    /** Wall time of the last sample that carried this series. */
    public lastWriteMs: number,
  ) {
    const buf = new ArrayBuffer(seriesBytes(rawCap, downCap));
    this.acc = new Float64Array(buf, 0, ACC_FIELDS);
    this.raw = new Uint16Array(buf, ACC_FIELDS * 8, rawCap * RAW_FIELDS);
    this.down = new Uint16Array(buf, ACC_FIELDS * 8 + rawCap * RAW_FIELDS * 2, downCap * DOWN_FIELDS);
    this.raw.fill(NO_DATA);
    this.down.fill(NO_DATA);
  }

  get key(): string {
    return seriesKey(this.domain, this.uuid, this.vcpu);
  }
}
