/** The dashboard's pure parts: parsing the API, series, binning, colours, formats. */
import { describe, expect, it } from "vitest";
import { parse, platformText, vmMatches } from "./api.js";
import { cpus, duration, pct } from "./format.js";
import { combine, LiveStore, regroupHistory, waitingSince, type Pt } from "./series.js";
import { bin, intensity } from "./views/heatmap.js";

const pt = (t: number, steal: number, throttled = 0): Pt => ({
  t,
  usage: 0.1,
  steal,
  contention: steal - throttled,
  throttled,
});

describe("parse", () => {
  it("turns missing or mistyped fields into neutral values instead of throwing", () => {
    const d = parse.domains({
      time: "x",
      domains: [{ domain: 42, vcpus: [{ vcpu: 1, steal: "high" }, null] }, "junk"],
    });
    expect(d.time).toBeNull();
    expect(d.domains[0]?.domain).toBe("");
    expect(d.domains[0]?.vcpus[0]?.steal).toBe(0);
    expect(d.domains).toHaveLength(2);
    expect(parse.history(null).series).toEqual([]);
    expect(parse.alerts({ active: [{ subject: { domain: "<b>", vcpu: "0" } }] }).active[0]?.subject).toEqual({
      domain: "<b>",
    });
  });

  it("keeps names exactly as the agent sent them", () => {
    const name = "<img src=x onerror=alert(1)>";
    expect(parse.domains({ time: 1, domains: [{ domain: name, uuid: null }] }).domains[0]?.domain).toBe(name);
  });

  it("drops history points without a time", () => {
    const h = parse.history({
      from: 0,
      to: 10,
      series: [{ domain: "a", uuid: null, vcpu: 0, points: [{ t: 1, delay: 0.5 }, { delay: 0.2 }] }],
    });
    expect(h.series[0]?.points).toEqual([{ t: 1, usage: 0, delay: 0.5, throttled: 0, contention: 0 }]);
  });
});

describe("series", () => {
  it("LiveStore keeps one point per sample time, per domain and per vCPU", () => {
    const s = new LiveStore();
    const dom = {
      domain: "a",
      platform: null,
      uuid: "u",
      id: 1,
      state: "running",
      source: "libvirt",
      vcpu_current: 1,
      vcpu_maximum: 1,
      usage: 0.5,
      steal: 0.2,
      contention: 0.2,
      throttled: 0,
      vcpus: [{ vcpu: 3, tid: 9, usage: 0.5, steal: 0.2, contention: 0.2, throttled: 0 }],
    };
    s.add({ time: 1000, interval_s: 1, domains: [dom] }, null);
    s.add({ time: 1000, interval_s: 1, domains: [dom] }, null); // the same sweep polled twice
    s.add({ time: 2000, interval_s: 1, domains: [{ ...dom, domain: "a-renamed" }] }, null);
    expect(s.domains.get("u")?.agg.map((p) => p.t)).toEqual([1000, 2000]);
    expect(s.domains.get("u")?.vcpus.get(3)?.length).toBe(2);
    expect(s.domains.get("u")?.name).toBe("a-renamed");
    expect(s.firstMs).toBe(1000);
  });

  it("regroupHistory averages a domain over its vCPUs and sums the host", () => {
    const h = regroupHistory(
      {
        from: 0,
        to: 100,
        series: [
          {
            domain: "a",
            uuid: null,
            vcpu: 0,
            tier: "raw",
            step_s: 1,
            points: [{ t: 10, usage: 0.2, delay: 0.4, throttled: 0.1, contention: 0.3 }],
          },
          {
            domain: "a",
            uuid: null,
            vcpu: 1,
            tier: "raw",
            step_s: 1,
            points: [{ t: 10, usage: 0.4, delay: 0.2, throttled: 0, contention: 0.2 }],
          },
        ],
      },
      5,
      2,
    );
    const a = h.domains.get("name:a");
    expect(a?.agg[0]?.steal).toBeCloseTo(0.3);
    expect(a?.vcpus.get(1)?.[0]?.steal).toBeCloseTo(0.2);
    expect(h.host[0]).toMatchObject({ t: 10, capacity: 2 });
    expect(h.host[0]?.demand).toBeCloseTo(0.6 + 0.5);
  });

  it("regroupHistory stamps buckets at their end, like samples, and leaves an unfinished one to live data", () => {
    const point = (t: number) => ({ t, usage: 0, delay: 0.5, throttled: 0, contention: 0.5 });
    const r = {
      from: 0,
      to: 1_000_000,
      series: [
        {
          domain: "a",
          uuid: "u",
          vcpu: 0,
          tier: "5m",
          step_s: 300,
          points: [point(0), point(300_000), point(900_000)],
        },
      ],
    };
    const h = regroupHistory(r, 144, 2, 1);
    expect(h.domains.get("u")?.agg.map((p) => p.t)).toEqual([300_000, 600_000]);
    expect(h.stepS).toBe(300);
    const raw = {
      from: 0,
      to: 10_000,
      series: [{ domain: "a", uuid: "u", vcpu: 0, tier: "raw", step_s: 1, points: [point(9_000)] }],
    };
    expect(
      regroupHistory(raw, 1, 2, 1)
        .domains.get("u")
        ?.agg.map((p) => p.t),
    ).toEqual([9_000]);
  });

  it("combine takes history up to its last point, then newer live points, within the window", () => {
    const hist = [pt(10, 0.1), pt(20, 0.2)];
    const live = [pt(15, 0.9), pt(20, 0.9), pt(30, 0.3), pt(99, 0.3)];
    expect(combine(hist, live, 0, 50).map((p) => [p.t, p.steal])).toEqual([
      [10, 0.1],
      [20, 0.2],
      [30, 0.3],
    ]);
    expect(combine(undefined, live, 16, 50).map((p) => p.t)).toEqual([20, 30]);
  });

  it("waitingSince finds the start of the current run of steal", () => {
    expect(waitingSince([pt(1, 0.5), pt(2, 0), pt(3, 0.2), pt(4, 0.3)])).toEqual({ since: 3, sinceStart: false });
    expect(waitingSince([pt(1, 0.5), pt(2, 0.5)])).toEqual({ since: 1, sinceStart: true });
    expect(waitingSince([pt(1, 0.5), pt(2, 0)])).toBeNull();
    expect(waitingSince([])).toBeNull();
  });
});

describe("heatmap", () => {
  it("bins points time-weighted into columns; no point, no cell", () => {
    // Points every 10 ms over [0, 100], steal 0.1 then 0.5.
    const pts = Array.from({ length: 10 }, (_, i) => pt((i + 1) * 10, i < 5 ? 0.1 : 0.5));
    const cells = bin(pts, 0, 100, 4);
    expect(cells.map((c) => c?.steal.toFixed(2))).toEqual(["0.10", "0.10", "0.50", "0.50"]);
    const sparse = bin([pt(10, 0.2), pt(20, 0.2)], 0, 100, 10);
    expect(sparse.slice(0, 2).every((c) => c !== null)).toBe(true);
    expect(sparse.slice(3).every((c) => c === null)).toBe(true);
  });

  it("a gap in the data stays a gap", () => {
    const cells = bin([pt(10, 0.2), pt(20, 0.2), pt(90, 0.2), pt(100, 0.2)], 0, 100, 10);
    expect(cells.map((c) => (c ? "x" : "."))).toEqual(["x", "x", ".", ".", ".", ".", ".", ".", "x", "x"]);
  });

  it("colour intensity rises steeply at small steal and saturates at 50 %", () => {
    expect(intensity(0)).toBe(0);
    expect(intensity(0.01)).toBeCloseTo(0.18);
    expect(intensity(0.05)).toBeCloseTo(0.45);
    expect(intensity(0.5)).toBe(1);
    expect(intensity(0.9)).toBe(1);
    expect(intensity(Number.NaN)).toBe(0);
    for (let s = 0; s < 0.6; s += 0.01) expect(intensity(s + 0.01)).toBeGreaterThanOrEqual(intensity(s));
  });
});

describe("format", () => {
  it("says percentages, durations and CPU counts the way people read them", () => {
    expect(pct(0)).toBe("0 %");
    expect(pct(0.0004)).toBe("<0.1 %");
    expect(pct(0.054)).toBe("5.4 %");
    expect(pct(0.87)).toBe("87 %");
    expect(duration(42_000)).toBe("42 s");
    expect(duration(3_900_000)).toBe("1 h 5 min");
    expect(duration(2 * 86_400_000)).toBe("2 d");
    expect(cpus(2)).toBe("2");
    expect(cpus(1.5)).toBe("1.50");
  });
});

describe("platform identity in the dashboard", () => {
  const d = (platform: unknown) =>
    parse.domains({
      domains: [{ domain: "instance-0000a1b2", uuid: "0b7c1e2d-3f4a-4b5c-8d9e-0f1a2b3c4d5e", platform }],
    }).domains[0]!;
  it("reads the API's platform and says it in one line", () => {
    const nova = d({
      kind: "openstack",
      id: "0b7c…",
      name: "web-1",
      project: "shop",
      user: "alice",
      flavor: "m1.small",
      flavor_vcpus: 1,
    });
    expect(platformText(nova.platform)).toBe("openstack web-1 · project shop");
    expect(platformText(d({ kind: "proxmox", id: "104", name: "db", tags: ["prod", "db"] }).platform)).toBe(
      "proxmox 104 db",
    );
    expect(platformText(d({ kind: "kubevirt", namespace: "prod", name: "vm-a" }).platform)).toBe("kubevirt prod/vm-a");
    expect(platformText(d({ kind: "libvirt", metadata: { team: "storage" } }).platform)).toBe("team storage");
    expect(d(null).platform).toBeNull();
    expect(d({ kind: 5 }).platform).toBeNull(); // garbage is no identity, not an exception
  });
  it("the filter finds a VM by its name, UUID or anything its platform says", () => {
    const nova = d({ kind: "openstack", name: "web-1", project: "shop", user: "alice", tags: ["prod"] });
    for (const q of ["", "instance-0000", "WEB-1", "shop", "alice", "openstack web", "0b7c1e2d"])
      expect(vmMatches(nova, q), q).toBe(true);
    for (const q of ["billing", "web-2", "shop billing"]) expect(vmMatches(nova, q), q).toBe(false);
    expect(vmMatches(d(null), "shop")).toBe(false);
  });
});
