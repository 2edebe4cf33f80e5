import { InvalidArgumentError, Option, type Command } from "commander";
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
  for (const o of DOMSTATS_OPTIONS) {
    const flags = `${o.short ? `-${o.short}, ` : ""}--${o.name}${o.value ? ` <${o.value}>` : ""}`;
    const opt = new Option(flags, o.description);
    if (o.choices) opt.choices(o.choices);
    if (o.default !== undefined) opt.default(o.default);
    const parse = o.parse;
    if (parse)
      opt.argParser((v: string) => {
        const r = parse(v);
        if (!r.ok) throw new InvalidArgumentError(r.reason);
        return r.value;
      });
    cmd.addOption(opt);
  }
  cmd.action(action);
}
