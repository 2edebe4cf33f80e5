import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { CLI } from "../e2e/virsh.js";

export interface AgentProcess {
  child: ChildProcess;
  /** http(s)://host:port once it listens. */
  url: string;
  port: number;
  stderr: () => string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<number | NodeJS.Signals>;
  stop: (signal?: NodeJS.Signals) => Promise<number | NodeJS.Signals>;
}

export interface SpawnAgentOptions {
  env?: NodeJS.ProcessEnv;
  /** A command (and its arguments) the agent runs under, e.g. ["unshare", "--net", "--"]. */
  wrap?: string[];
  /** Do not add --web.listen-address 127.0.0.1:0 (the test passes its own, or none). */
  ownListenAddress?: boolean;
  /** NODE_OPTIONS for the agent; default as deploy/systemd runs it. */
  nodeOptions?: string;
}

/**
 * Starts `vsteal agent` (the built CLI) and resolves once it says where it listens. By default
 * on 127.0.0.1:0, a free port: other sessions run agents on fixed ports on this host.
 */
export function spawnAgent(args: string[], opts: SpawnAgentOptions = {}): Promise<AgentProcess> {
  const listen = opts.ownListenAddress ? [] : ["--web.listen-address", "127.0.0.1:0"];
  const argv = [process.execPath, CLI, "agent", ...listen, ...args];
  const [cmd, ...rest] = opts.wrap ? [...opts.wrap, ...argv] : argv;
  const child = spawn(cmd!, rest, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, NODE_OPTIONS: opts.nodeOptions ?? "--max-semi-space-size=2", ...opts.env },
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once("exit", (code, sig) => resolve(code ?? sig ?? -1)),
  );
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | NodeJS.Signals> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`agent did not start within 60 s:\n${err}`));
    }, 60_000);
    const onData = (): void => {
      const m = /listening on (https?:\/\/\S+?:(\d+)) /.exec(err);
      if (!m) return;
      clearTimeout(timer);
      child.stderr!.off("data", onData);
      resolve({ child, url: m[1]!, port: Number(m[2]), stderr: () => err, exited, stop });
    };
    child.stderr!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited (${code}) before listening:\n${err}`));
    });
  });
}

/** Runs `vsteal agent` expecting it to refuse to start; resolves with its exit code and stderr. */
export function agentRefuses(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [CLI, "agent", "--web.listen-address", "127.0.0.1:0", "--history.dir", "", ...args],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`agent did not exit within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: err });
    });
  });
}

export interface Health {
  status: string;
  sweeps: number;
  discovery_errors: number;
  errors: number;
  vcpus: number;
  domains: number;
  last_discovery_ms: number | null;
  last_error: string | null;
  memory: { rss: number; heap_used: number };
}

export async function health(url: string): Promise<Health> {
  const r = await fetch(`${url}/api/v1/health`);
  if (!r.ok) throw new Error(`/api/v1/health: ${r.status}`);
  return (await r.json()) as Health;
}

/** Waits until `ok(health)` holds; polls every 200 ms. */
export async function waitHealth(
  url: string,
  ok: (h: Health) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<Health> {
  const end = Date.now() + timeoutMs;
  let last: Health | null = null;
  while (Date.now() < end) {
    try {
      last = await health(url);
      if (ok(last)) return last;
    } catch {
      /* not yet */
    }
    await sleep(200);
  }
  throw new Error(`agent never reached: ${what}; last health ${JSON.stringify(last)}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident set size of a process, KiB. */
export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
  /** The server closed the connection without a response. */
  closedWithoutResponse: boolean;
}

/**
 * Sends `request` bytes as they are over a fresh TCP connection and reads until the server
 * closes it (send `Connection: close`). No client library between the test and the agent, so
 * request lines no HTTP client would send (`..`, NUL bytes, bad escapes) arrive as written.
 */
export function rawHttp(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(request.toString().slice(0, 80))}`));
    }, timeoutMs);
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", () => undefined); // a reset after the response is fine; judged on what was read
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(parseResponse(Buffer.concat(chunks)));
    });
    sock.write(request);
  });
}

export function parseResponse(raw: Buffer): RawResponse {
  const sep = raw.indexOf("\r\n\r\n");
  if (raw.length === 0 || sep < 0) return { status: 0, headers: new Map(), body: raw, closedWithoutResponse: true };
  const head = raw.subarray(0, sep).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "")?.[1] ?? 0);
  const headers = new Map<string, string>();
  for (const line of head.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  let body = raw.subarray(sep + 4);
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) body = dechunk(body);
  return { status, headers, body, closedWithoutResponse: false };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const eol = b.indexOf("\r\n", i);
    if (eol < 0) break;
    const size = parseInt(b.subarray(i, eol).toString("latin1"), 16);
    if (!Number.isFinite(size) || size === 0) break;
    out.push(b.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
