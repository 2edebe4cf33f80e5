/** Helpers for e2e tests on the two-host testbed (scripts/testbed up-second-host). */
import { startAgent, type RunningAgent } from "./virsh.js";

export type SecondHostAgent = RunningAgent;

/**
 * Starts `vsteal agent` "on host B": inside the second libvirtd's mount + UTS namespace
 * (`nsenter -t PID -m -u`, PID from /var/lib/vsteal-testbed/second-host.pid), where its
 * /run/libvirt is, on a free loopback port; resolves once it listens.
 */
export function startAgentOnSecondHost(pid: string): Promise<SecondHostAgent> {
  return startAgent(
    [
      "--source",
      "libvirt",
      "--connect",
      "qemu:///system",
      "--interval",
      "1",
      "--discovery-interval",
      "1",
      "--history.dir",
      "",
    ],
    ["nsenter", "-t", pid, "-m", "-u"],
  );
}
