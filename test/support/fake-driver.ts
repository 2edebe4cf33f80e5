/**
 * A stand-in for libvirt in unit tests of the migration executor and the controller's apply
 * mode (the real thing, two libvirt hosts, is test/e2e/migrate.test.ts): an in-memory fleet.
 */
import type { DomainRef, MigrationDriver, TargetXml } from "../../src/migrate/driver.js";
import { placementOf, sharedCpuSet } from "../../src/migrate/placement.js";
import { parseJobInfo } from "../../src/migrate/jobinfo.js";

/** An in-memory fleet: where each VM is; migrations take `ms` and may fail or hang. */
export class FakeDriver implements MigrationDriver {
  /** Where each VM is; `cpus`: its placement (`<vcpu cpuset>` and `<emulatorpin>`), null when unconfined. */
  readonly at = new Map<string, { host: string; uuid: string; state: string; cpus: string | null }>();
  readonly log: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  readonly aborts: string[] = [];
  constructor(
    placement: Record<string, string>,
    readonly behave: (vm: string) => { ms: number; fail?: string; hang?: boolean } = () => ({ ms: 5 }),
  ) {
    let i = 0;
    for (const [vm, host] of Object.entries(placement))
      this.at.set(vm, { host, uuid: `00000000-0000-0000-0000-00000000000${i++}`, state: "running", cpus: null });
  }
  async domainXml(h: { name: string }, uuid: string): Promise<string> {
    const d = [...this.at.entries()].find(([, x]) => x.uuid === uuid && x.host === h.name);
    if (!d) throw new Error(`no domain ${uuid} on ${h.name}`);
    const [name, x] = d;
    const set = x.cpus === null ? "" : ` cpuset='${x.cpus}'`;
    const tune = x.cpus === null ? "" : `  <cputune>\n    <emulatorpin cpuset='${x.cpus}'/>\n  </cputune>\n`;
    return `<domain type='kvm'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n  <vcpu placement='static'${set}>1</vcpu>\n${tune}</domain>\n`;
  }
  async find(h: { name: string }, name: string): Promise<DomainRef | null> {
    const d = this.at.get(name);
    return d && d.host === h.name ? { uuid: d.uuid, name, state: d.state } : null;
  }
  /** The XML each migration was given (null: none, the VM keeps its placement as libvirt does). */
  readonly xmlGiven: (TargetXml | null)[] = [];
  migrate(dom: DomainRef, from: { name: string }, to: { name: string }, xml?: TargetXml) {
    this.xmlGiven.push(xml ?? null);
    const b = this.behave(dom.name);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.log.push(`start ${dom.name} ${from.name}->${to.name}`);
    let finish: (r: { ok: boolean; error: string }) => void = () => undefined;
    const done = new Promise<{ ok: boolean; error: string }>((resolve) => {
      this.running.add(dom.uuid);
      finish = (r) => {
        this.running.delete(dom.uuid);
        this.inFlight--;
        resolve(r);
      };
      if (!b.hang)
        setTimeout(() => {
          if (b.fail) return finish({ ok: false, error: b.fail });
          const d = this.at.get(dom.name);
          if (!d) return finish({ ok: false, error: "operation failed: domain is not running" }); // destroyed meanwhile
          d.host = to.name;
          if (xml) d.cpus = sharedCpuSet(placementOf(xml.live));
          finish({ ok: true, error: "" });
        }, b.ms);
    });
    this.abortHook.set(dom.uuid, () =>
      finish({ ok: false, error: "operation aborted: migration out job: canceled by client" }),
    );
    return { command: ["virsh", "migrate", dom.uuid], done, kill: () => undefined };
  }
  private abortHook = new Map<string, () => void>();
  /** UUIDs with a migration under way. */
  readonly running = new Set<string>();
  async jobInfo(_h: unknown, uuid: string) {
    if (!this.running.has(uuid)) return null;
    return parseJobInfo("type=Unbounded\ndata_processed=10\ndata_remaining=30\ndata_total=40\n");
  }
  async abort(_h: unknown, uuid: string): Promise<string | null> {
    this.aborts.push(uuid);
    this.abortHook.get(uuid)?.();
    return null;
  }
}
