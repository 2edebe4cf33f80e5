import { execFile } from "node:child_process";
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

/**
 * Runs virsh with execFile: the arguments go to virsh as they are, no shell ever sees them.
 * Resolves with the exit code instead of rejecting on a non-zero exit; rejects only when
 * virsh cannot be run at all.
 */
export function runVirsh(args: readonly string[], opts: VirshOptions): Promise<VirshResult> {
  const bin = opts.virsh ?? "virsh";
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      // --readonly: vsteal only ever reads, so it asks libvirt for the read-only socket.
      ["--quiet", "--readonly", "--connect", opts.uri, ...args],
      {
        timeout: opts.timeoutMs ?? 15_000,
        maxBuffer: 64 * 1024 * 1024,
        // Untranslated output: we parse it.
        env: { ...process.env, LC_ALL: "C", LANG: "C" },
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code === "string") {
          if (err.code === "ENOENT") {
            reject(new SourceError(`virsh not found (${bin}): install libvirt-clients or pass --source qemu`));
          } else {
            reject(new SourceError(`could not run virsh: ${err.message}`));
          }
          return;
        }
        if (err && err.killed) {
          reject(new LibvirtUnavailableError(opts.uri, `virsh did not answer within ${opts.timeoutMs ?? 15_000} ms`));
          return;
        }
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ stdout, stderr, code });
      },
    );
  });
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

/** First meaningful line of virsh's stderr, without the "error: " prefix. */
export function virshErrorLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.replace(/^error:\s*/, "").trim())
    .filter((l) => l.length > 0);
  // virsh prints "failed to connect to the hypervisor" then the cause: the cause is the useful one.
  return lines.find((l) => !/^failed to connect to the hypervisor$/i.test(l)) ?? lines[0] ?? "unknown error";
}

/** Throws a LibvirtUnavailableError when a failed virsh run means libvirt is not reachable. */
export function throwIfUnreachable(res: VirshResult, uri: string): void {
  if (res.code !== 0 && UNREACHABLE.some((re) => re.test(res.stderr))) {
    throw new LibvirtUnavailableError(uri, virshErrorLine(res.stderr));
  }
}
