import { execFileSync } from "node:child_process";
import { join } from "node:path";

export const URI = "qemu:///system";
export const ROOT = join(import.meta.dirname, "..", "..");
export const CLI = join(ROOT, "dist", "cli", "main.cjs");
export const TESTBED = join(ROOT, "scripts", "testbed");

export function virsh(...args: string[]): string {
  return execFileSync("virsh", ["-q", "-c", URI, ...args], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
}

/** `virsh domstats --vcpu --raw` parsed: domain name → key → raw value string. */
export function virshDomstats(...domains: string[]): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let cur: Map<string, string> | null = null;
  for (const line of virsh("domstats", "--vcpu", "--raw", ...domains).split("\n")) {
    const m = /^Domain: '(.*)'$/.exec(line);
    if (m) {
      cur = new Map();
      out.set(m[1] ?? "", cur);
      continue;
    }
    const kv = /^ {2}([^=]+)=(.*)$/.exec(line);
    if (kv && cur) cur.set(kv[1] ?? "", kv[2] ?? "");
  }
  return out;
}

/** Runs the built CLI; returns stdout, stderr and the exit code. */
export function vsteal(...args: string[]): { stdout: string; stderr: string; code: number } {
  try {
    const stdout = execFileSync(process.execPath, [CLI, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { stdout, stderr: "", code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; status?: number };
    return { stdout: err.stdout ?? "", stderr: err.stderr ?? "", code: err.status ?? 1 };
  }
}

export function testbed(...args: string[]): string {
  return execFileSync(TESTBED, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

export function runningTestbedDomains(): string[] {
  return virsh("list", "--name")
    .split("\n")
    .filter((n) => n.startsWith("vsteal-test-"));
}

export interface RunningAgent {
  child: import("node:child_process").ChildProcess;
  url: string;
  stderr: () => string;
  /** Resolves once the agent has done at least `n` sweeps. */
  sweeps: (n: number) => Promise<void>;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/**
 * Starts `vsteal agent` on a free loopback port (port 0) and resolves once it listens;
 * `wrap` runs it under another command (e.g. nsenter into the second host's namespaces).
 */
export async function startAgent(args: string[], wrap: string[] = []): Promise<RunningAgent> {
  const { spawn } = await import("node:child_process");
  const argv = [...wrap, process.execPath, CLI, "agent", "--web.listen-address", "127.0.0.1:0", ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${err}`)), 60_000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http\S+) /.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`agent exited with ${code}:\n${err}`)));
  });
  const sweeps = async (n: number): Promise<void> => {
    for (let i = 0; i < 300; i++) {
      const h = (await (await fetch(`${url}/api/v1/health`)).json()) as { sweeps: number };
      if (h.sweeps >= n) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`agent did not reach ${n} sweeps`);
  };
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  };
  return { child, url, stderr: () => err, sweeps, stop };
}
