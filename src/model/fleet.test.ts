import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { plan } from "../planner/plan.js";
import { FleetValidationError, parsePlan, parseSnapshot, parseSnapshotJson } from "./fleet.js";

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../test/fixtures/fleet/${name}.json`, import.meta.url), "utf8")) as Record<
    string,
    unknown
  >;

/** The first problem's `field: reason` line. */
function problem(value: unknown): string {
  try {
    parseSnapshot(value);
  } catch (e) {
    expect(e).toBeInstanceOf(FleetValidationError);
    const issue = (e as FleetValidationError).issues[0]!;
    return issue.field === "" ? issue.reason : `${issue.field}: ${issue.reason}`;
  }
  throw new Error("expected a validation error");
}

/** A deep copy of the crowded fixture, changed by `edit`. */
function crowded(
  edit: (s: { hosts: Record<string, unknown>[]; vms: Record<string, unknown>[] } & Record<string, unknown>) => void,
): unknown {
  const s = structuredClone(fixture("crowded-calm")) as {
    hosts: Record<string, unknown>[];
    vms: Record<string, unknown>[];
  } & Record<string, unknown>;
  edit(s);
  return s;
}

describe("fleet snapshot validation", () => {
  it("accepts the example of the format doc, and fills defaults", () => {
    const s = parseSnapshot(fixture("example"));
    expect(s.vms[0]!.name).toBe("web-1");
    expect(s.constraints.max_moves).toBe(5);
    const minimal = parseSnapshot({
      version: 1,
      time: "2026-11-25T12:00:00Z",
      window_s: 60,
      hosts: [{ name: "h", cpus: 4, memory_mib: 1024 }],
      vms: [],
    });
    expect(minimal.hosts[0]).toEqual({ name: "h", cpus: 4, memory_mib: 1024, reserved_cpus: 0, accepts_vms: true });
    expect(minimal.constraints).toEqual({ max_moves: null, anti_affinity: [] });
  });

  it("ignores extra fields", () => {
    const s = parseSnapshot(
      crowded((x) => {
        x.extra = { anything: [1, 2] };
        x.vms[0]!.labels = { team: "web" };
        x.hosts[0]!.rack = "r12";
      }),
    );
    expect(s.vms[0]).not.toHaveProperty("labels");
    expect(s.hosts[0]).not.toHaveProperty("rack");
  });

  it("names the field of a negative number", () => {
    expect(problem(crowded((x) => ((x.vms[3]!.delay as number[])[1] = -0.2)))).toBe(
      "vms[3].delay[1]: must be at least 0, got -0.2",
    );
  });

  it("names the field of a non-finite number", () => {
    expect(problem(crowded((x) => ((x.vms[1]!.usage as number[])[0] = Number.POSITIVE_INFINITY)))).toBe(
      "vms[1].usage[0]: must be a finite number, got Infinity",
    );
    expect(problem(crowded((x) => (x.hosts[2]!.cpus = Number.NaN)))).toBe(
      "hosts[2].cpus: must be a finite number, got NaN",
    );
  });

  it("names a missing field", () => {
    expect(problem(crowded((x) => delete x.vms[2]!.memory_mib))).toBe("vms[2].memory_mib: required field is missing");
    expect(problem(crowded((x) => delete x.window_s))).toBe("window_s: required field is missing");
  });

  it("refuses a VM on an unknown host", () => {
    expect(problem(crowded((x) => (x.vms[4]!.host = "hv99")))).toBe('vms[4].host: unknown host "hv99" (not in hosts)');
  });

  it("refuses throttled > delay", () => {
    expect(problem(crowded((x) => ((x.vms[0]!.throttled as number[])[2] = 0.5)))).toBe(
      "vms[0].throttled[2]: must not exceed delay[2] (0.14), got 0.5",
    );
  });

  it("refuses usage/delay arrays not of length vcpus", () => {
    expect(problem(crowded((x) => (x.vms[0]!.usage = [0.5, 0.5])))).toBe(
      "vms[0].usage: must have one value per vCPU (vcpus is 4), got 2",
    );
    expect(problem(crowded((x) => (x.vms[5]!.delay = [0, 0, 0])))).toBe(
      "vms[5].delay: must have one value per vCPU (vcpus is 2), got 3",
    );
  });

  it("refuses wrong types, versions, duplicate names and bad times with the field", () => {
    expect(problem(crowded((x) => (x.vms[0]!.vcpus = "4")))).toBe('vms[0].vcpus: expected a number, got "4"');
    expect(problem(crowded((x) => (x.vms[0]!.vcpus = 2.5)))).toMatch(/^vms\[0\]\.vcpus: /);
    expect(problem(crowded((x) => (x.version = 2)))).toBe("version: expected 1, got 2");
    expect(problem(crowded((x) => (x.vms[1]!.name = "web-1")))).toBe('vms[1].name: duplicate VM name "web-1"');
    expect(problem(crowded((x) => (x.time = "yesterday")))).toBe(
      "time: expected an ISO 8601 time like 2026-11-25T12:00:00Z",
    );
    expect(problem(null)).toBe("expected a mapping, got nothing (null)");
  });

  it("reports bad JSON as such", () => {
    expect(() => parseSnapshotJson("{", "snap.json")).toThrow(/not valid JSON/);
  });

  it("validates plans", () => {
    expect(() =>
      parsePlan({
        version: 1,
        moves: [{ vm: "a", from: "h1", to: "h2" }],
        predicted: { steal_before: 1, steal_after: 0 },
        explanation: "",
      }),
    ).toThrow("moves[0].reason: required field is missing");
  });
});

describe("fuzz: random and mutated snapshots never crash the planner", () => {
  const base = fixture("crowded-calm");

  /** Sets a random leaf (or the value at a random path) to a random JSON value. */
  const mutation = fc.record({
    path: fc.array(
      fc.oneof(
        fc.constantFrom(
          "vms",
          "hosts",
          "constraints",
          "usage",
          "delay",
          "throttled",
          "host",
          "cpus",
          "vcpus",
          "cap",
          "memory_mib",
          "max_moves",
          "anti_affinity",
          "name",
          "reserved_cpus",
        ),
        fc.nat(9),
      ),
      { minLength: 1, maxLength: 4 },
    ),
    value: fc.oneof(
      fc.jsonValue(),
      fc.constantFrom(-1, -0.2, 0, 1e308, Number.NaN, Number.POSITIVE_INFINITY, "hv99", null, [], {}),
      fc.double(),
    ),
    remove: fc.boolean(),
  });

  function mutate(value: unknown, m: { path: (string | number)[]; value: unknown; remove: boolean }): unknown {
    const root = structuredClone(value) as Record<string | number, unknown>;
    let node: unknown = root;
    for (let i = 0; i < m.path.length - 1; i++) {
      if (node === null || typeof node !== "object") return root;
      node = (node as Record<string | number, unknown>)[m.path[i]!];
    }
    if (node !== null && typeof node === "object") {
      const key = m.path[m.path.length - 1]!;
      if (m.remove) delete (node as Record<string | number, unknown>)[key];
      else (node as Record<string | number, unknown>)[key] = m.value;
    }
    return root;
  }

  const expectPlanOrValidationError = (snapshot: unknown, options?: unknown): void => {
    try {
      const p = plan(snapshot, options);
      parsePlan(p);
    } catch (e) {
      if (!(e instanceof FleetValidationError)) throw e;
      expect(e.message).toMatch(/^invalid /);
    }
  };

  it("mutated snapshots: a plan or a validation error, for every policy", () => {
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.constantFrom("contention", "balance-utilisation", "hottest-host", "none", "optimal"),
        (ms, policy) => {
          let s: unknown = base;
          for (const m of ms) s = mutate(s, m);
          expectPlanOrValidationError(s, { policy, optimalLimit: 50_000 });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("random values and random option objects: a plan or a validation error", () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.oneof(
          fc.jsonValue(),
          fc.record({ policy: fc.string(), minGain: fc.double(), maxMoves: fc.integer() }, { requiredKeys: [] }),
        ),
        (s, o) => {
          expectPlanOrValidationError(s, o);
          expectPlanOrValidationError(base, o);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("mutated and random plans (what vsteal apply reads): a plan, or an error naming each bad field", () => {
    const good = {
      version: 1,
      moves: [
        { vm: "db-1", from: "hv01", to: "hv02", reason: "r" },
        { vm: "web-1", from: "hv01", to: "hv03", reason: "r" },
      ],
      predicted: { steal_before: 2.8, steal_after: 0.4 },
      explanation: "x",
    };
    const planMutation = fc.record({
      path: fc.array(
        fc.oneof(
          fc.constantFrom(
            "version",
            "moves",
            "vm",
            "from",
            "to",
            "reason",
            "predicted",
            "steal_before",
            "steal_after",
            "explanation",
          ),
          fc.nat(3),
        ),
        { minLength: 1, maxLength: 3 },
      ),
      value: fc.oneof(
        fc.jsonValue(),
        fc.constantFrom(-1, 1e308, Number.NaN, Number.NEGATIVE_INFINITY, "", null, [], {}),
        fc.double(),
      ),
      remove: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .array(planMutation, { minLength: 1, maxLength: 4 })
            .map((ms) => ms.reduce<unknown>((v, m) => mutate(v, m), good)),
          fc.jsonValue(),
        ),
        (value) => {
          try {
            const p = parsePlan(value);
            expect(parsePlan(JSON.parse(JSON.stringify(p)))).toEqual(p);
            for (const x of [p.predicted.steal_before, p.predicted.steal_after])
              expect(Number.isFinite(x) && x >= 0).toBe(true);
          } catch (e) {
            if (!(e instanceof FleetValidationError)) throw e;
            expect(e.message).toMatch(/^invalid plan:\n {2}\S/);
            expect(e.issues.length).toBeGreaterThan(0);
            // Each problem names its field, unless the whole value is wrong.
            for (const i of e.issues.slice(0, 20)) {
              if (value !== null && typeof value === "object" && !Array.isArray(value))
                expect(i.field, i.reason).not.toBe("");
              expect(e.message).toContain(i.field === "" ? i.reason : `${i.field}: ${i.reason}`);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("random well-formed fleets: always a valid plan", () => {
    const vmArb = fc.record({
      vcpus: fc.integer({ min: 1, max: 6 }),
      host: fc.nat(4),
      usage: fc.double({ min: 0, max: 1, noNaN: true }),
      delay: fc.double({ min: 0, max: 1, noNaN: true }),
      thr: fc.double({ min: 0, max: 1, noNaN: true }),
      mem: fc.integer({ min: 0, max: 70000 }),
      migratable: fc.boolean(),
      cap: fc.option(fc.double({ min: 0.05, max: 1, noNaN: true })),
    });
    fc.assert(
      fc.property(
        fc.array(vmArb, { maxLength: 14 }),
        fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 5 }),
        fc.option(fc.nat(4)),
        (vms, cpus, maxMoves) => {
          const hosts = cpus.map((c, i) => ({
            name: `h${i}`,
            cpus: c,
            memory_mib: 65536,
            reserved_cpus: i % 2,
            accepts_vms: i !== 1,
          }));
          const snapshot = {
            version: 1,
            time: "2026-11-25T12:00:00Z",
            window_s: 300,
            hosts,
            vms: vms.map((v, i) => ({
              name: `vm${i}`,
              host: `h${v.host % hosts.length}`,
              vcpus: v.vcpus,
              memory_mib: v.mem,
              usage: Array.from({ length: v.vcpus }, () => v.usage),
              delay: Array.from({ length: v.vcpus }, () => v.delay),
              throttled: Array.from({ length: v.vcpus }, () => v.delay * v.thr),
              cap: v.cap,
              migratable: v.migratable,
            })),
            constraints: { max_moves: maxMoves, anti_affinity: [["vm0", "vm1", "vm2"]] },
          };
          for (const policy of ["contention", "balance-utilisation", "hottest-host"]) {
            const p = plan(snapshot, { policy });
            expect(parsePlan(p)).toEqual(p);
            expect(p.predicted.steal_after).toBeLessThanOrEqual(
              policy === "contention" ? p.predicted.steal_before + 1e-9 : Number.POSITIVE_INFINITY,
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
