/**
 * What the executor needs from libvirt, and its implementation with virsh. Domains are
 * addressed by UUID once found by exact name (virsh would take a name like "7" for domain ID 7).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostEndpoint } from "./hosts.js";
import { parseJobInfo, type JobProgress } from "./jobinfo.js";
import { execVirsh, virshError, virshRun, type VirshRunner } from "./virsh.js";

export interface DomainRef {
  uuid: string;
  name: string;
  /** virsh domstate: running, paused, shut off… */
  state: string;
}

export interface MigrationHandle {
  /** The command, for the audit log. */
  command: string[];
  done: Promise<{ ok: boolean; error: string }>;
  /** Stops waiting for the client (after an abort that did not end it). */
  kill(): void;
}

export class HostUnreachableError extends Error {
  constructor(
    readonly host: string,
    message: string,
  ) {
    super(message);
    this.name = "HostUnreachableError";
  }
}

/** The domain XML the VM is to have on the target (rewritten for the target's CPU placement). */
export interface TargetXml {
  /** For the running VM (`virsh migrate --xml`). */
  live: string;
  /** For its persistent definition (`--persistent-xml`). */
  persistent: string;
}

export interface MigrationDriver {
  /** The domain called exactly `name` on host h, or null; HostUnreachableError if h does not answer. */
  find(h: HostEndpoint, name: string): Promise<DomainRef | null>;
  /** The domain's XML in its migratable form: the running VM's, or (inactive) its persistent definition. */
  domainXml(h: HostEndpoint, uuid: string, inactive: boolean): Promise<string>;
  /**
   * true when the VM's platform (Nova, Proxmox) places it on the target itself: vsteal then
   * never rewrites its XML. Absent: libvirt alone, vsteal places it.
   */
  managesPlacement?(uuid: string): boolean;
  /** Starts the live migration; with `xml`, the VM gets that XML on the target (live and persistent). */
  migrate(dom: DomainRef, from: HostEndpoint, to: HostEndpoint, xml?: TargetXml): MigrationHandle;
  /** The running job of the domain, null when none or unknown. */
  jobInfo(h: HostEndpoint, uuid: string): Promise<JobProgress | null>;
  /** Aborts the domain's job; null when done, else why not. */
  abort(h: HostEndpoint, uuid: string): Promise<string | null>;
}

const UUID_LINE = /^([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}) (.*)$/;

/** The command line of a live migration of `uuid` from `from` to `to`, as virsh argv. */
export function migrateArgs(uuid: string, to: HostEndpoint, xmlFiles?: { live: string; persistent: string }): string[] {
  const args = ["migrate", "--live"];
  if (to.p2p) args.push("--p2p");
  args.push("--persistent", "--undefinesource", "--domain", uuid, "--desturi", to.p2p ? to.peerUri : to.uri);
  if (to.migrateUri) args.push("--migrateuri", to.migrateUri);
  if (xmlFiles) args.push("--xml", xmlFiles.live, "--persistent-xml", xmlFiles.persistent);
  return args;
}

/** The target XML in a private directory (mode 0700, files 0600) that `cleanup` removes. */
function writeTargetXml(xml: TargetXml): { files: { live: string; persistent: string }; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-migrate-"));
  const files = { live: join(dir, "live.xml"), persistent: join(dir, "persistent.xml") };
  writeFileSync(files.live, xml.live, { mode: 0o600, flag: "wx" });
  writeFileSync(files.persistent, xml.persistent, { mode: 0o600, flag: "wx" });
  return { files, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function virshDriver(
  runner: VirshRunner = execVirsh(),
  opts: { migrateTimeoutMs?: number } = {},
): MigrationDriver {
  return {
    async find(h, name) {
      const r = await virshRun(runner, h.uri, ["list", "--all", "--uuid", "--name"], 30_000);
      if (r.code !== 0) throw new HostUnreachableError(h.name, `${h.name} (${h.uri}): ${virshError(r)}`);
      for (const line of r.stdout.split("\n")) {
        const m = UUID_LINE.exec(line);
        if (!m || m[2] !== name) continue;
        const s = await virshRun(runner, h.uri, ["domstate", "--domain", m[1]!], 30_000);
        return { uuid: m[1]!, name, state: s.code === 0 ? s.stdout.trim() : "unknown" };
      }
      return null;
    },
    async domainXml(h, uuid, inactive) {
      const r = await virshRun(
        runner,
        h.uri,
        ["dumpxml", "--migratable", ...(inactive ? ["--inactive"] : []), "--domain", uuid],
        30_000,
      );
      if (r.code !== 0) throw new HostUnreachableError(h.name, `${h.name} (${h.uri}): dumpxml: ${virshError(r)}`);
      return r.stdout;
    },
    migrate(dom, from, to, xml) {
      const tmp = xml ? writeTargetXml(xml) : null;
      const args = migrateArgs(dom.uuid, to, tmp?.files);
      // The executor enforces its own timeout (abort, then kill); this one is a last resort.
      const call = runner.start(from.uri, args, opts.migrateTimeoutMs ?? 24 * 3_600_000);
      return {
        command: ["virsh", "--connect", from.uri, ...args],
        done: call.done
          .finally(() => tmp?.cleanup())
          .then((r) => ({ ok: r.code === 0, error: r.code === 0 ? "" : virshError(r) })),
        kill: () => {
          call.child?.kill("SIGTERM");
        },
      };
    },
    async jobInfo(h, uuid) {
      const r = await virshRun(runner, h.uri, ["domjobinfo", "--domain", uuid, "--rawstats"], 10_000);
      if (r.code !== 0) return null;
      return parseJobInfo(r.stdout);
    },
    async abort(h, uuid) {
      const r = await virshRun(runner, h.uri, ["domjobabort", "--domain", uuid], 30_000);
      return r.code === 0 ? null : virshError(r);
    },
  };
}
