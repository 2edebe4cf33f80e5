/**
 * virsh for changing things (migrate, domjobabort): the one virsh runner (libvirt/virsh.ts),
 * on the read-write socket, behind an interface tests can fake. The call keeps a handle on the
 * running child so a long `virsh migrate` can be waited for while its job is polled and, on
 * timeout, aborted.
 */
import { startVirsh, virshErrorLine, type VirshCall as RunningVirsh } from "../libvirt/virsh.js";

export interface VirshRun {
  stdout: string;
  stderr: string;
  /** 0 on success. */
  code: number;
}

export interface VirshCall {
  readonly child: RunningVirsh["child"];
  readonly done: Promise<VirshRun>;
}

export interface VirshRunner {
  /** Runs `virsh --connect URI ARGS…` and resolves with its outcome (never rejects). */
  start(uri: string, args: readonly string[], timeoutMs?: number): VirshCall;
}

/** First meaningful line of virsh's stderr, without "error: ". */
export function virshError(r: VirshRun): string {
  return virshErrorLine(r.stderr, `virsh exited with ${r.code}`);
}

export function execVirsh(bin = "virsh"): VirshRunner {
  return {
    start(uri, args, timeoutMs = 30_000) {
      const call = startVirsh(uri, args, { virsh: bin, timeoutMs, readonly: false, maxBuffer: 16 * 1024 * 1024 });
      const done = call.done.then(({ failure, stdout, stderr, code }): VirshRun => {
        if (failure?.kind === "not_found")
          return { stdout: "", stderr: `virsh not found (${bin}): install libvirt-clients`, code: 127 };
        if (failure?.kind === "spawn") return { stdout: "", stderr: failure.message, code: 127 };
        if (failure?.kind === "timeout")
          return { stdout, stderr: `${stderr}\nvirsh did not finish within ${timeoutMs} ms`, code: 124 };
        return { stdout, stderr, code };
      });
      return { child: call.child, done };
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
