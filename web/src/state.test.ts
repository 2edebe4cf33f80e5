/** The poll loop against a fake agent: reachability, backoff, libvirt trouble, history off. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AppState } from "./state.js";

interface Agent {
  up: boolean;
  health: Record<string, unknown>;
  historyStatus: number;
  calls: string[];
}

function fakeAgent(): Agent {
  return {
    up: true,
    health: { status: "ok", sweeps: 5, discovery_errors: 0, last_discovery_ms: 1, last_error: null },
    historyStatus: 404,
    calls: [],
  };
}

function install(agent: Agent): void {
  let t = 1_000_000;
  vi.stubGlobal("fetch", async (url: string) => {
    agent.calls.push(url);
    if (!agent.up) throw new TypeError("Failed to fetch");
    const json = (body: unknown, status = 200) =>
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    const path = url.split("?")[0];
    t += 1000;
    switch (path) {
      case "/api/v1/domains":
        return json({
          time: t,
          interval_s: 1,
          domains: [{ domain: "vm", uuid: null, vcpus: [{ vcpu: 0, steal: 0.5, contention: 0.5 }] }],
        });
      case "/api/v1/host":
        return json({ time: t, interval_s: 1, capacity: 2, demand: 1 });
      case "/api/v1/health":
        return json(agent.health);
      case "/api/v1/history":
        return agent.historyStatus === 404
          ? json({ error: "history is disabled on this agent" }, 404)
          : json({ from: 0, to: t, series: [] });
      default:
        return json({ active: [], events: [] });
    }
  });
}

describe("AppState", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("polls, accumulates live points, and says when history is disabled", async () => {
    const agent = fakeAgent();
    install(agent);
    const s = new AppState("15m");
    s.start();
    await vi.advanceTimersByTimeAsync(3500);
    expect(s.conn.kind).toBe("ok");
    expect(s.live.domains.get("name:vm")?.agg.length).toBeGreaterThanOrEqual(3);
    expect(s.history).toEqual({ kind: "disabled", message: "history is disabled on this agent" });
  });

  it("backs off while the agent is unreachable, and recovers by itself", async () => {
    const agent = fakeAgent();
    install(agent);
    const s = new AppState("15m");
    s.start();
    await vi.advanceTimersByTimeAsync(1500);
    const waits: number[] = [];
    s.subscribe(() => {
      if (s.conn.kind === "down") waits.push(s.conn.retryAtMs - Date.now());
    });
    agent.up = false;
    await vi.advanceTimersByTimeAsync(1000 + 1000 + 2000 + 4000 + 8000 + 16000 + 30000);
    expect(s.conn.kind).toBe("down");
    expect(waits.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
    agent.up = true;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(s.conn.kind).toBe("ok");
  });

  it("reports libvirt trouble only while discovery keeps failing", async () => {
    const agent = fakeAgent();
    install(agent);
    const s = new AppState("15m");
    s.start();
    await vi.advanceTimersByTimeAsync(1500);
    expect(s.discovery).toBeNull();
    agent.health = { ...agent.health, discovery_errors: 1, last_error: "libvirt is not running" };
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.discovery?.message).toBe("libvirt is not running");
    agent.health = { ...agent.health, last_discovery_ms: 2 };
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.discovery).toBeNull();
  });

  it("says libvirt is unreachable when discovery never succeeded", async () => {
    const agent = fakeAgent();
    agent.health = {
      status: "ok",
      sweeps: 3,
      discovery_errors: 2,
      last_discovery_ms: null,
      last_error: "cannot connect to qemu:///system",
    };
    install(agent);
    const s = new AppState("1h");
    s.start();
    await vi.advanceTimersByTimeAsync(500);
    expect(s.discovery?.message).toBe("cannot connect to qemu:///system");
  });
});
