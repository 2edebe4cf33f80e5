import type { Command } from "commander";
import { positiveNumber, run, sourceOption } from "./args.js";
import { processIo } from "./io.js";

/** Adds `vsteal domstats` to the program; the command's code is loaded only when it runs. */
export function registerDomstats(program: Command): void {
  program
    .command("domstats")
    .description("the --vcpu group of 'virsh domstats', read exactly and cheaply from /proc")
    .argument("[domain...]", "domain names, UUIDs or ids (default: all)")
    .option("--vcpu", "vCPU statistics (the only group vsteal reports; accepted for virsh compatibility)")
    .option("--raw", "accepted for virsh compatibility (values are always raw)")
    .option("--json", "JSON for programs: counters as exact integers in ns")
    .option("-c, --connect <uri>", "libvirt connection URI, as virsh takes it", undefined)
    .addOption(sourceOption())
    .option(
      "--interval <seconds>",
      "sample twice this far apart and add vcpu.N.delay.ratio and vcpu.N.time.ratio",
      positiveNumber,
    )
    .action(
      (
        domains: string[],
        o: { json?: boolean; connect?: string; source: "libvirt" | "qemu" | "auto"; interval?: number },
      ) =>
        run(async () => {
          const { domstats } = await import("./domstats.js");
          return domstats(domains, o, processIo);
        }),
    );
}
