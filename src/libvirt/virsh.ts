/**
 * How vsteal runs virsh: one process runner for reading (src/sources) and for changing things
 * (src/migrate), below both, so neither imports the other.
 */
import type * as ChildProcessModule from "node:child_process";
import { lazyBuiltin } from "../util/lazy-builtin.js";

/** Loaded at the first virsh run: a `vsteal domstats` of running domains starts none. */
const childProcess = lazyBuiltin<typeof ChildProcessModule>("node:child_process");
type ChildProcess = ChildProcessModule.ChildProcess;

export interface VirshResult {
  stdout: string;
  stderr: string;
  /** Exit code; 0 on success. */
  code: number;
}

/** How a virsh run ended when it did not exit on its own: not installed, not startable, too slow. */
export type VirshFailure = { kind: "not_found" } | { kind: "spawn"; message: string } | { kind: "timeout" };

export interface VirshCall {
  /** The running virsh (a long `virsh migrate` is waited for while its job is polled). */
  readonly child: ChildProcess | null;
  /** Never rejects: a virsh that could not run or finish says so in `failure`. */
  readonly done: Promise<VirshResult & { failure?: VirshFailure }>;
}

export interface StartVirshOptions {
  /** Path of the virsh binary (default "virsh"). */
  virsh?: string;
  timeoutMs: number;
  /** Ask libvirt for its read-only socket (every reader does; changing things needs read-write). */
  readonly: boolean;
  maxBuffer?: number;
}

/**
 * The one way vsteal runs virsh, for reading (sources) and for changing things (migrate):
 * execFile, so the arguments go to virsh as they are and no shell ever sees them; untranslated
 * output (we parse it); the exit code in the result, never a rejection.
 */
export function startVirsh(uri: string, args: readonly string[], opts: StartVirshOptions): VirshCall {
  const bin = opts.virsh ?? "virsh";
  let child: ChildProcess | null = null;
  const done = new Promise<VirshResult & { failure?: VirshFailure }>((resolve) => {
    child = childProcess().execFile(
      bin,
      ["--quiet", ...(opts.readonly ? ["--readonly"] : []), "--connect", uri, ...args],
      {
        timeout: opts.timeoutMs,
        maxBuffer: opts.maxBuffer ?? 64 * 1024 * 1024,
        env: { ...process.env, LC_ALL: "C", LANG: "C" },
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code === "string") {
          const failure: VirshFailure =
            err.code === "ENOENT" ? { kind: "not_found" } : { kind: "spawn", message: err.message };
          resolve({ stdout: "", stderr: "", code: 127, failure });
          return;
        }
        if (err?.killed) {
          resolve({ stdout, stderr, code: 124, failure: { kind: "timeout" } });
          return;
        }
        resolve({ stdout, stderr, code: err ? (typeof err.code === "number" ? err.code : 1) : 0 });
      },
    );
  });
  return { child, done };
}

/** First meaningful line of virsh's stderr, without the "error: " prefix; `fallback` when it said nothing. */
export function virshErrorLine(stderr: string, fallback = "unknown error"): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.replace(/^error:\s*/, "").trim())
    .filter((l) => l.length > 0);
  // virsh prints "failed to connect to the hypervisor" then the cause: the cause is the useful one.
  return lines.find((l) => !/^failed to connect to the hypervisor$/i.test(l)) ?? lines[0] ?? fallback;
}
