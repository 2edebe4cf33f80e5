import { existsSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LibvirtSource, Sampler, computeRates } from "../../src/index.js";
import { describeE2E } from "./env.js";
import { runningTestbedDomains, testbed, virsh, virshDomstats, vsteal } from "./virsh.js";

interface JsonRecord {
  domain: string;
  uuid: string | null;
  id: number | null;
  state: string;
  stats: Record<string, number>;
}

/** Our JSON keeps ns counters exact: read them back as bigints. */
function parseExact(text: string): Array<JsonRecord & { big: Map<string, bigint> }> {
  const recs = JSON.parse(text) as JsonRecord[];
  // Re-read integer stats exactly from the text: JSON.parse rounds above 2^53.
  return recs.map((r) => {
    const big = new Map<string, bigint>();
    for (const k of Object.keys(r.stats)) {
      const m = new RegExp(`"${k.replace(/\./g, "\\.")}": (\\d+)[,\\n]`).exec(
        text.slice(text.indexOf(`"domain": ${JSON.stringify(r.domain)}`)),
      );
      if (m) big.set(k, BigInt(m[1] ?? "0"));
    }
    return { ...r, big };
  });
}

describeE2E("vsteal domstats on the real testbed", () => {
  beforeAll(() => {
    testbed("up", "3");
  });

  it("prints every running testbed domain with virsh's keys", () => {
    const r = vsteal("domstats", "--vcpu", "--raw", "--source", "libvirt");
    expect(r.code).toBe(0);
    const lv = virshDomstats();
    for (const name of runningTestbedDomains()) {
      expect(r.stdout).toContain(`Domain: '${name}'\n`);
      const stats = lv.get(name)!;
      const n = Number(stats.get("vcpu.current"));
      expect(r.stdout).toMatch(
        new RegExp(`Domain: '${name}'\\n  vcpu\\.current=${n}\\n  vcpu\\.maximum=${stats.get("vcpu.maximum")}\\n`),
      );
      for (let i = 0; i < n; i++)
        for (const k of ["state", "time", "wait", "delay"]) expect(r.stdout).toContain(`  vcpu.${i}.${k}=`);
    }
  });

  it("each vCPU's delay lies between libvirt's readings just before and just after ours", () => {
    const before = virshDomstats();
    const r = vsteal("domstats", "--json", "--source", "libvirt");
    const after = virshDomstats();
    expect(r.code).toBe(0);
    let checked = 0;
    for (const rec of parseExact(r.stdout)) {
      const b = before.get(rec.domain);
      const a = after.get(rec.domain);
      if (!b || !a || rec.id === null) continue;
      for (let i = 0; i < rec.stats["vcpu.current"]!; i++) {
        const ours = rec.big.get(`vcpu.${i}.delay`)!;
        expect(ours).toBeGreaterThanOrEqual(BigInt(b.get(`vcpu.${i}.delay`)!));
        expect(ours).toBeLessThanOrEqual(BigInt(a.get(`vcpu.${i}.delay`)!));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
  });

  it("with more busy vCPUs than host cores, the delay ratios are what the kernel counters imply", async () => {
    const sampler = new Sampler({ source: new LibvirtSource(), discoveryIntervalMs: Number.POSITIVE_INFINITY });
    try {
      await sampler.refresh();
      const lvBefore = virshDomstats();
      const t0 = process.hrtime.bigint();
      const s0 = sampler.sweep();
      await new Promise((r) => setTimeout(r, 3000));
      const s1 = sampler.sweep();
      const lvAfter = virshDomstats();
      const t1 = process.hrtime.bigint();
      const rates = computeRates(s0, s1);
      const vcpus = rates.domains.filter((d) => d.domain.name.startsWith("vsteal-test-")).flatMap((d) => d.vcpus);
      const cores = cpus().length;
      expect(vcpus.length).toBeGreaterThan(cores);
      const usage = vcpus.reduce((a, v) => a + v.usage, 0);
      const delay = vcpus.reduce((a, v) => a + v.delay, 0);
      // Spinning vCPUs are always runnable: each either ran or waited, all the time.
      expect(usage + delay).toBeGreaterThan(vcpus.length * 0.9);
      expect(usage + delay).toBeLessThanOrEqual(vcpus.length + 1e-9);
      // They cannot run on more than the host's cores; the rest of the time they waited.
      expect(usage).toBeLessThanOrEqual(cores * 1.02);
      expect(delay).toBeGreaterThan(vcpus.length - cores - 0.5);
      // Each vCPU's ratio agrees with libvirt's counters over (nearly) the same interval.
      const dtLv = Number(t1 - t0) / 1e9;
      for (const d of rates.domains) {
        if (!d.domain.name.startsWith("vsteal-test-")) continue;
        for (const v of d.vcpus) {
          const lvDelay =
            Number(
              BigInt(lvAfter.get(d.domain.name)!.get(`vcpu.${v.vcpu}.delay`)!) -
                BigInt(lvBefore.get(d.domain.name)!.get(`vcpu.${v.vcpu}.delay`)!),
            ) /
            1e9 /
            dtLv;
          expect(Math.abs(v.delay - lvDelay)).toBeLessThan(0.12);
        }
      }
    } finally {
      sampler.close();
    }
  });

  it("adds delay.ratio and time.ratio with --interval", () => {
    const r = vsteal("domstats", "--interval", "1", "--source", "libvirt", "vsteal-test-3");
    expect(r.code).toBe(0);
    const ratios = [...r.stdout.matchAll(/vcpu\.(\d+)\.(delay|time)\.ratio=([0-9.]+)/g)];
    expect(ratios.length).toBe(2 * 3);
    for (const m of ratios) {
      expect(Number(m[3])).toBeGreaterThanOrEqual(0);
      expect(Number(m[3])).toBeLessThanOrEqual(1);
    }
  });

  it("named running domains read from libvirt's status files are exactly what virsh says", async () => {
    const running = runningTestbedDomains();
    const uuid = virsh("domuuid", running[0]!).trim();
    const id = virsh("domid", running[1]!).trim();
    const names = [...running, uuid, id];
    // A run directory that is not there: the same source asks virsh (dominfo + vcpucount).
    // No virsh at all on the way through the status files (a virsh that is not there would fail).
    const fromFiles = await new LibvirtSource({
      domains: names,
      platformIdentity: false,
      virsh: join(tmpdir(), "vsteal-no-such-virsh"),
    }).discover();
    const fromVirsh = await new LibvirtSource({
      domains: names,
      platformIdentity: false,
      runDir: join(tmpdir(), "vsteal-no-such-run-dir"),
    }).discover();
    expect(fromFiles.domains.length).toBe(running.length);
    expect(fromFiles).toEqual(fromVirsh);
    // What domstats asks (resources: false): the same domains and vCPU threads, with no caps,
    // memory or affinity read; the full discovery has them.
    const bare = await new LibvirtSource({ domains: names, platformIdentity: false, resources: false }).discover();
    expect(fromFiles.domains.every((d) => d.resources !== undefined && d.vcpus.every((v) => "affinity" in v))).toBe(
      true,
    );
    expect(bare.domains.some((d) => d.resources !== undefined || d.vcpus.some((v) => "affinity" in v))).toBe(false);
    expect(bare.domains).toEqual(
      fromFiles.domains.map(({ resources: _r, ...d }) => ({
        ...d,
        vcpus: d.vcpus.map(({ vcpu, tid }) => ({ vcpu, tid })),
      })),
    );
    // And the command prints the same domains, in the order asked, as virsh names them.
    const r = vsteal("domstats", "--vcpu", "--source", "libvirt", ...names);
    expect(r.code).toBe(0);
    expect([...r.stdout.matchAll(/^Domain: '(.*)'$/gm)].map((m) => m[1])).toEqual([...running, running[0], running[1]]);
  });

  it("a domain destroyed during a sample is skipped and said; the rest is sampled", async () => {
    testbed("define", "vsteal-test-gone", "1");
    const sampler = new Sampler({ source: new LibvirtSource(), discoveryIntervalMs: Number.POSITIVE_INFINITY });
    try {
      await sampler.refresh();
      virsh("destroy", "vsteal-test-gone");
      const s = sampler.sweep();
      const gone = s.domains.find((d) => d.domain.name === "vsteal-test-gone");
      expect(gone?.vcpus ?? []).toEqual([]);
      expect(s.problems.some((p) => p.domain === "vsteal-test-gone" && /gone/.test(p.message))).toBe(true);
      const others = s.domains.filter((d) => /^vsteal-test-\d+$/.test(d.domain.name));
      expect(others.length).toBe(3);
      for (const d of others) expect(d.vcpus.length).toBe(d.domain.vcpuCurrent);
    } finally {
      sampler.close();
      testbed("undefine", "vsteal-test-gone");
    }
  });

  it("a domain started during sampling is picked up by the next discovery", async () => {
    const sampler = new Sampler({ source: new LibvirtSource(), discoveryIntervalMs: 0 });
    try {
      const s0 = await sampler.sample();
      expect(s0.domains.some((d) => d.domain.name === "vsteal-test-new")).toBe(false);
      testbed("define", "vsteal-test-new", "2");
      const s1 = await sampler.sample();
      const d = s1.domains.find((x) => x.domain.name === "vsteal-test-new");
      expect(d?.vcpus.map((v) => v.vcpu)).toEqual([0, 1]);
    } finally {
      sampler.close();
      testbed("undefine", "vsteal-test-new");
    }
  });

  // libvirt forbids only "/" in names (and newlines); everything a shell would act on is here.
  const hostile = `vsteal-test-x a'b"c$(touch vsteal-pwned);touch vsteal-pwned;\`touch vsteal-pwned\`<tag>&é`;
  const pwned = ["/tmp", "/", process.cwd(), process.env.HOME ?? "/root"].map((d) => join(d, "vsteal-pwned"));
  it("a domain with a hostile name is printed exactly and nothing runs", () => {
    for (const f of pwned) rmSync(f, { force: true });
    testbed("define", hostile, "1");
    try {
      const text = vsteal("domstats", "--source", "libvirt");
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`Domain: '${hostile}'\n  vcpu.current=1\n`);
      const byName = vsteal("domstats", "--json", "--source", "libvirt", hostile);
      expect(byName.code).toBe(0);
      const recs = JSON.parse(byName.stdout) as JsonRecord[];
      expect(recs.map((r) => r.domain)).toEqual([hostile]);
      expect(recs[0]?.stats["vcpu.0.delay"]).toBeGreaterThanOrEqual(0);
      for (const f of pwned) expect(existsSync(f)).toBe(false);
    } finally {
      testbed("undefine", hostile);
    }
  });

  it("an unknown domain is one line on stderr and exit code 1; known ones are still printed", () => {
    const r = vsteal("domstats", "--source", "libvirt", "no-such-domain", "vsteal-test-1");
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/domain 'no-such-domain' not found/)]);
    expect(r.stdout).toContain("Domain: 'vsteal-test-1'");
  });

  it("the qemu source finds the same VMs without libvirt", () => {
    const r = vsteal("domstats", "--json", "--source", "qemu");
    expect(r.code).toBe(0);
    const recs = JSON.parse(r.stdout) as JsonRecord[];
    for (const name of runningTestbedDomains()) {
      const rec = recs.find((x) => x.domain === name);
      expect(rec?.uuid).toBe(virsh("domuuid", name).trim());
      expect(rec?.stats["vcpu.current"]).toBeGreaterThanOrEqual(1);
    }
  });

  afterAll(() => {
    for (const f of pwned) rmSync(f, { force: true });
  });
});
