import type { Command } from "commander";
import { positiveInt } from "./args.js";
import { processIo, run } from "./io.js";

/** Adds `vsteal bench` to the program; the command's code is loaded only when it runs. */
export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("time sweeps over every thread of a process, exactly as the sampler sweeps vCPUs")
    .requiredOption("--pid <pid>", "process whose threads to sweep", positiveInt)
    .option("--iterations <n>", "number of sweeps", positiveInt, 200)
    .option("--json", "JSON output")
    .action((o: { pid: number; iterations: number; json?: boolean }) =>
      run(async () => {
        const { bench } = await import("./bench.js");
        return bench(o, processIo);
      }),
    );
}
