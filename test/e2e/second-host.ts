/** Helpers for e2e tests on the two-host testbed (scripts/testbed up-second-host). */
import { spawn, type ChildProcess } from "node:child_process";
import { CLI } from "./virsh.js";

export interface SecondHostAgent {
  child: ChildProcess;
  url: string;
  stop: () => Promise<void>;
}

/**
 * Starts `vsteal agent` "on host B": inside the second libvirtd's mount + UTS namespace
 * (`nsenter -t PID -m -u`, PID from /var/lib/vsteal-testbed/second-host.pid), where its
 * /run/libvirt is, on a free loopback port; resolves once it listens.
 */
export async function startAgentOnSecondHost(pid: string): Promise<SecondHostAgent> {
  const child = spawn("nsenter", ["-t", pid, "-m", "-u", process.execPath, CLI, "agent", "--web.listen-address", "127.0.0.1:0", "--source", "libvirt", "--connect", "qemu:///system", "--interval", "1", "--discovery-interval", "1", "--history.dir", ""], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent B did not start:\n${err}`)), 60_000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http\S+) /.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`agent B exited with ${code}:\n${err}`)));
  });
  return {
    child,
    url,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
