import { execFile, type ChildProcess } from "node:child_process";
import { LibvirtUnavailableError, SourceError } from "./errors.js";

export const DEFAULT_URI = "qemu:///system";

export interface VirshOptions {
  /** libvirt connection URI, exactly as `virsh --connect` takes it. */
  uri: string;
  /** Path of the virsh binary (tests may point elsewhere). */
  virsh?: string;
  timeoutMs?: number;
}

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
    child = execFile(
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

/**
 * Runs virsh read-only. Resolves with the exit code instead of rejecting on a non-zero exit;
 * rejects only when virsh cannot be run at all.
 */
export async function runVirsh(args: readonly string[], opts: VirshOptions): Promise<VirshResult> {
  const bin = opts.virsh ?? "virsh";
  const timeoutMs = opts.timeoutMs ?? 15_000;
  // --readonly: vsteal only ever reads here, so it asks libvirt for the read-only socket.
  const { failure, ...res } = await startVirsh(opts.uri, args, { virsh: bin, timeoutMs, readonly: true }).done;
  if (failure?.kind === "not_found")
    throw new SourceError(`virsh not found (${bin}): install libvirt-clients or pass --source qemu`);
  if (failure?.kind === "spawn") throw new SourceError(`could not run virsh: ${failure.message}`);
  if (failure?.kind === "timeout")
    throw new LibvirtUnavailableError(opts.uri, `virsh did not answer within ${timeoutMs} ms`);
  return res;
}

const UNREACHABLE = [
  /failed to connect to the hypervisor/i,
  /Failed to connect socket/i,
  /no valid connection/i,
  /authentication (failed|unavailable)/i,
  /Cannot recv data/i,
  /End of file while reading data/i,
  /Connection refused/i,
  /Permission denied/i,
];

/** First meaningful line of virsh's stderr, without the "error: " prefix; `fallback` when it said nothing. */
export function virshErrorLine(stderr: string, fallback = "unknown error"): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.replace(/^error:\s*/, "").trim())
    .filter((l) => l.length > 0);
  // virsh prints "failed to connect to the hypervisor" then the cause: the cause is the useful one.
  return lines.find((l) => !/^failed to connect to the hypervisor$/i.test(l)) ?? lines[0] ?? fallback;
}

/** Throws a LibvirtUnavailableError when a failed virsh run means libvirt is not reachable. */
export function throwIfUnreachable(res: VirshResult, uri: string): void {
  if (res.code !== 0 && UNREACHABLE.some((re) => re.test(res.stderr))) {
    throw new LibvirtUnavailableError(uri, virshErrorLine(res.stderr));
  }
}
