/**
 * virsh for changing things (migrate, domjobabort): like src/sources/virsh.ts, execFile and
 * never a shell, but on the read-write socket, and with a handle on the running child so a
 * long `virsh migrate` can be waited for while its job is polled and, on timeout, aborted.
 */
import { execFile, type ChildProcess } from "node:child_process";

export interface VirshRun {
  stdout: string;
  stderr: string;
  /** 0 on success. */
  code: number;
}

export interface VirshCall {
  readonly child: ChildProcess | null;
  readonly done: Promise<VirshRun>;
}

export interface VirshRunner {
  /** Runs `virsh --connect URI ARGS…` and resolves with its outcome (never rejects). */
  start(uri: string, args: readonly string[], timeoutMs?: number): VirshCall;
}

/** First meaningful line of virsh's stderr, without "error: ". */
export function virshError(r: VirshRun): string {
  const lines = r.stderr
    .split("\n")
    .map((l) => l.replace(/^error:\s*/, "").trim())
    .filter((l) => l.length > 0);
  return (
    lines.find((l) => !/^failed to connect to the hypervisor$/i.test(l)) ?? lines[0] ?? `virsh exited with ${r.code}`
  );
}

export function execVirsh(bin = "virsh"): VirshRunner {
  return {
    start(uri, args, timeoutMs = 30_000) {
      let child: ChildProcess | null = null;
      const done = new Promise<VirshRun>((resolve) => {
        child = execFile(
          bin,
          ["--quiet", "--connect", uri, ...args],
          {
            timeout: timeoutMs,
            maxBuffer: 16 * 1024 * 1024,
            env: { ...process.env, LC_ALL: "C", LANG: "C" },
            encoding: "utf8",
          },
          (err, stdout, stderr) => {
            if (err && typeof err.code === "string") {
              resolve({
                stdout: "",
                stderr: err.code === "ENOENT" ? `virsh not found (${bin}): install libvirt-clients` : err.message,
                code: 127,
              });
              return;
            }
            if (err?.killed) {
              resolve({ stdout, stderr: `${stderr}\nvirsh did not finish within ${timeoutMs} ms`, code: 124 });
              return;
            }
            resolve({ stdout, stderr, code: err ? (typeof err.code === "number" ? err.code : 1) : 0 });
          },
        );
      });
      return { child, done };
    },
  };
}

export async function virshRun(
  r: VirshRunner,
  uri: string,
  args: readonly string[],
  timeoutMs?: number,
): Promise<VirshRun> {
  return r.start(uri, args, timeoutMs).done;
}
