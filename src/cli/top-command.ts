import type { Command } from "commander";
import { positiveInt, sampleInterval, sourceOption } from "./args.js";
import { processIo, run } from "./io.js";

interface TopCliOptions {
  source: "libvirt" | "qemu" | "auto";
  connect?: string;
  delay: number;
  batch?: boolean;
  iterations?: number;
  vcpus?: boolean;
  width?: number;
}

/** Adds `vsteal top` to the program; the command's code is loaded only when it runs. */
export function registerTop(program: Command): void {
  program
    .command("top")
    .description("live view of every running VM's steal time, per VM and per vCPU, like top")
    .addOption(sourceOption())
    .option("-c, --connect <uri>", "libvirt connection URI, as virsh takes it", undefined)
    .option("-d, --delay <seconds>", "refresh interval (at least 100ms)", sampleInterval, 2)
    .option("-b, --batch", "batch mode: plain text to stdout, no keys, no colours (for scripts and logs)")
    .option("-n, --iterations <n>", "stop after this many refreshes", positiveInt)
    .option("--vcpus", "show every VM's vCPUs (keys: Enter or e expands one VM)")
    .option("-w, --width <columns>", "output width (default: the terminal's, else 80)", positiveInt)
    .addHelpText(
      "after",
      `
Percentages are of a VM's vCPUs: the mean over its vCPUs (100 % = all of them, all the time).
STEAL% = CONT% (waited for other load on the host) + THR% (held back by the VM's own CPU cap).
NEIGHBOUR is the VM that used most CPU where a waiting VM may run (60 s average).
Keys: q quit, Up/Down or j/k select, Enter or e show vCPUs, s sort, ? help.`,
    )
    .action((o: TopCliOptions) =>
      run(async () => {
        const { top } = await import("./top.js");
        return top(o, processIo);
      }),
    );
}
