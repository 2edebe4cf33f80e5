import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Notifier, backoffDelay, type FetchLike, type WebhookRequest } from "./notifier.js";
import { defaultClearThreshold, type AlertRule, type Webhook } from "./rules.js";
import type { AlertEvent } from "./types.js";

const TOKEN = "Bearer s3cr3t-t0ken-value";

function ruleWith(webhooks: Webhook[], name = "VcpuContentionStealHigh"): AlertRule {
  return {
    name,
    metric: "vcpu_contention",
    op: ">",
    threshold: 0.05,
    forMs: 180_000,
    clearThreshold: defaultClearThreshold(">", 0.05),
    clearForMs: 0,
    severity: "warning",
    labels: {},
    annotations: {},
    webhooks,
  };
}

const event: AlertEvent = {
  rule: "VcpuContentionStealHigh",
  subject: { domain: "web", uuid: "0b5a6f8e-1f7c-4a53-9d1e-2c3b4a5d6e7f", vcpu: 3 },
  state: "firing",
  value: 0.071,
  threshold: 0.05,
  atMs: 1_700_000_000_000,
  severity: "warning",
  labels: { team: "virt" },
  annotations: { summary: "steal" },
};

class Lines {
  readonly lines: string[] = [];
  write(chunk: string): boolean {
    this.lines.push(...chunk.split("\n").filter((l) => l !== ""));
    return true;
  }
  parsed(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage["headers"];
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A real HTTP server answering the n-th request (0-based) with statuses[n] (then 200); null: never answer. */
async function server(statuses: (number | null)[]): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const n = received.length;
      received.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const status = n < statuses.length ? statuses[n] : 200;
      if (status === null || status === undefined) return; // hang
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status === 200 ? "ok" : "try again");
    });
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/vsteal?key=querysecret123`, received };
}

describe("Notifier against a real HTTP server", () => {
  it("retries a failing webhook with backoff and delivers the event as JSON on the third attempt", async () => {
    const { url, received } = await server([500, 503]);
    const log = new Lines();
    const sleeps: number[] = [];
    const n = new Notifier({
      rules: [ruleWith([{ url, headers: { Authorization: TOKEN }, timeoutMs: 5000, retries: 3 }])],
      log,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      now: () => event.atMs,
      backoff: { initialMs: 200, maxMs: 10_000 },
    });
    n.notify([event]);
    await n.idle();

    expect(received).toHaveLength(3);
    for (const r of received) {
      expect(r.method).toBe("POST");
      expect(r.url).toBe("/hooks/vsteal?key=querysecret123");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers.authorization).toBe(TOKEN);
      expect(JSON.parse(r.body)).toEqual(event);
    }
    // Backoff: 200 ms then 400 ms steps, half fixed and half jitter (random 0.5 → 3/4 of the step).
    expect(sleeps).toEqual([150, 300]);
    expect(n.stats()).toEqual({ queued: 0, inFlight: 0, delivered: 1, failed: 0, dropped: 0, attempts: 3 });

    const lines = log.parsed();
    expect(lines.map((l) => [l["level"], l["msg"], l["attempt"] ?? l["attempts"], l["status"]])).toEqual([
      ["warn", "alert firing", undefined, undefined],
      ["warn", "webhook attempt failed, will retry", 1, 500],
      ["warn", "webhook attempt failed, will retry", 2, 503],
      ["info", "webhook delivered", 3, 200],
    ]);
    // The event itself is logged in full, as one JSON line.
    expect(lines[0]).toEqual({ time: "2023-11-14T22:13:20.000Z", level: "warn", msg: "alert firing", ...event });
    // No secret reaches the log: not the token, not the URL's path or query.
    const text = log.lines.join("\n");
    expect(text).not.toContain("s3cr3t");
    expect(text).not.toContain("querysecret123");
    expect(text).not.toContain("/hooks/vsteal");
    expect(lines[1]).toMatchObject({ webhook: "VcpuContentionStealHigh#0", origin: new URL(url).origin });
  });

  it("gives up after its retries, and at once on a 4xx that retrying cannot fix", async () => {
    const failing = await server([500, 500, 500, 500]);
    const refusing = await server([401]);
    const log = new Lines();
    const n = new Notifier({
      rules: [
        ruleWith([
          { url: failing.url, headers: {}, timeoutMs: 5000, retries: 2 },
          { url: refusing.url, headers: { "X-Api-Key": "k3y-k3y-k3y" }, timeoutMs: 5000, retries: 5 },
        ]),
      ],
      log,
      sleep: async () => undefined,
    });
    n.notify([event]);
    await n.idle();
    expect(failing.received).toHaveLength(3);
    expect(refusing.received).toHaveLength(1);
    expect(n.stats()).toMatchObject({ delivered: 0, failed: 2, attempts: 4 });
    const failed = log.parsed().filter((l) => l["msg"] === "webhook delivery failed");
    expect(failed.map((l) => [l["webhook"], l["attempts"], l["status"]]).sort()).toEqual([
      ["VcpuContentionStealHigh#0", 3, 500],
      ["VcpuContentionStealHigh#1", 1, 401],
    ]);
    expect(log.lines.join("\n")).not.toContain("k3y-k3y-k3y");
  });

  it("times out a webhook that never answers", async () => {
    const hanging = await server([null]);
    const log = new Lines();
    const n = new Notifier({
      rules: [ruleWith([{ url: hanging.url, headers: {}, timeoutMs: 200, retries: 0 }])],
      log,
    });
    n.notify([event]);
    await n.idle();
    expect(log.parsed().at(-1)).toMatchObject({ msg: "webhook delivery failed", attempts: 1, error: "timed out" });
  });

  it("reports a refused connection as a retryable error", async () => {
    const { url } = await server([]);
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    const log = new Lines();
    const n = new Notifier({
      rules: [ruleWith([{ url, headers: {}, timeoutMs: 2000, retries: 1 }])],
      log,
      sleep: async () => undefined,
    });
    n.notify([event]);
    await n.idle();
    const last = log.parsed().at(-1);
    expect(last).toMatchObject({ msg: "webhook delivery failed", attempts: 2 });
    expect(String(last?.["error"])).toMatch(/ECONNREFUSED/);
  });
});

describe("Notifier queue", () => {
  it("never blocks: notify returns before any request is made", () => {
    const calls: string[] = [];
    const fetch: FetchLike = async (url) => {
      calls.push(url);
      return { status: 200 };
    };
    const n = new Notifier({
      rules: [ruleWith([{ url: "http://h.example/x", headers: {}, timeoutMs: 1000, retries: 0 }])],
      log: new Lines(),
      fetch,
    });
    n.notify([event]);
    expect(calls).toEqual([]);
    expect(n.stats().queued).toBe(1);
    return n.idle().then(() => expect(calls).toEqual(["http://h.example/x"]));
  });

  it("bounds the queue and counts what it drops", async () => {
    const pending: (() => void)[] = [];
    const bodies: string[] = [];
    const fetch: FetchLike = (_url, init: WebhookRequest) => {
      bodies.push(init.body);
      return new Promise((resolve) => pending.push(() => resolve({ status: 204 })));
    };
    const log = new Lines();
    const n = new Notifier({
      rules: [ruleWith([{ url: "http://h.example/x", headers: {}, timeoutMs: 60_000, retries: 0 }])],
      log,
      fetch,
      maxQueue: 2,
      concurrency: 1,
    });
    const events = [1, 2, 3, 4, 5].map((i) => ({ ...event, atMs: i }));
    n.notify(events.slice(0, 1));
    await Promise.resolve();
    n.notify(events.slice(1)); // 1 in flight, 2 fit in the queue, 2 are dropped
    expect(n.stats()).toMatchObject({ queued: 2, inFlight: 1, dropped: 2 });
    expect(log.parsed().filter((l) => l["msg"] === "webhook queue full: delivery dropped")).toHaveLength(2);
    while (n.stats().inFlight > 0 || n.stats().queued > 0) {
      pending.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    await n.idle();
    expect(bodies.map((b) => (JSON.parse(b) as AlertEvent).atMs)).toEqual([1, 2, 3]);
    expect(n.stats()).toMatchObject({ delivered: 3, dropped: 2, failed: 0 });
  });

  it("survives a throwing fetch and a throwing log writer", async () => {
    const n = new Notifier({
      rules: [ruleWith([{ url: "http://h.example/x", headers: {}, timeoutMs: 1000, retries: 1 }])],
      log: {
        write: () => {
          throw new Error("EPIPE");
        },
      },
      fetch: () => {
        throw new Error("boom");
      },
      sleep: async () => undefined,
    });
    expect(() => n.notify([event])).not.toThrow();
    await n.idle();
    expect(n.stats()).toMatchObject({ failed: 1, attempts: 2 });
  });

  it("describes its webhooks without secrets", () => {
    const n = new Notifier({
      rules: [
        ruleWith([
          {
            url: "https://u:pw@hooks.example.com/T0/B0/XYZ",
            headers: { Authorization: TOKEN, "Content-Type": "application/json" },
            timeoutMs: 1,
            retries: 0,
          },
        ]),
      ],
      log: new Lines(),
    });
    expect(n.describeWebhooks()).toEqual([
      {
        rule: "VcpuContentionStealHigh",
        webhook: "VcpuContentionStealHigh#0",
        origin: "https://hooks.example.com",
        headers: { Authorization: "[REDACTED]", "Content-Type": "application/json" },
      },
    ]);
  });
});

describe("backoffDelay", () => {
  it("doubles from the initial delay, caps, and jitters within the upper half of the step", () => {
    expect([1, 2, 3, 4].map((r) => backoffDelay(r, 500, 30_000, () => 0))).toEqual([250, 500, 1000, 2000]);
    expect([1, 2, 3, 4].map((r) => backoffDelay(r, 500, 30_000, () => 0.999999))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(20, 500, 30_000, () => 0)).toBe(15_000);
    expect(backoffDelay(20, 500, 30_000, () => 1)).toBe(30_000);
  });
});
