/** Helpers for e2e tests on the two-host testbed (scripts/testbed up-second-host). */
import { join } from "node:path";
import { startAgent, type RunningAgent } from "./virsh.js";

export type SecondHostAgent = RunningAgent;

/** Where `scripts/testbed up-second-host` writes the second libvirtd's pid. */
export const SECOND_HOST_PID_FILE = join(
  process.env.VSTEAL_TESTBED_DIR ?? "/var/lib/vsteal-testbed",
  "second-host.pid",
);

/** A libvirt agent for the two-host tests: samples and discovers every second, no history. */
export const FAST_LIBVIRT_AGENT = [
  "--source",
  "libvirt",
  "--interval",
  "1",
  "--discovery-interval",
  "1",
  "--history.dir",
  "",
];

/**
 * Starts `vsteal agent` "on host B": inside the second libvirtd's mount + UTS namespace
 * (`nsenter -t PID -m -u`, PID from /var/lib/vsteal-testbed/second-host.pid), where its
 * /run/libvirt is, on a free loopback port; resolves once it listens.
 */
export function startAgentOnSecondHost(pid: string): Promise<SecondHostAgent> {
  return startAgent([...FAST_LIBVIRT_AGENT, "--connect", "qemu:///system"], ["nsenter", "-t", pid, "-m", "-u"]);
}
