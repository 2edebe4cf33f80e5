/**
 * A small typed client for the Prometheus HTTP API: instant and range queries only, nothing
 * vendor-specific, so it works unchanged against Prometheus, Thanos Query and VictoriaMetrics
 * (give the URL the API lives under, e.g. http://vmselect:8481/select/0/prometheus).
 *
 * Every answer is validated; every failure is a PrometheusError whose `kind` says what went
 * wrong (unreachable, timeout, HTTP error, query error, answer not understood).
 */
import { DecodeError, decodeStreaming, Interner } from "./prom-decode.js";
import { responseBody, type QueryData } from "./prom-schema.js";

export type PrometheusErrorKind = "unreachable" | "timeout" | "http" | "query" | "invalid_response";

export class PrometheusError extends Error {
  constructor(
    readonly kind: PrometheusErrorKind,
    message: string,
    /** Prometheus' errorType (bad_data, execution, timeout, …) when it sent one. */
    readonly errorType: string | null = null,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = "PrometheusError";
  }
}

export interface Labels {
  readonly [name: string]: string;
}

/** One sample of an instant vector. */
export interface VectorSample {
  labels: Labels;
  /** Unix seconds. */
  t: number;
  v: number;
}

export interface MatrixSeries {
  labels: Labels;
  points: Array<{ t: number; v: number }>;
}

export type QueryResult =
  | { type: "vector"; samples: VectorSample[] }
  | { type: "matrix"; series: MatrixSeries[] }
  | { type: "scalar"; t: number; v: number }
  | { type: "string"; t: number; value: string };

export interface QueryAnswer<R extends QueryResult = QueryResult> {
  result: R;
  /** Warnings the server sent with a successful answer (Thanos: partial responses). */
  warnings: string[];
  /** The server says the answer is incomplete (VictoriaMetrics `isPartial`). */
  partial: boolean;
}

export interface PrometheusClientOptions {
  /** Base URL; the API is at <url>/api/v1/…. Credentials in the URL become basic auth. */
  url: string;
  /** Per-request timeout, ms (also sent to the server as `timeout`). Default 30 s. */
  timeoutMs?: number;
  /** POST form (default; long queries fit) or GET. A 405 to POST falls back to GET. */
  method?: "POST" | "GET";
  headers?: Record<string, string>;
  /**
   * The largest answer read, bytes (decompressed). Default 1 GiB. Answers are decoded as they
   * stream in and never held whole, so memory follows the series, not the body.
   */
  maxResponseBytes?: number;
  /**
   * Ask for gzip-compressed answers (default false). Compressing a fleet's answers costs the
   * server more time than sending them uncompressed over a LAN, and costs vsteal time to
   * inflate; turn it on where the link, not the CPU, is the bottleneck.
   */
  compression?: boolean;
  /**
   * At most this many queries in flight at once (default: no limit). The CLI and the
   * controller use FLEET_QUERY_CONCURRENCY: VictoriaMetrics answers more than
   * -search.maxConcurrentRequests (default 4) with 503 once they have queued 10 s, and a
   * fleet's queries are heavy enough that more in parallel only share the server's CPUs.
   */
  maxConcurrency?: number;
  /** For tests: a fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024 * 1024;
/** Queries in flight at once from the CLI and the controller (VictoriaMetrics' default limit). */
export const FLEET_QUERY_CONCURRENCY = 4;

const isPair = (p: unknown): p is [number, string] =>
  Array.isArray(p) && p.length === 2 && typeof p[0] === "number" && typeof p[1] === "string";

/** A sample of a vector as it streams in (its own class: told from anything else the answer holds). */
class CompactSample implements VectorSample {
  constructor(
    public labels: Labels,
    public t: number,
    public v: number,
  ) {}
}

/** A series of a matrix as it streams in. */
class CompactSeries implements MatrixSeries {
  constructor(
    public labels: Labels,
    public points: Array<{ t: number; v: number }>,
  ) {}
}

type Compact = CompactSample | CompactSeries;
const isCompact = (x: unknown): x is Compact => x instanceof CompactSample || x instanceof CompactSeries;

/**
 * Label values shared with the series before (an answer lists a VM's vCPUs, a host's VMs one
 * after the other: the same host, instance, job, domain and UUID), else interned: one string per
 * distinct value, without hashing most of them.
 */
class LabelSharer {
  private prev: Record<string, string> = {};
  constructor(private readonly intern: Interner) {}
  share(labels: Record<string, unknown>, index: number): Labels {
    const prev = this.prev;
    for (const k of Object.keys(labels)) {
      const v = labels[k];
      if (typeof v !== "string")
        throw new DecodeError("malformed", `data.result.${index}.metric.${k}: expected a string`);
      const p = prev[k];
      labels[k] = p === v ? p : this.intern.get(v);
    }
    this.prev = labels as Record<string, string>;
    return labels as Labels;
  }
}

/**
 * A series of a vector or matrix in its compact form, as it streams in: the label object JSON.parse
 * made, its values shared; the value parsed. Anything else is returned as it is, for the
 * schema to judge; a malformed series throws.
 */
function compactElement(e: unknown, labelSharer: LabelSharer, index: number): unknown {
  if (typeof e !== "object" || e === null || Array.isArray(e)) return e;
  const o = e as { metric?: unknown; value?: unknown; values?: unknown };
  const m = o.metric;
  if (typeof m !== "object" || m === null || Array.isArray(m))
    throw new DecodeError("malformed", `data.result.${index}.metric: expected an object of labels`);
  const labels = labelSharer.share(m as Record<string, unknown>, index);
  if (o.value !== undefined) {
    if (!isPair(o.value)) throw new DecodeError("malformed", `data.result.${index}.value: expected [time, "value"]`);
    return new CompactSample(labels, o.value[0], parseSampleValue(o.value[1]));
  }
  if (Array.isArray(o.values)) {
    const points = o.values.map((p, j) => {
      if (!isPair(p)) throw new DecodeError("malformed", `data.result.${index}.values.${j}: expected [time, "value"]`);
      return { t: p[0], v: parseSampleValue(p[1]) };
    });
    return new CompactSeries(labels, points);
  }
  throw new DecodeError("malformed", `data.result.${index}: expected "value" or "values"`);
}

/** "NaN", "+Inf", "-Inf" as Prometheus writes them; Number() alone does not read "+Inf". */
export function parseSampleValue(s: string): number {
  if (s === "+Inf" || s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  return Number(s);
}

function convert(d: QueryData): QueryResult {
  switch (d.resultType) {
    case "vector":
      return {
        type: "vector",
        samples: d.result.map((r) => ({ labels: r.metric, t: r.value[0], v: parseSampleValue(r.value[1]) })),
      };
    case "matrix":
      return {
        type: "matrix",
        series: d.result.map((r) => ({
          labels: r.metric,
          points: r.values.map(([t, v]) => ({ t, v: parseSampleValue(v) })),
        })),
      };
    case "scalar":
      return { type: "scalar", t: d.result[0], v: parseSampleValue(d.result[1]) };
    case "string":
      return { type: "string", t: d.result[0], value: d.result[1] };
  }
}

/** The most telling part of a fetch failure: an errno code (ECONNREFUSED), else the innermost cause. */
function errnoOf(e: unknown): string | null {
  let cur: unknown = e;
  let deepest: string | null = null;
  for (let i = 0; i < 5 && cur instanceof Error; i++) {
    const code = (cur as NodeJS.ErrnoException).code;
    // undici's name for a connection the server closed before its answer (e.g. while it shut down)
    if (code === "UND_ERR_SOCKET") return `the connection closed before an answer (${cur.message})`;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code))
      return `${code}${cur.message && !cur.message.includes(code) ? ` (${cur.message})` : ""}`;
    if (cur.message) deepest = cur.message;
    cur = (cur as Error & { cause?: unknown }).cause;
  }
  return deepest;
}

const seconds = (t: Date | number): string => (t instanceof Date ? t.getTime() / 1000 : t).toFixed(3);

export class PrometheusClient {
  readonly url: string;
  /** The URL without credentials, for messages. */
  readonly displayUrl: string;
  private readonly timeoutMs: number;
  private method: "POST" | "GET";
  private readonly headers: Record<string, string>;
  private readonly fetchFn: typeof fetch;
  private readonly maxResponseBytes: number;
  private readonly maxConcurrency: number;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(opts: PrometheusClientOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new PrometheusError(
        "invalid_response",
        `--prometheus ${JSON.stringify(opts.url)}: not a URL (expected e.g. http://prometheus:9090)`,
      );
    }
    if (u.protocol !== "http:" && u.protocol !== "https:")
      throw new PrometheusError(
        "invalid_response",
        `--prometheus ${JSON.stringify(opts.url)}: expected an http:// or https:// URL`,
      );
    this.headers = {
      accept: "application/json",
      "accept-encoding": opts.compression ? "gzip" : "identity",
      ...opts.headers,
    };
    if (u.username || u.password) {
      const cred = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      this.headers.authorization ??= `Basic ${Buffer.from(cred).toString("base64")}`;
      u.username = "";
      u.password = "";
    }
    u.search = "";
    u.hash = "";
    this.url = u.toString().replace(/\/+$/, "");
    this.displayUrl = this.url;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.method = opts.method ?? "POST";
    this.fetchFn = opts.fetch ?? fetch;
    this.maxResponseBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.maxConcurrency = Math.max(1, opts.maxConcurrency ?? Number.POSITIVE_INFINITY);
  }

  /** Runs f when fewer than maxConcurrency calls are in flight. */
  private async limited<T>(f: () => Promise<T>): Promise<T> {
    // A finished call hands its slot straight to the next waiting one.
    if (this.inFlight >= this.maxConcurrency) await new Promise<void>((r) => this.waiting.push(r));
    else this.inFlight++;
    try {
      return await f();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    }
  }

  /** Instant query at `time` (default: the server's now). */
  query(expr: string, opts: { time?: Date | number } = {}): Promise<QueryAnswer> {
    const p: Record<string, string> = { query: expr };
    if (opts.time !== undefined) p.time = seconds(opts.time);
    return this.call("query", p);
  }

  /** Range query from `start` to `end` every `stepS` seconds. */
  queryRange(expr: string, start: Date | number, end: Date | number, stepS: number): Promise<QueryAnswer> {
    if (!(stepS > 0)) throw new RangeError(`step must be positive, got ${stepS}`);
    return this.call("query_range", { query: expr, start: seconds(start), end: seconds(end), step: String(stepS) });
  }

  /** An instant query that must answer with a vector. */
  async vector(
    expr: string,
    opts: { time?: Date | number } = {},
  ): Promise<QueryAnswer<Extract<QueryResult, { type: "vector" }>>> {
    const a = await this.query(expr, opts);
    if (a.result.type !== "vector")
      throw new PrometheusError(
        "invalid_response",
        `${this.displayUrl}: query ${expr} answered a ${a.result.type}, expected a vector`,
      );
    return { ...a, result: a.result };
  }

  private call(endpoint: "query" | "query_range", params: Record<string, string>): Promise<QueryAnswer> {
    return this.limited(() => this.callNow(endpoint, params));
  }

  private async callNow(endpoint: "query" | "query_range", params: Record<string, string>): Promise<QueryAnswer> {
    const form = new URLSearchParams({ ...params, timeout: `${Math.max(1, Math.floor(this.timeoutMs / 1000))}s` });
    const target = `${this.url}/api/v1/${endpoint}`;
    const what = `Prometheus at ${this.displayUrl}`;
    let res = await this.send(target, form, what);
    if (res.status === 405 && this.method === "POST") {
      this.method = "GET";
      res = await this.send(target, form, what);
    }
    const json = (res.headers.get("content-type") ?? "application/json").includes("json");
    if (!res.ok && (!json || ![400, 422, 500, 503].includes(res.status))) {
      // Not an API answer (proxy error page, 404 of a wrong path): its first line says why.
      const snippet = await this.snippet(res);
      throw new PrometheusError(
        "http",
        `${what}: HTTP ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ""}`,
        null,
        res.status,
      );
    }
    let decoded: Awaited<ReturnType<typeof decodeStreaming>>;
    const labelSharer = new LabelSharer(new Interner());
    let index = 0;
    try {
      if (!res.body) throw new DecodeError("truncated", "the answer has no body");
      decoded = await decodeStreaming(res.body, this.maxResponseBytes, (e) => compactElement(e, labelSharer, index++));
    } catch (e) {
      if (e instanceof DecodeError) {
        await res.body?.cancel().catch(() => undefined);
        if (e.kind === "too_large") {
          throw new PrometheusError(
            "invalid_response",
            `${what}: ${e.message} (query: ${params.query}); narrow the query with --selector, or split the fleet`,
            null,
            res.status,
          );
        }
        if (!res.ok)
          throw new PrometheusError("http", `${what}: HTTP ${res.status} ${res.statusText}`, null, res.status);
        if (e.kind === "truncated")
          throw new PrometheusError(
            "invalid_response",
            `${what}: the answer to /api/v1/${endpoint} ${e.message.replace(/^the answer /, "")}`,
            null,
            res.status,
          );
        throw new PrometheusError(
          "invalid_response",
          `${what}: the answer to /api/v1/${endpoint} is not understood: ${e.message} (is this the Prometheus API?)`,
          null,
          res.status,
        );
      }
      throw this.transportError(e, what);
    }
    const skeleton = decoded.skeleton as { data?: { resultType?: unknown; result?: unknown } } | null;
    const elements = decoded.elements;
    let compact: Compact[] | null = null;
    if (
      elements !== null &&
      skeleton &&
      typeof skeleton === "object" &&
      skeleton.data &&
      typeof skeleton.data === "object"
    ) {
      const type = skeleton.data.resultType;
      if ((type === "vector" || type === "matrix") && elements.every(isCompact)) {
        compact = elements as Compact[];
        skeleton.data.result = [];
      } else {
        skeleton.data.result = elements.map((x) =>
          x instanceof CompactSample
            ? { metric: x.labels, value: [x.t, String(x.v)] }
            : x instanceof CompactSeries
              ? { metric: x.labels, values: [] }
              : x,
        );
      }
    }
    const parsed = responseBody.safeParse(skeleton);
    if (!parsed.success) {
      if (!res.ok) throw new PrometheusError("http", `${what}: HTTP ${res.status} ${res.statusText}`, null, res.status);
      const issue = parsed.error.issues[0];
      throw new PrometheusError(
        "invalid_response",
        `${what}: unexpected answer to /api/v1/${endpoint}: ${issue ? `${issue.path.join(".") || "(top)"}: ${issue.message}` : "invalid"}`,
        null,
        res.status,
      );
    }
    const body = parsed.data;
    if (body.status === "error") {
      const kind = body.errorType === "timeout" ? "timeout" : "query";
      throw new PrometheusError(
        kind,
        `${what}: ${body.errorType}: ${body.error} (query: ${params.query})`,
        body.errorType,
        res.status,
      );
    }
    let result: QueryResult;
    if (compact !== null && body.data.resultType === "vector") {
      if (!compact.every((c) => c instanceof CompactSample))
        throw new PrometheusError(
          "invalid_response",
          `${what}: a vector answer to /api/v1/${endpoint} holds matrix series`,
          null,
          res.status,
        );
      result = { type: "vector", samples: compact as CompactSample[] };
    } else if (compact !== null && body.data.resultType === "matrix") {
      if (!compact.every((c) => c instanceof CompactSeries))
        throw new PrometheusError(
          "invalid_response",
          `${what}: a matrix answer to /api/v1/${endpoint} holds vector samples`,
          null,
          res.status,
        );
      result = { type: "matrix", series: compact as CompactSeries[] };
    } else {
      result = convert(body.data);
    }
    return { result, warnings: [...(body.warnings ?? [])], partial: body.isPartial === true };
  }

  /** The first 200 characters of an error page, read with the same limit as any answer. */
  private async snippet(res: Response): Promise<string> {
    try {
      const reader = res.body?.getReader();
      if (!reader) return "";
      const { value } = await reader.read();
      await reader.cancel().catch(() => undefined);
      return new TextDecoder()
        .decode(value ?? new Uint8Array())
        .replace(/\s+/g, " ")
        .trim()
        .slice(0, 200);
    } catch {
      return "";
    }
  }

  private async send(target: string, form: URLSearchParams, what: string): Promise<Response> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      if (this.method === "POST") {
        return await this.fetchFn(target, {
          method: "POST",
          headers: { ...this.headers, "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
          signal,
        });
      }
      return await this.fetchFn(`${target}?${form.toString()}`, { method: "GET", headers: this.headers, signal });
    } catch (e) {
      throw this.transportError(e, what);
    }
  }

  private transportError(e: unknown, what: string): PrometheusError {
    if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) {
      return new PrometheusError("timeout", `${what} did not answer within ${this.timeoutMs / 1000} s`);
    }
    const code = errnoOf(e);
    return new PrometheusError(
      "unreachable",
      `cannot reach ${what}: ${code ?? (e instanceof Error ? e.message : String(e))}`,
    );
  }
}
