import { LibvirtUnavailableError, SourceError } from "./errors.js";
import { startVirsh, virshErrorLine, type VirshResult } from "../libvirt/virsh.js";

export const DEFAULT_URI = "qemu:///system";

export interface VirshOptions {
  /** libvirt connection URI, exactly as `virsh --connect` takes it. */
  uri: string;
  /** Path of the virsh binary (tests may point elsewhere). */
  virsh?: string;
  timeoutMs?: number;
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

/** Throws a LibvirtUnavailableError when a failed virsh run means libvirt is not reachable. */
export function throwIfUnreachable(res: VirshResult, uri: string): void {
  if (res.code !== 0 && UNREACHABLE.some((re) => re.test(res.stderr))) {
    throw new LibvirtUnavailableError(uri, virshErrorLine(res.stderr));
  }
}
