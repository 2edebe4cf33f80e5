import type { Command } from "commander";
import { commanderOption } from "./args.js";
import { DOMSTATS_OPTIONS } from "./domstats-args.js";
import type { DomstatsOptions } from "./domstats.js";
import { processIo, run } from "./io.js";

/**
 * Adds `vsteal domstats` to the program, its options from their one declaration
 * (domstats-args.ts); the command's code is loaded only when it runs.
 */
export function registerDomstats(
  program: Command,
  action: (domains: string[], o: DomstatsOptions) => Promise<void> = (domains, o) =>
    run(async () => {
      const { domstats } = await import("./domstats.js");
      return domstats(domains, o, processIo);
    }),
): void {
  const cmd = program
    .command("domstats")
    .description("the --vcpu group of 'virsh domstats', read exactly and cheaply from /proc")
    .argument("[domain...]", "domain names, UUIDs or ids (default: all)");
  for (const o of DOMSTATS_OPTIONS) cmd.addOption(commanderOption(o));
  cmd.action(action);
}
