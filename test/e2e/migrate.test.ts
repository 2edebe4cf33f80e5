/**
 * Live migration between two real libvirt hosts on one machine: host A is the testbed's
 * libvirtd, host B a second libvirtd in its own mount + UTS namespace (scripts/testbed
 * up-second-host). A spinning VM goes A → B → A through `vsteal apply` while an agent on each
 * host measures it; then two migrations made to fail (B refuses; timeout) leave it on A.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { apply } from "../../src/cli/apply.js";
import type { Io } from "../../src/cli/io.js";
import type { AuditEntry } from "../../src/migrate/audit-log.js";
import { describeE2E } from "./env.js";
import { FAST_LIBVIRT_AGENT, SECOND_HOST_PID_FILE, startAgentOnSecondHost } from "./second-host.js";
import { startAgent, testbed, virsh, type RunningAgent } from "./virsh.js";

const VM = "vsteal-mig-e2e";

interface RateSample {
  agent: "A" | "B";
  t: number;
  usage: number[];
  steal: number[];
  contention: number[];
}

const capture = (): Io & { text: () => string } => {
  let s = "";
  return { out: (t) => (s += t), err: (l) => (s += `${l}\n`), text: () => s };
};

describeE2E("live migration between two libvirt hosts (vsteal apply)", () => {
  let uriB = "";
  let dir = "";
  let hostsFile = "";
  let auditLog = "";
  let agentA: RunningAgent | null = null;
  let agentB: Awaited<ReturnType<typeof startAgentOnSecondHost>> | null = null;
  const samples: RateSample[] = [];
  let polling = false;
  let poller: Promise<void> | null = null;
  const virshB = (...a: string[]): string => virsh("--connect", uriB, ...a);
  const onHost = (uri: string): string => {
    try {
      return execFileSync("virsh", ["-q", "-c", uri, "domstate", VM], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      return "absent";
    }
  };

  const planFile = (from: string, to: string): string => {
    const f = join(dir, `plan-${from}${to}-${samples.length}-${Date.now()}.json`);
    writeFileSync(
      f,
      JSON.stringify({
        version: 1,
        moves: [{ vm: VM, from, to, reason: "e2e" }],
        predicted: { steal_before: 1, steal_after: 0 },
        explanation: "e2e",
      }),
    );
    return f;
  };
  const audit = (): AuditEntry[] =>
    readFileSync(auditLog, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as AuditEntry);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vsteal-migrate-e2e-"));
    auditLog = join(dir, "audit.jsonl");
    uriB = testbed("up-second-host").trim().split("\n").pop()!;
    expect(uriB).toMatch(/^qemu\+tcp:\/\/127\.0\.0\.1:\d+\/system$/);
    hostsFile = join(dir, "hosts.yaml");
    // A is reached as qemu:///system, which only this client can use: migrations to A are
    // client-managed (p2p: false), as TESTBED.md describes; to B peer-to-peer.
    writeFileSync(
      hostsFile,
      `hosts:\n  hostA: { uri: "qemu:///system", p2p: false, migrate_uri: "tcp://127.0.0.1" }\n  hostB: { uri: "${uriB}", migrate_uri: "tcp://127.0.0.1" }\n`,
    );
    testbed("define", VM, "1");
    agentA = await startAgent(FAST_LIBVIRT_AGENT);
    agentB = await startAgentOnSecondHost(readFileSync(SECOND_HOST_PID_FILE, "utf8").trim());
    polling = true;
    poller = (async () => {
      while (polling) {
        for (const [agent, url] of [
          ["A", agentA!.url],
          ["B", agentB!.url],
        ] as const) {
          try {
            const r = (await (await fetch(`${url}/api/v1/domains`)).json()) as {
              domains: { domain: string; vcpus: { usage: number; steal: number; contention: number }[] }[];
            };
            const d = r.domains.find((x) => x.domain === VM);
            if (d)
              samples.push({
                agent,
                t: Date.now(),
                usage: d.vcpus.map((v) => v.usage),
                steal: d.vcpus.map((v) => v.steal),
                contention: d.vcpus.map((v) => v.contention),
              });
          } catch {
            /* an agent between sweeps */
          }
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
  });

  afterAll(async () => {
    polling = false;
    await poller;
    await agentA?.stop();
    await agentB?.stop();
    // The VM back on A (or gone); then host B down (destroys whatever is left there).
    try {
      if (onHost(uriB) !== "absent")
        virsh(
          "--connect",
          uriB,
          "migrate",
          "--live",
          "--persistent",
          "--undefinesource",
          VM,
          "qemu:///system",
          "--migrateuri",
          "tcp://127.0.0.1",
        );
    } catch {
      /* down-second-host destroys it */
    }
    try {
      testbed("undefine", VM);
    } catch {
      /* not on A */
    }
    testbed("down-second-host");
  });

  const seenOn = async (agent: "A" | "B", after: number, busy = 0.2): Promise<void> => {
    for (let i = 0; i < 120; i++) {
      if (samples.some((s) => s.agent === agent && s.t > after && s.usage.every((u) => u > busy))) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`agent ${agent} never saw ${VM} spinning`);
  };

  it("migrates a spinning VM A → B → A; both agents measure it, every rate stays in [0, 1]", async () => {
    await seenOn("A", 0);
    const t0 = Date.now();
    const io1 = capture();
    const c1 = await apply(
      planFile("hostA", "hostB"),
      { hosts: hostsFile, yes: true, recheck: false, windowS: 300, auditLog, json: true },
      io1,
      { tty: false },
    );
    const ab = Date.now() - t0;
    expect(c1, io1.text()).toBe(0);
    expect(onHost(uriB)).toBe("running");
    expect(onHost("qemu:///system")).toBe("absent");
    const t1 = Date.now();
    await seenOn("B", t1);
    // Let agent A sweep past the VM's departure and agent B reach a few rates.
    await new Promise((r) => setTimeout(r, 3000));

    const t2 = Date.now();
    const io2 = capture();
    const c2 = await apply(
      planFile("hostB", "hostA"),
      { hosts: hostsFile, yes: true, recheck: false, windowS: 300, auditLog, json: true },
      io2,
      { tty: false },
    );
    const ba = Date.now() - t2;
    expect(c2, io2.text()).toBe(0);
    expect(onHost("qemu:///system")).toBe("running");
    expect(onHost(uriB)).toBe("absent");
    await seenOn("A", Date.now());
    await new Promise((r) => setTimeout(r, 3000));

    console.log(
      `migration timings (vsteal apply, whole command): A→B ${ab} ms, B→A ${ba} ms; ${samples.length} rate samples`,
    );
    const window = samples.filter((s) => s.t >= t0 - 2000);
    expect(window.filter((s) => s.agent === "B").length).toBeGreaterThan(2);
    expect(window.filter((s) => s.agent === "A").length).toBeGreaterThan(2);
    for (const s of window) {
      for (const v of [...s.usage, ...s.steal, ...s.contention]) {
        expect(v, `agent ${s.agent} at ${new Date(s.t).toISOString()}: ${JSON.stringify(s)}`).toBeGreaterThanOrEqual(0);
        expect(v, `agent ${s.agent} at ${new Date(s.t).toISOString()}: ${JSON.stringify(s)}`).toBeLessThanOrEqual(
          1.0001,
        );
      }
    }
    const ok = audit().filter((e) => e.action === "migrate" && e.result === "ok");
    expect(ok.map((e) => `${e.from}→${e.to}`)).toEqual(["hostA→hostB", "hostB→hostA"]);
  });

  it("a target that refuses (another domain of that name on B) leaves the VM running on A, and the audit log says why", async () => {
    const xml = virsh("dumpxml", VM).replace(
      /<uuid>[^<]*<\/uuid>/,
      "<uuid>00000000-0000-4000-8000-00000000beef</uuid>",
    );
    const f = join(dir, "conflict.xml");
    writeFileSync(f, xml);
    virshB("define", f);
    try {
      const io = capture();
      const code = await apply(
        planFile("hostA", "hostB"),
        { hosts: hostsFile, yes: true, recheck: false, windowS: 300, auditLog },
        io,
        { tty: false },
      );
      expect(code, io.text()).toBe(4);
      expect(onHost("qemu:///system")).toBe("running");
      const e = audit()
        .filter((x) => x.action === "migrate")
        .at(-1)!;
      expect(e).toMatchObject({ vm: VM, from: "hostA", to: "hostB", result: "failed" });
      expect(e.reason).toMatch(/already exists/);
      expect(e.reason).toMatch(/still running on hostA/);
    } finally {
      virshB("undefine", "00000000-0000-4000-8000-00000000beef");
    }
  });

  it("a migration past its timeout is aborted: the VM stays running on A, the audit log says why", async () => {
    // 1 MiB/s and a 0.5 s timeout: the job is still running when the executor aborts it.
    virsh("migrate-setspeed", VM, "1");
    const io = capture();
    const code = await apply(
      planFile("hostA", "hostB"),
      { hosts: hostsFile, yes: true, recheck: false, windowS: 300, auditLog, timeoutS: 0.5 },
      io,
      { tty: false },
    );
    expect(code, io.text()).toBe(4);
    expect(onHost("qemu:///system")).toBe("running");
    expect(onHost(uriB)).toBe("absent");
    const e = audit()
      .filter((x) => x.action === "migrate")
      .at(-1)!;
    expect(e).toMatchObject({ vm: VM, from: "hostA", to: "hostB", result: "aborted" });
    expect(e.reason).toMatch(/timed out after 0\.5 s.*job aborted; vsteal-mig-e2e still running on hostA/);
  });

  it("refuses without a terminal unless --yes, and without fresh data unless --no-recheck", async () => {
    const io = capture();
    expect(
      await apply(planFile("hostA", "hostB"), { hosts: hostsFile, recheck: false, windowS: 300, auditLog }, io, {
        tty: false,
      }),
    ).toBe(2);
    expect(io.text()).toMatch(/pass --yes/);
    await expect(
      apply(
        planFile("hostA", "hostB"),
        { hosts: hostsFile, yes: true, recheck: true, windowS: 300, auditLog },
        capture(),
        { tty: false },
      ),
    ).rejects.toThrow(/--prometheus URL.*or --no-recheck/);
    expect(onHost("qemu:///system")).toBe("running");
  });
});
