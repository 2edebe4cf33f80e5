import type { DomainState } from "../model/types.js";

/** Pure parsers for the virsh outputs the libvirt source uses (LC_ALL=C). */

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** `virsh list --all --uuid`: one UUID a line. Anything else is malformed output. */
export function parseUuidList(stdout: string): string[] {
  const out: string[] = [];
  for (const raw of stdout.split("\n")) {
    const line = raw.trim().toLowerCase();
    if (line === "") continue;
    if (!isUuid(line)) throw new Error(`unexpected line in 'virsh list --uuid' output: ${JSON.stringify(raw)}`);
    out.push(line);
  }
  return out;
}

const STATES: readonly DomainState[] = [
  "running",
  "idle",
  "paused",
  "in shutdown",
  "shut off",
  "crashed",
  "pmsuspended",
];

export function parseDomainState(s: string): DomainState {
  const t = s.trim() as DomainState;
  return STATES.includes(t) ? t : "unknown";
}

export interface DominfoRecord {
  uuid: string;
  name: string;
  id: number | null;
  state: DomainState;
  /** dominfo "CPU(s)": current vCPUs. */
  vcpuCurrent: number;
  /** From vcpucount: "maximum live", else "maximum config"; null when not given. */
  vcpuMaximum: number | null;
  /** dominfo "Used memory" (current memory, the balloon's size), bytes; null when not given. */
  memoryBytes?: number | null;
  /** dominfo "Max memory", bytes; null when not given. */
  maxMemoryBytes?: number | null;
}

/** A dominfo memory value (`32768 KiB`) in bytes; null when it is not one. */
function kibBytes(v: string): number | null {
  const m = /^(\d{1,13}) KiB$/.exec(v.trim());
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * Parses the concatenated output of a batch of `dominfo UUID; vcpucount UUID` commands.
 * dominfo prints `%-15s %s` lines, so a value starts at column 16 — this keeps names with
 * leading or trailing spaces exact.
 */
export function parseDominfoBatch(stdout: string): DominfoRecord[] {
  const records: DominfoRecord[] = [];
  let cur: Partial<DominfoRecord> & { maxLive?: number; maxConfig?: number } = {};
  const flush = (): void => {
    if (cur.uuid && cur.name !== undefined && cur.state !== undefined && cur.vcpuCurrent !== undefined) {
      records.push({
        uuid: cur.uuid,
        name: cur.name,
        id: cur.id ?? null,
        state: cur.state,
        vcpuCurrent: cur.vcpuCurrent,
        vcpuMaximum: cur.maxLive ?? cur.maxConfig ?? null,
        memoryBytes: cur.memoryBytes ?? null,
        maxMemoryBytes: cur.maxMemoryBytes ?? null,
      });
    }
    cur = {};
  };
  for (const line of stdout.split("\n")) {
    const key = line.slice(0, 15).trimEnd();
    const value = line.length > 16 ? line.slice(16) : "";
    switch (key) {
      case "Id:":
        flush();
        cur.id = /^\d+$/.test(value.trim()) ? Number(value.trim()) : null;
        continue;
      case "Name:":
        cur.name = value;
        continue;
      case "UUID:":
        cur.uuid = value.trim().toLowerCase();
        continue;
      case "State:":
        cur.state = parseDomainState(value);
        continue;
      case "CPU(s):":
        cur.vcpuCurrent = Number(value.trim());
        continue;
      case "Used memory:":
        cur.memoryBytes = kibBytes(value);
        continue;
      case "Max memory:":
        cur.maxMemoryBytes = kibBytes(value);
        continue;
    }
    const m = /^(maximum|current)\s+(config|live)\s+(\d+)\s*$/.exec(line);
    if (m && m[1] === "maximum") {
      if (m[2] === "live") cur.maxLive = Number(m[3]);
      else cur.maxConfig = Number(m[3]);
    }
  }
  flush();
  return records;
}
