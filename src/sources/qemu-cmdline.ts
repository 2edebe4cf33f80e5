/** Pure parsing of a QEMU command line (argv) into what identifies the VM. */

export interface QemuIdentity {
  /** -name guest=X / -name X; null when absent. */
  name: string | null;
  /** -uuid, lower case; null when absent. */
  uuid: string | null;
  /** Proxmox's `-id VMID`; null when absent. */
  id: number | null;
  /** -smp: vCPUs at start and the maximum (hotplug). */
  vcpus: number;
  maxVcpus: number;
  /** -m: the guest's memory at start, bytes (QEMU's default 128 MiB when absent); null when unreadable. */
  memoryBytes?: number | null;
}

const SIZE_UNITS: Record<string, number> = { "": 2 ** 20, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** A -m size (`32`, `512M`, `4G`, `size=4G,slots=2,maxmem=8G`), bytes; a bare number is MiB, as QEMU reads it. */
export function parseQemuMemory(value: string): number | null {
  const { implied, keys } = parseQemuOptValue(value);
  const size = keys.get("size") ?? implied;
  const m = size === null ? null : /^(\d{1,12})([bkmgt]?)$/i.exec(size);
  if (!m) return null;
  const bytes = Number(m[1]) * (SIZE_UNITS[(m[2] ?? "").toLowerCase()] ?? 0);
  return bytes > 0 && bytes <= Number.MAX_SAFE_INTEGER ? bytes : null;
}

/** Is argv[0] a QEMU system emulator? (qemu-system-*, qemu-kvm, Proxmox's kvm wrapper) */
export function isQemuArgv0(argv0: string): boolean {
  const base = argv0.slice(argv0.lastIndexOf("/") + 1);
  return /^qemu-system-/.test(base) || base === "qemu-kvm" || base === "kvm";
}

/**
 * Splits a QEMU option value into an implied value and key=value pairs.
 * QEMU escapes a comma inside a value by doubling it.
 */
export function parseQemuOptValue(value: string): { implied: string | null; keys: Map<string, string> } {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === ",") {
      if (value[i + 1] === ",") {
        cur += ",";
        i++;
        continue;
      }
      parts.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  const keys = new Map<string, string>();
  let implied: string | null = null;
  parts.forEach((p, i) => {
    const eq = p.indexOf("=");
    if (eq < 0) {
      if (i === 0) implied = p;
      return;
    }
    keys.set(p.slice(0, eq), p.slice(eq + 1));
  });
  return { implied, keys };
}

function optValue(argv: readonly string[], opt: string): string | null {
  // QEMU accepts both -opt and --opt; the last occurrence wins.
  let v: string | null = null;
  for (let i = 1; i < argv.length - 1; i++) {
    if (argv[i] === opt || argv[i] === `-${opt}`) v = argv[i + 1] ?? null;
  }
  return v;
}

function positiveInt(s: string | undefined | null): number | null {
  if (s === undefined || s === null || !/^\d{1,6}$/.test(s)) return null;
  const n = Number(s);
  return n > 0 ? n : null;
}

/** `uuid=` of the first `-smbios type=1,…`, or null. */
function smbiosUuid(argv: readonly string[]): string | null {
  for (let i = 1; i < argv.length - 1; i++) {
    if (argv[i] !== "-smbios" && argv[i] !== "--smbios") continue;
    const { keys } = parseQemuOptValue(argv[i + 1] ?? "");
    if (keys.get("type") === "1" && keys.has("uuid")) return keys.get("uuid") ?? null;
  }
  return null;
}

export function parseQemuCmdline(argv: readonly string[]): QemuIdentity {
  let name: string | null = null;
  const nameOpt = optValue(argv, "-name");
  if (nameOpt !== null) {
    const { implied, keys } = parseQemuOptValue(nameOpt);
    name = keys.get("guest") ?? implied;
  }
  // Proxmox gives the UUID as `-smbios type=1,uuid=…` only.
  const uuidOpt = optValue(argv, "-uuid") ?? smbiosUuid(argv);
  const uuid = uuidOpt !== null && /^[0-9a-fA-F-]{36}$/.test(uuidOpt) ? uuidOpt.toLowerCase() : null;
  const id = positiveInt(optValue(argv, "-id"));

  let vcpus = 1;
  let maxVcpus = 1;
  const smp = optValue(argv, "-smp");
  if (smp !== null) {
    const { implied, keys } = parseQemuOptValue(smp);
    const topo = ["sockets", "dies", "clusters", "cores", "threads"]
      .map((k) => positiveInt(keys.get(k)))
      .filter((n): n is number => n !== null);
    const topoProduct = topo.length > 0 ? topo.reduce((a, b) => a * b, 1) : null;
    const max = positiveInt(keys.get("maxcpus"));
    vcpus = positiveInt(keys.get("cpus")) ?? positiveInt(implied) ?? max ?? topoProduct ?? 1;
    maxVcpus = max ?? (topoProduct !== null && topoProduct > vcpus ? topoProduct : vcpus);
  }
  const mem = optValue(argv, "-m");
  const memoryBytes = mem === null ? 128 * 2 ** 20 : parseQemuMemory(mem);
  return { name, uuid, id, vcpus, maxVcpus, memoryBytes };
}
