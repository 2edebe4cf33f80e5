/**
 * The page's state: the latest answers of the agent, the live series accumulated from them, the
 * history for the chosen range, and whether the agent is reachable. One poll loop feeds it;
 * views subscribe and redraw.
 */
import {
  getJson,
  HttpError,
  parse,
  roleOf,
  UnreachableError,
  type ServerRole,
  type AlertsResponse,
  type DomainsResponse,
  type HealthResponse,
  type HostResponse,
  type VictimsResponse,
} from "./api.js";
import { parseFleet, type ApplyData, type AuditView, type ControllerHealth, type FleetData } from "./fleet.js";
import { LiveStore, regroupHistory, type HistoryData } from "./series.js";

export type RangeKey = "15m" | "1h" | "24h" | "7d";
export const RANGES: ReadonlyArray<{ key: RangeKey; label: string; ms: number }> = [
  { key: "15m", label: "15 min", ms: 15 * 60_000 },
  { key: "1h", label: "1 h", ms: 3_600_000 },
  { key: "24h", label: "24 h", ms: 86_400_000 },
  { key: "7d", label: "7 d", ms: 7 * 86_400_000 },
];
export const rangeMs = (k: RangeKey): number => RANGES.find((r) => r.key === k)?.ms ?? 3_600_000;
export const isRangeKey = (s: string | null): s is RangeKey => RANGES.some((r) => r.key === s);

export type Connection =
  | { kind: "connecting" }
  | { kind: "ok" }
  /** The agent does not answer (restarting, stopped, network): retried with backoff. */
  | { kind: "down"; failures: number; retryAtMs: number; message: string }
  /** The agent answers, but with an error (e.g. 401, 500). */
  | { kind: "error"; failures: number; retryAtMs: number; status: number; message: string };

export type HistoryState =
  | { kind: "loading" }
  | { kind: "ok"; data: HistoryData }
  | { kind: "disabled"; message: string }
  | { kind: "error"; message: string };

export interface Snapshot {
  domains: DomainsResponse | null;
  host: HostResponse | null;
  health: HealthResponse | null;
  alerts: AlertsResponse | null;
  victims: VictimsResponse | null;
  /** When the last poll succeeded (page clock). */
  lastOkMs: number | null;
}

/** What the fleet controller answered last. */
export interface FleetSnap {
  health: ControllerHealth | null;
  /** The newest audit (ok or failed); null before the first one finished. */
  latest: AuditView | null;
  data: FleetData | null;
  /** Apply mode's plans (null in dry run). */
  apply: ApplyData | null;
}

/** Whether discovery (libvirt) is failing now, as far as /api/v1/health tells. */
export interface DiscoveryTrouble {
  message: string;
  sinceMs: number | null;
}

const MAX_BACKOFF_MS = 30_000;
const SLOW_EVERY = 5; // alerts and neighbours every 5th poll

export class AppState {
  readonly live = new LiveStore();
  snap: Snapshot = { domains: null, host: null, health: null, alerts: null, victims: null, lastOkMs: null };
  conn: Connection = { kind: "connecting" };
  range: RangeKey;
  history: HistoryState = { kind: "loading" };
  historyLoadedMs = 0;
  discovery: DiscoveryTrouble | null = null;
  /** Who serves the page, once /api/v1/health told. */
  role: ServerRole | null = null;
  fleet: FleetSnap = { health: null, latest: null, data: null, apply: null };

  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private polls = 0;
  private failures = 0;
  private historySeq = 0;
  private prevDiscoveryErrors: number | null = null;
  private prevLastDiscoveryMs: number | null = null;

  constructor(range: RangeKey) {
    this.range = range;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(): void {
    for (const fn of this.listeners) fn();
  }

  /** "agent", "controller", or "server" before it is known: for messages. */
  get serverName(): string {
    return this.role ?? "server";
  }

  /** Poll interval: the agent's own sampling interval, 1 to 10 s; the controller's audit interval, 2 to 10 s. */
  get pollMs(): number {
    if (this.role === "controller") return Math.min(10, Math.max(2, this.fleet.health?.interval_s || 10)) * 1000;
    const s = this.snap.host?.interval_s ?? this.snap.domains?.interval_s ?? 2;
    return Math.min(10, Math.max(1, s)) * 1000;
  }

  start(): void {
    void this.poll();
  }

  /** Polls now (the "retry now" button). */
  retryNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.poll();
  }

  setRange(r: RangeKey): void {
    if (r === this.range) return;
    this.range = r;
    this.history = { kind: "loading" };
    this.emit();
    void this.loadHistory();
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
  }

  private async poll(): Promise<void> {
    try {
      if (this.role === null) this.role = roleOf(await getJson("/api/v1/health"));
      const wasDown = this.conn.kind !== "ok";
      if (this.role === "controller") await this.pollController();
      else await this.pollAgent(wasDown);
      this.snap.lastOkMs = Date.now();
      this.conn = { kind: "ok" };
      this.failures = 0;
      this.emit();
      this.schedule(this.pollMs);
    } catch (e) {
      this.failures++;
      const wait = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
      const retryAtMs = Date.now() + wait;
      const message = e instanceof Error ? e.message : String(e);
      this.conn =
        e instanceof HttpError
          ? { kind: "error", failures: this.failures, retryAtMs, status: e.status, message }
          : {
              kind: "down",
              failures: this.failures,
              retryAtMs,
              message: e instanceof UnreachableError ? message : `unexpected answer: ${message}`,
            };
      this.emit();
      this.schedule(wait);
    }
  }

  private async pollAgent(wasDown: boolean): Promise<void> {
    const slow = this.polls % SLOW_EVERY === 0;
    this.polls++;
    const [domains, host, health] = await Promise.all([
      getJson("/api/v1/domains"),
      getJson("/api/v1/host"),
      getJson("/api/v1/health"),
    ]);
    this.snap.domains = parse.domains(domains);
    this.snap.host = parse.host(host);
    this.snap.health = parse.health(health);
    this.live.add(this.snap.domains, this.snap.host);
    this.updateDiscovery(this.snap.health);
    if (slow || wasDown) await this.pollSlow();
    const historyDue =
      wasDown ||
      (this.history.kind === "ok" && Date.now() - this.historyLoadedMs > 60_000) ||
      (this.history.kind !== "ok" && Date.now() - this.historyLoadedMs > 300_000);
    if (historyDue) void this.loadHistory();
  }

  /**
   * The controller: health, the newest audit (from /plans, which answers 200 whether it failed
   * or not), the fleet's series, and in apply mode the plans waiting or applied.
   */
  private async pollController(): Promise<void> {
    const [health, plans, fleet] = await Promise.all([
      getJson("/api/v1/health"),
      getJson("/api/v1/plans?limit=1"),
      getJson("/api/v1/fleet"),
    ]);
    this.fleet.health = parseFleet.health(health);
    this.fleet.latest = parseFleet.latestAudit(plans);
    this.fleet.data = parseFleet.fleet(fleet);
    this.fleet.apply = this.fleet.health.dry_run ? null : parseFleet.apply(await getJson("/api/v1/apply"));
  }

  /** Alerts and noisy neighbours: slower-moving, each may fail on its own. */
  private async pollSlow(): Promise<void> {
    const [alerts, victims] = await Promise.allSettled([
      getJson("/api/v1/alerts"),
      getJson("/api/v1/neighbours?limit=20"),
    ]);
    if (alerts.status === "fulfilled") this.snap.alerts = parse.alerts(alerts.value);
    if (victims.status === "fulfilled") this.snap.victims = parse.victims(victims.value);
  }

  /**
   * /api/v1/health keeps the last discovery error forever; it is current when discovery failed
   * again since the last poll, or never succeeded at all.
   */
  private updateDiscovery(h: HealthResponse): void {
    const failedAgain = this.prevDiscoveryErrors !== null && h.discovery_errors > this.prevDiscoveryErrors;
    const succeeded =
      this.prevLastDiscoveryMs !== null &&
      h.last_discovery_ms !== null &&
      h.last_discovery_ms > this.prevLastDiscoveryMs;
    if (h.last_error && h.discovery_errors > 0 && (h.last_discovery_ms === null || failedAgain)) {
      this.discovery = { message: h.last_error, sinceMs: this.discovery?.sinceMs ?? Date.now() };
    } else if (succeeded || h.discovery_errors === 0) {
      this.discovery = null;
    }
    this.prevDiscoveryErrors = h.discovery_errors;
    this.prevLastDiscoveryMs = h.last_discovery_ms;
  }

  /** Step of the history query: about 600 columns over the range, never finer than the sampling. */
  stepS(): number {
    const interval = Math.max(1, Math.round(this.snap.host?.interval_s ?? 1));
    return Math.max(interval, Math.ceil(rangeMs(this.range) / 1000 / 600));
  }

  async loadHistory(): Promise<void> {
    const seq = ++this.historySeq;
    const to = Date.now();
    const span = rangeMs(this.range);
    // The agent answers from its per-sample tier only when `from` lies within the last hour by its
    // own clock: a little margin keeps the 1-hour range at full resolution.
    const from = to - span + (span <= 3_600_000 ? 15_000 : 0);
    const step = this.stepS();
    this.historyLoadedMs = Date.now();
    try {
      const r = parse.history(
        await getJson(
          `/api/v1/history?from=${Math.floor(from / 1000)}&to=${Math.ceil(to / 1000)}&step=${step}s`,
          30_000,
        ),
      );
      if (seq !== this.historySeq) return;
      this.history = {
        kind: "ok",
        data: regroupHistory(r, step, this.snap.host?.capacity ?? 0, this.snap.host?.interval_s ?? 1),
      };
    } catch (e) {
      if (seq !== this.historySeq) return;
      const message = e instanceof Error ? e.message : String(e);
      this.history =
        e instanceof HttpError && e.status === 404 ? { kind: "disabled", message } : { kind: "error", message };
    }
    this.emit();
  }
}
