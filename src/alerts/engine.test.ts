import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DomainRates, VcpuRates } from "../model/types.js";
import { AlertEngine } from "./engine.js";
import { defaultClearThreshold, DEFAULT_RULES, type AlertRule } from "./rules.js";
import type { AlertInput, HostInput } from "./types.js";

const S = 1000;
const M = 60 * S;

function rule(over: Partial<AlertRule> = {}): AlertRule {
  const op = over.op ?? ">";
  const threshold = over.threshold ?? 0.05;
  return {
    name: "VcpuContentionStealHigh",
    metric: "vcpu_contention",
    op,
    threshold,
    forMs: 3 * M,
    clearThreshold: defaultClearThreshold(op, threshold),
    clearForMs: 0,
    severity: "warning",
    labels: { team: "virt" },
    annotations: { summary: "steal" },
    webhooks: [],
    ...over,
  };
}

function vcpu(n: number, contention: number, throttled = 0, usage = 0.5): VcpuRates {
  return { vcpu: n, tid: 1000 + n, usage, delay: contention + throttled, throttled, contention };
}

function domain(name: string, vcpus: VcpuRates[], uuid: string | null = `uuid-${name}`): DomainRates {
  return {
    domain: {
      name,
      uuid,
      id: 1,
      state: "running",
      vcpuCurrent: vcpus.length,
      vcpuMaximum: vcpus.length,
      pid: 1,
      source: "libvirt",
    },
    intervalS: 10,
    vcpus,
  };
}

function input(domains: DomainRates[], host: Partial<HostInput> = {}): AlertInput {
  return {
    rates: { wallMs: 0, intervalS: 10, domains, problems: [] },
    host: { cpus: 8, demand: 4, capacity: 8, stealTotal: 0, ...host },
  };
}

/** One VM "web" whose vCPU 0 has contention `c`. */
const web = (c: number): AlertInput => input([domain("web", [vcpu(0, c), vcpu(1, 0)])]);

describe("AlertEngine: for-duration", () => {
  it("fires once the condition has held for `for`, not a sample earlier", () => {
    const e = new AlertEngine([rule()]);
    for (let t = 0; t < 3 * M; t += 10 * S) {
      expect(e.evaluate(web(0.1), t)).toEqual([]);
    }
    expect(e.active()).toEqual([
      {
        rule: "VcpuContentionStealHigh",
        subject: { domain: "web", uuid: "uuid-web", vcpu: 0 },
        state: "pending",
        value: 0.1,
        threshold: 0.05,
        activeSinceMs: 0,
        firedAtMs: null,
        severity: "warning",
        labels: { team: "virt" },
        annotations: { summary: "steal" },
      },
    ]);
    expect(e.evaluate(web(0.1), 3 * M)).toEqual([
      {
        rule: "VcpuContentionStealHigh",
        subject: { domain: "web", uuid: "uuid-web", vcpu: 0 },
        state: "firing",
        value: 0.1,
        threshold: 0.05,
        atMs: 3 * M,
        severity: "warning",
        labels: { team: "virt" },
        annotations: { summary: "steal" },
      },
    ]);
    expect(e.active().map((a) => [a.state, a.firedAtMs])).toEqual([["firing", 3 * M]]);
    // Still above: no second event.
    expect(e.evaluate(web(0.2), 4 * M)).toEqual([]);
    expect(e.active()[0]?.value).toBe(0.2);
  });

  it("drops a pending alert without an event when the condition ends, and starts over", () => {
    const e = new AlertEngine([rule()]);
    expect(e.evaluate(web(0.1), 0)).toEqual([]);
    expect(e.evaluate(web(0.1), 2 * M + 50 * S)).toEqual([]);
    expect(e.evaluate(web(0.05), 2 * M + 55 * S)).toEqual([]); // not > 0.05
    expect(e.active()).toEqual([]);
    expect(e.evaluate(web(0.1), 3 * M)).toEqual([]); // pending again, since 3m
    expect(e.evaluate(web(0.1), 5 * M + 59 * S)).toEqual([]);
    const [fired] = e.evaluate(web(0.1), 6 * M);
    expect(fired?.state).toBe("firing");
    expect(fired?.atMs).toBe(6 * M);
    expect(e.history()).toHaveLength(1);
  });

  it("fires at the first evaluation with for: 0s", () => {
    const e = new AlertEngine([rule({ forMs: 0 })]);
    expect(e.evaluate(web(0.06), 0).map((ev) => ev.state)).toEqual(["firing"]);
  });

  it("keeps one state per vCPU", () => {
    const e = new AlertEngine([rule({ forMs: 0 })]);
    const both = input([domain("web", [vcpu(0, 0.2), vcpu(1, 0.3)]), domain("db", [vcpu(0, 0.01)])]);
    const events = e.evaluate(both, 0);
    expect(events.map((ev) => [ev.subject, ev.value])).toEqual([
      [{ domain: "web", uuid: "uuid-web", vcpu: 0 }, 0.2],
      [{ domain: "web", uuid: "uuid-web", vcpu: 1 }, 0.3],
    ]);
  });
});

describe("AlertEngine: hysteresis", () => {
  it("turns a value oscillating around the threshold into exactly one firing and one resolved", () => {
    const e = new AlertEngine([rule({ forMs: 30 * S })]);
    // Threshold 5 %, clear threshold 4 %. The value wobbles between 4.2 % and 6 % for 20 minutes.
    const wobble = [0.06, 0.045, 0.055, 0.042, 0.06, 0.049, 0.051, 0.0401];
    const events = [];
    let t = 0;
    for (let i = 0; i < 6; i++) {
      events.push(...e.evaluate(web(0.06), t)); // above long enough to fire
      t += 10 * S;
    }
    for (let i = 0; i < 120; i++) {
      events.push(...e.evaluate(web(wobble[i % wobble.length] ?? 0), t));
      t += 10 * S;
    }
    events.push(...e.evaluate(web(0.04), t)); // back to the clear threshold: resolves
    const resolvedAt = t;
    for (let i = 0; i < 10; i++) {
      t += 10 * S;
      events.push(...e.evaluate(web(0.045), t)); // inside the band again, but not above: nothing
    }
    expect(events.map((ev) => [ev.state, ev.atMs, ev.value, ev.threshold])).toEqual([
      ["firing", 30 * S, 0.06, 0.05],
      ["resolved", resolvedAt, 0.04, 0.04],
    ]);
    expect(events[1]?.reason).toBe("cleared");
    expect(e.active()).toEqual([]);
  });

  it("never fires twice while the value stays above the clear threshold (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.0400001, max: 1, noNaN: true }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.integer({ min: 1, max: 120 }), { minLength: 200, maxLength: 200 }),
        (values, gapsS) => {
          const e = new AlertEngine([rule({ forMs: 0 })]);
          let t = 0;
          const events = [...e.evaluate(web(0.5), t)];
          values.forEach((v, i) => {
            t += (gapsS[i] ?? 1) * S;
            events.push(...e.evaluate(web(v), t));
          });
          expect(events.map((ev) => ev.state)).toEqual(["firing"]);
        },
      ),
    );
  });

  it("per subject, events alternate firing, resolved, firing… whatever the values (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 0.2, noNaN: true }), fc.boolean()), { maxLength: 300 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        (steps, forSteps, clearSteps) => {
          const e = new AlertEngine([rule({ forMs: forSteps * 10 * S, clearForMs: clearSteps * 10 * S })]);
          const events = steps.flatMap(([v, present], i) => e.evaluate(present ? web(v) : input([]), i * 10 * S));
          const ours = events.filter((ev) => ev.subject.vcpu === 0);
          ours.forEach((ev, i) => expect(ev.state).toBe(i % 2 === 0 ? "firing" : "resolved"));
          expect(events.every((ev) => ev.subject.vcpu === 0)).toBe(true);
        },
      ),
    );
  });

  it("resolves only after the value stayed past the clear threshold for clear_for", () => {
    const e = new AlertEngine([rule({ forMs: 0, clearForMs: M })]);
    expect(e.evaluate(web(0.1), 0)).toHaveLength(1);
    expect(e.evaluate(web(0.01), 10 * S)).toEqual([]); // clearing since 10 s
    expect(e.evaluate(web(0.01), 60 * S)).toEqual([]);
    expect(e.evaluate(web(0.045), 65 * S)).toEqual([]); // back in the band: clearing starts over
    expect(e.evaluate(web(0.01), 70 * S)).toEqual([]);
    expect(e.evaluate(web(0.01), 129 * S)).toEqual([]);
    const ev = e.evaluate(web(0.02), 130 * S);
    expect(ev.map((x) => [x.state, x.atMs, x.value])).toEqual([["resolved", 130 * S, 0.02]]);
  });

  it("handles '<' rules with the band above the threshold", () => {
    const e = new AlertEngine([rule({ name: "Idle", metric: "vcpu_usage", op: "<", threshold: 0.1, forMs: 0 })]);
    const usage = (u: number): AlertInput => input([domain("web", [vcpu(0, 0, 0, u)])]);
    expect(e.evaluate(usage(0.05), 0).map((x) => x.state)).toEqual(["firing"]);
    expect(e.evaluate(usage(0.11), 1 * S)).toEqual([]); // 0.11 < clear 0.12: still firing
    expect(e.evaluate(usage(0.12), 2 * S).map((x) => [x.state, x.threshold])).toEqual([["resolved", 0.12]]);
  });
});

describe("AlertEngine: host and VM rules", () => {
  const hostRule = rule({
    name: "HostOversubscribed",
    metric: "host_demand_ratio",
    threshold: 1,
    forMs: 2 * M,
    clearThreshold: 0.8,
    labels: {},
    annotations: {},
  });

  it("fires on demand above capacity for 2 minutes and resolves below 80 %", () => {
    const e = new AlertEngine([hostRule]);
    const host = (demand: number, capacity = 8): AlertInput => input([], { demand, capacity });
    expect(e.evaluate(host(10), 0)).toEqual([]);
    expect(e.evaluate(host(9), 1 * M)).toEqual([]);
    expect(e.evaluate(host(12), 2 * M)).toEqual([
      {
        rule: "HostOversubscribed",
        subject: {},
        state: "firing",
        value: 1.5,
        threshold: 1,
        atMs: 2 * M,
        severity: "warning",
        labels: {},
        annotations: {},
      },
    ]);
    expect(e.evaluate(host(7.9), 3 * M)).toEqual([]); // 0.9875: in the band
    expect(e.evaluate(host(6.5), 4 * M)).toEqual([]); // 0.8125: in the band
    expect(e.evaluate(host(6.4), 5 * M).map((x) => [x.state, x.value, x.threshold, x.reason])).toEqual([
      ["resolved", 0.8, 0.8, "cleared"],
    ]);
  });

  it("has no value (and so no alert) with zero capacity", () => {
    const e = new AlertEngine([{ ...hostRule, forMs: 0 }]);
    expect(e.evaluate(input([], { demand: 3, capacity: 0 }), 0)).toEqual([]);
    expect(e.active()).toEqual([]);
  });

  it("watches total host steal", () => {
    const e = new AlertEngine([
      rule({ name: "HostSteal", metric: "host_steal", threshold: 2, forMs: 0, clearThreshold: 1 }),
    ]);
    expect(e.evaluate(input([], { stealTotal: 2.5 }), 0).map((x) => [x.subject, x.value])).toEqual([[{}, 2.5]]);
  });

  it("averages contention over a VM's vCPUs for domain_contention", () => {
    const e = new AlertEngine([rule({ name: "Vm", metric: "domain_contention", threshold: 0.1, forMs: 0 })]);
    const events = e.evaluate(
      input([
        domain("web", [vcpu(0, 0.3), vcpu(1, 0.1), vcpu(2, 0), vcpu(3, 0)]),
        domain("db", [vcpu(0, 0.12), vcpu(1, 0.12)], null),
      ]),
      0,
    );
    expect(events.map((x) => [x.subject, x.value])).toEqual([[{ domain: "db" }, 0.12]]);
    // web: (0.3 + 0.1 + 0 + 0) / 4 = 0.1, which is not > 0.1.
    expect(e.active().map((a) => a.subject.domain)).toEqual(["db"]);
  });

  it("tells throttling from contention", () => {
    const e = new AlertEngine([
      rule({ forMs: 0 }),
      rule({ name: "Throttled", metric: "vcpu_throttled", threshold: 0.5, forMs: 0 }),
      rule({ name: "Delay", metric: "vcpu_delay", threshold: 0.5, forMs: 0 }),
    ]);
    const capped = input([domain("capped", [vcpu(0, 0.01, 0.8)])]);
    expect(e.evaluate(capped, 0).map((x) => [x.rule, x.value])).toEqual([
      ["Throttled", 0.8],
      ["Delay", 0.81],
    ]);
  });
});

describe("AlertEngine: subjects that disappear", () => {
  it("resolves a firing alert as gone once its VM has been missing for `for`", () => {
    const e = new AlertEngine([rule({ forMs: M })]);
    e.evaluate(web(0.1), 0);
    expect(e.evaluate(web(0.1), M).map((x) => x.state)).toEqual(["firing"]);
    expect(e.evaluate(input([]), M + 10 * S)).toEqual([]); // one missing sample is no reason
    expect(e.active().map((a) => a.state)).toEqual(["firing"]);
    expect(e.evaluate(input([]), 1.5 * M)).toEqual([]);
    expect(e.evaluate(input([]), 2 * M)).toEqual([
      {
        rule: "VcpuContentionStealHigh",
        subject: { domain: "web", uuid: "uuid-web", vcpu: 0 },
        state: "resolved",
        value: 0.1,
        threshold: 0.04,
        atMs: 2 * M,
        severity: "warning",
        labels: { team: "virt" },
        annotations: { summary: "steal" },
        reason: "gone",
      },
    ]);
    expect(e.active()).toEqual([]);
  });

  it("forgets a pending alert of a vanished vCPU without an event", () => {
    const e = new AlertEngine([rule({ forMs: M })]);
    e.evaluate(web(0.1), 0);
    expect(e.evaluate(input([]), 10 * S)).toEqual([]);
    expect(e.active()).toEqual([]);
    expect(e.evaluate(web(0.1), 20 * S)).toEqual([]);
    expect(e.evaluate(web(0.1), M)).toEqual([]); // pending restarted at 20 s
    expect(e.evaluate(web(0.1), M + 20 * S).map((x) => x.state)).toEqual(["firing"]);
  });

  it("follows a VM by UUID across a rename", () => {
    const e = new AlertEngine([rule({ forMs: 0 })]);
    e.evaluate(web(0.1), 0);
    const renamed = input([
      { ...domain("web-2", [vcpu(0, 0.1)]), domain: { ...domain("web", []).domain, name: "web-2" } },
    ]);
    expect(e.evaluate(renamed, 10 * S)).toEqual([]);
    expect(e.active()[0]?.subject).toEqual({ domain: "web-2", uuid: "uuid-web", vcpu: 0 });
  });
});

describe("AlertEngine: history and defaults", () => {
  it("keeps the latest events, oldest first, up to its limit", () => {
    const e = new AlertEngine([rule({ forMs: 0, clearThreshold: 0.05 })], { historyLimit: 3 });
    for (let i = 0; i < 6; i++) e.evaluate(web(i % 2 === 0 ? 0.1 : 0), i * S);
    expect(e.history().map((x) => [x.state, x.atMs])).toEqual([
      ["resolved", 3 * S],
      ["firing", 4 * S],
      ["resolved", 5 * S],
    ]);
    expect(e.history(2).map((x) => x.atMs)).toEqual([4 * S, 5 * S]);
    expect(e.history(0)).toEqual([]);
  });

  it("runs the default rules: contention > 5 % for 3 min, demand > capacity for 2 min", () => {
    const e = new AlertEngine(DEFAULT_RULES);
    const bad = input([domain("web", [vcpu(0, 0.06)])], { demand: 9, capacity: 8 });
    const fired: string[] = [];
    for (let t = 0; t <= 3 * M; t += 30 * S) fired.push(...e.evaluate(bad, t).map((x) => `${x.rule}@${x.atMs / S}s`));
    expect(fired).toEqual(["HostOversubscribed@120s", "VcpuContentionStealHigh@180s"]);
  });

  it("refuses two rules with the same name", () => {
    expect(() => new AlertEngine([rule(), rule()])).toThrow(/duplicate alert rule name "VcpuContentionStealHigh"/);
  });
});
