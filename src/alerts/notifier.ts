/**
 * The I/O edge of alerting: writes every event as one JSON line to a log writer and POSTs it
 * as JSON to each webhook of its rule. notify() never blocks and never throws: deliveries go
 * to a bounded queue (beyond it they are dropped and counted) and are retried with capped,
 * jittered exponential backoff. Webhook URLs and secret headers never reach the log.
 */
import type { AlertRule, Webhook } from "./rules.js";
import { redactHeaders, scrub, webhookOrigin, webhookSecrets } from "./redact.js";
import type { AlertEvent } from "./types.js";
import { jsonLine } from "../util/json.js";

/** Anything with a write(string) method: process.stdout, a file stream, a test buffer. */
export interface LogWriter {
  write(chunk: string): unknown;
}

export interface WebhookRequest {
  method: "POST";
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

/** The part of a fetch Response the notifier uses. */
export interface WebhookResponse {
  status: number;
  body?: { cancel(reason?: unknown): Promise<void> } | null;
}

export type FetchLike = (url: string, init: WebhookRequest) => Promise<WebhookResponse>;

export interface NotifierOptions {
  /** The rules whose events will be notified: their webhooks are looked up by rule name. */
  rules: readonly AlertRule[];
  log: LogWriter;
  fetch?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1), for the jitter; default Math.random. */
  random?: () => number;
  /** Wall clock for log lines; default Date.now. */
  now?: () => number;
  /** Deliveries waiting at most (not counting those in flight); default 1000. */
  maxQueue?: number;
  /** Deliveries in flight at once; default 4. */
  concurrency?: number;
  /** First retry waits about initialMs, each next one twice as long, never more than maxMs. */
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface NotifierStats {
  queued: number;
  inFlight: number;
  delivered: number;
  failed: number;
  dropped: number;
  attempts: number;
}

interface Job {
  event: AlertEvent;
  webhook: Webhook;
  /** "RuleName#0": which webhook, for logs, without its URL. */
  id: string;
}

/** Delay before retry number `retry` (1-based): half of the capped exponential step fixed, half random. */
export function backoffDelay(retry: number, initialMs: number, maxMs: number, random: () => number): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.max(0, retry - 1));
  return Math.round(step / 2 + (step / 2) * Math.min(1, Math.max(0, random())));
}

function retryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Notifier {
  private readonly webhooks: Map<string, readonly Webhook[]>;
  private readonly secrets: string[];
  private readonly log: LogWriter;
  private readonly fetch: FetchLike;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly maxQueue: number;
  private readonly concurrency: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly queue: Job[] = [];
  private readonly counts = { delivered: 0, failed: 0, dropped: 0, attempts: 0 };
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(options: NotifierOptions) {
    this.webhooks = new Map(options.rules.map((r) => [r.name, r.webhooks]));
    this.secrets = [...new Set(options.rules.flatMap((r) => r.webhooks.flatMap(webhookSecrets)))].sort(
      (a, b) => b.length - a.length,
    );
    this.log = options.log;
    this.fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.maxQueue = Math.max(0, options.maxQueue ?? 1000);
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.initialMs = Math.max(0, options.backoff?.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, options.backoff?.maxMs ?? 30_000);
  }

  /** Log the events and queue their webhook deliveries; returns at once, never throws. */
  notify(events: readonly AlertEvent[]): void {
    for (const event of events) {
      this.write(event.state === "firing" ? "warn" : "info", `alert ${event.state}`, { ...event });
      (this.webhooks.get(event.rule) ?? []).forEach((webhook, i) => {
        const id = `${event.rule}#${i}`;
        if (this.queue.length >= this.maxQueue) {
          this.counts.dropped++;
          this.write("error", "webhook queue full: delivery dropped", {
            webhook: id,
            origin: webhookOrigin(webhook.url),
            rule: event.rule,
            dropped: this.counts.dropped,
          });
          return;
        }
        this.queue.push({ event, webhook, id });
      });
    }
    queueMicrotask(() => this.pump());
  }

  stats(): NotifierStats {
    return { queued: this.queue.length, inFlight: this.inFlight, ...this.counts };
  }

  /** Resolves once nothing is queued or in flight (for shutdown and tests). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A description of the configured webhooks that is safe to log. */
  describeWebhooks(): { rule: string; webhook: string; origin: string; headers: Record<string, string> }[] {
    return [...this.webhooks].flatMap(([rule, hooks]) =>
      hooks.map((w, i) => ({
        rule,
        webhook: `${rule}#${i}`,
        origin: webhookOrigin(w.url),
        headers: redactHeaders(w.headers),
      })),
    );
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift();
      if (job === undefined) break;
      this.inFlight++;
      void this.deliver(job)
        .catch((err: unknown) => {
          this.counts.failed++;
          this.write("error", "webhook delivery crashed", { webhook: job.id, error: errorText(err) });
        })
        .finally(() => {
          this.inFlight--;
          this.pump();
          if (this.queue.length === 0 && this.inFlight === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const w of waiters) w();
          }
        });
    }
  }

  private async deliver(job: Job): Promise<void> {
    const { webhook } = job;
    const attempts = webhook.retries + 1;
    const body = JSON.stringify(job.event);
    const headers = { "content-type": "application/json", "user-agent": "vsteal-alerts", ...webhook.headers };
    const where = { webhook: job.id, origin: webhookOrigin(webhook.url), rule: job.event.rule, state: job.event.state };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.counts.attempts++;
      let status: number | null = null;
      let error: string | null = null;
      try {
        const res = await this.fetch(webhook.url, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(webhook.timeoutMs),
        });
        status = res.status;
        res.body?.cancel().catch(() => undefined);
      } catch (err) {
        error = errorText(err);
      }
      if (status !== null && status >= 200 && status < 300) {
        this.counts.delivered++;
        this.write("info", "webhook delivered", { ...where, attempts: attempt, status });
        return;
      }
      const retryable = status === null || retryableStatus(status);
      const outcome = status === null ? { error } : { status };
      if (!retryable || attempt === attempts) {
        this.counts.failed++;
        this.write("error", "webhook delivery failed", { ...where, attempts: attempt, ...outcome });
        return;
      }
      const delayMs = backoffDelay(attempt, this.initialMs, this.maxMs, this.random);
      this.write("warn", "webhook attempt failed, will retry", { ...where, attempt, ...outcome, retryInMs: delayMs });
      await this.sleep(delayMs);
    }
  }

  private write(level: "info" | "warn" | "error", msg: string, fields: object): void {
    try {
      const line = jsonLine({ time: new Date(this.now()).toISOString(), level, msg, ...fields });
      this.log.write(`${scrub(line, this.secrets)}\n`);
    } catch {
      // A broken log writer must not break alerting.
    }
  }
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === "TimeoutError" || err.name === "AbortError") return "timed out";
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
}
