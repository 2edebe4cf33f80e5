/** The public types of the embedded history. */

/** Which stored tier answered a query. */
export type Tier = "raw" | "10m";

export interface HistoryQuery {
  /** Only this domain (by name). */
  domain?: string;
  /** Only this domain instance (by uuid). */
  uuid?: string;
  /** Only this vCPU number. */
  vcpu?: number;
  /** Range, wall-clock ms, inclusive. */
  fromMs: number;
  toMs: number;
  /** Re-bucket the points to this step (mean per step, max of delayMax); ignored when not coarser than the tier. */
  stepS?: number;
  /** Force a tier; by default the raw tier when the range lies within the last hour, else the 10-minute tier. */
  tier?: Tier;
  /** The request's "now" (the one its `now-1h` was read against), for the choice of tier. */
  nowMs?: number;
}

/** One point: fractions of wall time (1 = a whole core). */
export interface HistoryPoint {
  /** ms since the epoch: the sample's time (raw), or the start of the bucket / step. */
  t: number;
  usage: number;
  delay: number;
  throttled: number;
  /** delay − throttled, never negative. */
  contention: number;
  /** Highest delay of one sample within the point (equals delay on the raw tier). */
  delayMax: number;
}

export interface HistorySeries {
  domain: string;
  uuid: string | null;
  vcpu: number;
  tier: Tier;
  /** Resolution of the points, seconds. */
  stepS: number;
  points: HistoryPoint[];
}

/** A point summed over a domain's vCPUs (usage etc. in cores; steal % = delay / vcpus). */
export interface DomainPoint extends HistoryPoint {
  /** vCPUs that had data at this point. delayMax is the highest of one vCPU. */
  vcpus: number;
}

export interface DomainQuery {
  domain?: string;
  uuid?: string;
  fromMs: number;
  toMs: number;
  stepS?: number;
  tier?: Tier;
  /** The request's "now" (the one its `now-1h` was read against), for the choice of tier. */
  nowMs?: number;
}

export interface HistoryDomainSeries {
  domain: string;
  uuid: string | null;
  /** vCPU numbers that contributed. */
  vcpus: number[];
  tier: Tier;
  stepS: number;
  points: DomainPoint[];
}

export interface DomainSeen {
  domain: string;
  uuid: string | null;
  vcpus: number[];
  /** Wall time of the newest sample that carried one of its vCPUs. */
  lastSeenMs: number;
}

/** Something that went wrong without stopping the history; also passed to `onError`. */
export interface HistoryProblem {
  op: "open" | "snapshot" | "journal" | "record";
  message: string;
  /** errno code when the cause was a system call (ENOSPC, EACCES, ...). */
  code?: string;
  path?: string;
}

/** What happened to one persisted file when the history was opened. */
export interface FileReport {
  path: string;
  status: "loaded" | "missing" | "set-aside" | "unreadable" | "disabled";
  /** Why a file was not loaded. */
  reason?: string;
  /** Where a damaged file was moved (`<name>.corrupt-<timestamp>`). */
  movedTo?: string;
}

export interface OpenReport {
  dir: string | null;
  snapshot: FileReport & { series: number; rawPoints: number; bucketPoints: number; savedAtMs: number | null };
  journal: FileReport & { samplesReplayed: number; samplesAlreadyInSnapshot: number; tornBytes: number };
  /** Series in memory after opening. */
  series: number;
  /** Wall time of the newest sample loaded, null when empty. */
  lastSampleMs: number | null;
  /** One line per problem, for a log; empty when everything loaded cleanly. */
  problems: HistoryProblem[];
}

export type FlushResult =
  | { ok: true; skipped?: string; path?: string; bytes?: number; series?: number; ms?: number }
  | { ok: false; error: string; code?: string };
