import type * as FsPromises from "node:fs/promises";
import { join } from "node:path";
import type { DomainThreads, PlatformIdentity, SampleProblem } from "../model/types.js";
import type { MetadataPick } from "../platforms/metadata-picks.js";
import { LibvirtUnavailableError, SourceError } from "./errors.js";
import { parseDominfoBatch, parseUuidList, type DominfoRecord } from "./libvirt-parse.js";
import { readStatusRecords, runFileNames } from "./libvirt-status.js";
import { dumpDomainXmls } from "./platform-identity.js";
import { parseQemuCmdline } from "./qemu-cmdline.js";
import type { Discovery, DomainSource } from "./source.js";
import { DomainResourceReader } from "./domain-resources.js";
import { VcpuThreadFinder } from "./threads.js";
import { watchDirectory, watchQemuProcesses } from "./watch.js";
import { DEFAULT_URI, runVirsh, throwIfUnreachable } from "./virsh.js";
import { virshErrorLine } from "../libvirt/virsh.js";
import { lazyBuiltin } from "../util/lazy-builtin.js";

/** Loaded when a pid file is read: a domstats of running domains reads none (~2 ms of its start). */
const fsp = lazyBuiltin<typeof FsPromises>("node:fs/promises");

export interface LibvirtSourceOptions {
  uri?: string;
  procRoot?: string;
  /** Where libvirt's QEMU driver writes `<name>.pid` (qemu:///system: /run/libvirt/qemu). */
  runDir?: string;
  virsh?: string;
  timeoutMs?: number;
  /** Elements of each domain's `<metadata>` to report (`--domain-metadata`). */
  metadataPicks?: readonly MetadataPick[];
  /**
   * Only these domains (names, UUIDs or ids, as virsh takes them): discovery then reads
   * libvirt's status files when they all are running domains this user may read, else is one
   * virsh run instead of two. A domain virsh does not know is simply absent from the discovery.
   */
  domains?: readonly string[];
  /**
   * Read each domain's platform identity from its XML (default true). `vsteal domstats`, which
   * prints none, says false: no `virsh dumpxml`, and the XML parser is never loaded.
   */
  platformIdentity?: boolean;
  /**
   * Read each domain's resources at discovery — CPU caps, memory, each vCPU thread's affinity
   * (default true). `vsteal domstats`, which prints none of them, says false.
   */
  resources?: boolean;
}

/**
 * One argument for virsh's own command parser (its batch mode): single-quoted, a quote inside
 * written as '\'' as in a POSIX shell. virsh copies everything between single quotes as it is,
 * so `;`, `#`, spaces and newlines in a domain's name stay part of the name.
 */
export function virshQuote(arg: string): string {
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

/** Is this URI one whose VMs run on this machine (so /proc shows their threads)? */
export function isLocalUri(uri: string): boolean {
  const m = /^([a-z0-9+]+):\/\/([^/]*)\//i.exec(uri);
  if (!m) return false;
  const transport = (m[1] ?? "").split("+")[1];
  const host = m[2] ?? "";
  return (
    (host === "" || host === "localhost" || host === "127.0.0.1") && (transport === undefined || transport === "unix")
  );
}

/** Does this URI name libvirt's QEMU driver on this machine (whose run directory holds status files)? */
function isLocalQemuUri(uri: string): boolean {
  return /^qemu(\+unix)?:\/\/(localhost)?\/(system|session)(\?.*)?$/.test(uri);
}

function defaultRunDir(uri: string): string {
  if (/\/session(\?|$)/.test(uri)) {
    const xdg = process.env.XDG_RUNTIME_DIR ?? `/run/user/${process.getuid?.() ?? 0}`;
    return join(xdg, "libvirt", "qemu", "run");
  }
  return "/run/libvirt/qemu";
}

/**
 * Domains from libvirt through virsh (execFile, never a shell, never QEMU's monitor):
 * two virsh runs per discovery whatever the number of domains — `list --all --uuid`, then one
 * batch of `dominfo UUID; vcpucount UUID` (UUIDs are validated, so nothing a domain's name
 * holds ever reaches virsh's command parser).
 */
export class LibvirtSource implements DomainSource {
  readonly kind = "libvirt" as const;
  readonly description: string;
  readonly uri: string;
  private readonly procRoot: string;
  private readonly runDir: string;
  private readonly threads: VcpuThreadFinder;
  private readonly resources: DomainResourceReader;
  /** Platform identity per domain instance (`uuid|id`), read once from its XML. */
  private identities = new Map<string, PlatformIdentity | undefined>();
  /** QEMU pids by UUID, when the last discovery read them from libvirt's status files. */
  private statusPids = new Map<string, number>();

  constructor(private readonly opts: LibvirtSourceOptions = {}) {
    this.uri = opts.uri ?? DEFAULT_URI;
    if (!isLocalUri(this.uri)) {
      throw new SourceError(
        `--connect ${this.uri}: vsteal reads the vCPU threads from this machine's /proc, so it needs a local URI such as qemu:///system; run vsteal on that host instead`,
      );
    }
    this.procRoot = opts.procRoot ?? "/proc";
    this.runDir = opts.runDir ?? defaultRunDir(this.uri);
    this.description = `libvirt ${this.uri}`;
    this.threads = new VcpuThreadFinder(this.procRoot, { affinity: opts.resources !== false });
    this.resources = new DomainResourceReader(this.procRoot);
  }

  /**
   * libvirt's QEMU driver writes `<name>.pid` when a domain's QEMU starts (also an incoming
   * migration), removes it when it ends, and rewrites the status `<name>.xml` on every state
   * change: watching that directory (inotify) sees every start, stop, arrival and departure.
   */
  watch(onChange: () => void, onNote?: (message: string) => void): () => void {
    let procs: (() => void) | null = null;
    const dir = watchDirectory(this.runDir, onChange, {
      names: (n) => n.endsWith(".pid") || n.endsWith(".xml"),
      // Root-only on some distributions: then QEMU processes coming and going are seen in /proc
      // (starts, stops and migrations; a live pinning or cap change waits for the period).
      onDenied: (code) => {
        onNote?.(
          `cannot watch ${this.runDir} (${code}): watching /proc for QEMU processes instead; run as a user who may read it for pinning and cap changes at once`,
        );
        procs = watchQemuProcesses(this.procRoot, onChange);
      },
    });
    return () => {
      dir();
      procs?.();
    };
  }

  private virsh(args: string[]) {
    return runVirsh(args, { uri: this.uri, virsh: this.opts.virsh, timeoutMs: this.opts.timeoutMs });
  }

  /** Checks that libvirt answers; throws LibvirtUnavailableError otherwise. */
  async ping(): Promise<void> {
    const res = await this.virsh(["uri"]);
    throwIfUnreachable(res, this.uri);
    if (res.code !== 0) throw new LibvirtUnavailableError(this.uri, virshErrorLine(res.stderr));
  }

  /** Domains as libvirt knows them, without threads. */
  async listDomains(): Promise<{ records: DominfoRecord[]; problems: SampleProblem[] }> {
    if (this.opts.domains !== undefined) return this.listNamed(this.opts.domains);
    const list = await this.virsh(["list", "--all", "--uuid"]);
    throwIfUnreachable(list, this.uri);
    if (list.code !== 0) throw new LibvirtUnavailableError(this.uri, virshErrorLine(list.stderr));
    let uuids: string[];
    try {
      uuids = parseUuidList(list.stdout);
    } catch (e) {
      throw new SourceError(`malformed virsh output: ${(e as Error).message}; is 'virsh' really libvirt's virsh?`);
    }
    if (uuids.length === 0) return { records: [], problems: [] };
    const batch = uuids.map((u) => `dominfo ${u}; vcpucount ${u}`).join("; ");
    const res = await this.virsh([batch]);
    throwIfUnreachable(res, this.uri);
    const records = parseDominfoBatch(res.stdout);
    const problems: SampleProblem[] = [];
    const seen = new Set(records.map((r) => r.uuid));
    for (const u of uuids) {
      // A domain undefined between the two virsh runs: say so, carry on with the rest.
      if (!seen.has(u)) problems.push({ domain: u, message: `domain ${u} vanished during discovery` });
    }
    return { records, problems };
  }

  /** The named domains in one virsh run: `dominfo --domain 'X'; vcpucount --domain 'X'` for each. */
  private async listNamed(names: readonly string[]): Promise<{ records: DominfoRecord[]; problems: SampleProblem[] }> {
    const unique = [...new Set(names)];
    this.statusPids.clear();
    if (unique.length === 0) return { records: [], problems: [] };
    const fromFiles = isLocalQemuUri(this.uri) ? readStatusRecords(this.runDir, this.procRoot, unique) : null;
    if (fromFiles !== null) {
      const records: DominfoRecord[] = [];
      for (const { pid, ...rec } of fromFiles) {
        if (this.statusPids.has(rec.uuid)) continue;
        this.statusPids.set(rec.uuid, pid);
        records.push(rec);
      }
      return { records, problems: [] };
    }
    const batch = unique
      .map((n) => `dominfo --domain ${virshQuote(n)}; vcpucount --domain ${virshQuote(n)}`)
      .join("; ");
    const res = await this.virsh([batch]);
    throwIfUnreachable(res, this.uri);
    const seen = new Set<string>();
    const records = parseDominfoBatch(res.stdout).filter((r) => !seen.has(r.uuid) && seen.add(r.uuid));
    return { records, problems: [] };
  }

  private async pidOf(rec: DominfoRecord, byUuid: () => Promise<Map<string, number>>): Promise<number | null> {
    const known = this.statusPids.get(rec.uuid);
    if (known !== undefined) return known;
    // libvirt 9 names the pid file after the XML-escaped name (`a&apos;b.pid`); older ones after the name.
    for (const name of runFileNames(rec.name)) {
      try {
        const text = await fsp().readFile(join(this.runDir, `${name}.pid`), "utf8");
        const pid = Number(text.trim());
        if (Number.isInteger(pid) && pid > 0) return pid;
      } catch {
        // not there, or not readable here (other URI, permissions)
      }
    }
    // Last resort: the QEMU process whose -uuid is the domain's.
    return (await byUuid()).get(rec.uuid) ?? null;
  }

  /**
   * Platform identity of each domain, from its XML, read once per domain instance (a restart
   * gets a new id and is read again): one batch of `virsh dumpxml` for the new ones.
   */
  private async platformOf(
    records: readonly DominfoRecord[],
    problems: SampleProblem[],
  ): Promise<Map<string, PlatformIdentity | undefined>> {
    const keyOf = (r: DominfoRecord): string => `${r.uuid}|${r.id ?? "-"}`;
    const fresh = records.filter((r) => !this.identities.has(keyOf(r)));
    if (fresh.length > 0) {
      const { identityFromDomainXml } = await import("../platforms/identity.js");
      let xmls = new Map<string, string>();
      try {
        xmls = await dumpDomainXmls(
          (args) => this.virsh(args),
          fresh.map((r) => r.uuid),
        );
      } catch (e) {
        problems.push({ domain: "*", message: `platform metadata not read: ${(e as Error).message}` });
      }
      for (const r of fresh) {
        const xml = xmls.get(r.uuid);
        if (xml === undefined) continue; // vanished, or virsh failed: try again next discovery
        const id = identityFromDomainXml(xml, this.opts.metadataPicks);
        for (const w of id.warnings) problems.push({ domain: r.name, message: w });
        this.identities.set(keyOf(r), id.platform);
      }
    }
    const live = new Set(records.map(keyOf));
    for (const k of [...this.identities.keys()]) if (!live.has(k)) this.identities.delete(k);
    return new Map(records.map((r) => [r.uuid, this.identities.get(keyOf(r))]));
  }

  async discover(): Promise<Discovery> {
    const { records, problems } = await this.listDomains();
    const platforms =
      this.opts.platformIdentity === false ? new Map<string, undefined>() : await this.platformOf(records, problems);
    let qemuByUuid: Promise<Map<string, number>> | null = null;
    const byUuid = (): Promise<Map<string, number>> => {
      qemuByUuid ??= import("./qemu.js").then(async ({ findQemuProcesses }) => {
        const ps = await findQemuProcesses(this.procRoot);
        const m = new Map<string, number>();
        for (const p of ps) {
          const id = parseQemuCmdline(p.argv);
          if (id.uuid) m.set(id.uuid, p.pid);
        }
        return m;
      });
      return qemuByUuid;
    };
    const domains: DomainThreads[] = [];
    for (const rec of records) {
      const active = rec.id !== null;
      const base: DomainThreads = {
        name: rec.name,
        uuid: rec.uuid,
        id: rec.id,
        state: rec.state,
        vcpuCurrent: rec.vcpuCurrent,
        vcpuMaximum: rec.vcpuMaximum ?? rec.vcpuCurrent,
        pid: null,
        source: "libvirt",
        vcpus: [],
      };
      const platform = platforms.get(rec.uuid);
      if (platform) base.platform = platform;
      if (active) {
        const pid = await this.pidOf(rec, byUuid);
        if (pid === null) {
          problems.push({ domain: rec.name, message: `no QEMU process found for running domain '${rec.name}'` });
        } else {
          try {
            base.pid = pid;
            const unreadable: Array<{ tid: number; message: string }> = [];
            base.vcpus = this.threads.find(pid, unreadable);
            for (const u of unreadable) problems.push({ domain: rec.name, tid: u.tid, message: u.message });
            if (this.opts.resources !== false)
              base.resources = this.resources.read(pid, base.vcpus, {
                current: rec.memoryBytes ?? null,
                maximum: rec.maxMemoryBytes ?? null,
              });
          } catch (e) {
            problems.push({ domain: rec.name, message: `QEMU process ${pid} vanished: ${(e as Error).message}` });
            base.pid = null;
          }
        }
      }
      domains.push(base);
    }
    this.threads.retain(domains.flatMap((d) => (d.pid === null ? [] : [d.pid])));
    return { domains, problems };
  }
}
