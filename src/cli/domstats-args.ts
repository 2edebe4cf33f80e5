import { parseArgs } from "node:util";
import type { DomstatsOptions } from "./domstats.js";
import { durationInSeconds, SOURCE_OPTION, type OptionSpec } from "./option-spec.js";

/**
 * The options of `vsteal domstats`, declared once: the command line (commander, in
 * domstats-command.ts) is built from them, and so is the start path that reads a plain
 * `vsteal domstats …` without loading commander at all (parseDomstatsArgs below, used by
 * main.ts). Nothing here imports commander, so the start path stays small.
 */
export const DOMSTATS_OPTIONS: readonly OptionSpec<"vcpu" | "raw" | "json" | "connect" | "source" | "interval">[] = [
  { name: "vcpu", description: "vCPU statistics (the only group vsteal reports; accepted for virsh compatibility)" },
  { name: "raw", description: "accepted for virsh compatibility (values are always raw)" },
  { name: "json", description: "JSON for programs: counters as exact integers in ns" },
  { name: "connect", short: "c", value: "uri", description: "libvirt connection URI, as virsh takes it" },
  SOURCE_OPTION,
  {
    name: "interval",
    value: "seconds",
    description: "sample twice this far apart and add vcpu.N.delay.ratio and vcpu.N.time.ratio",
    parse: durationInSeconds,
  },
];

export interface DomstatsInvocation {
  readonly names: string[];
  readonly options: DomstatsOptions;
}

/**
 * Reads the arguments after `domstats` when they are plain: known options with valid values,
 * domain names. Anything else — `--help`, an unknown option, a value refused, `--` — gives
 * null, and the whole command line (commander) takes it, with its usual help and errors: this
 * path only ever says yes to what commander would read the same way (a property test holds
 * both to that).
 */
export function parseDomstatsArgs(args: readonly string[]): DomstatsInvocation | null {
  if (args.includes("--")) return null;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: true,
      tokens: true,
      options: Object.fromEntries(
        DOMSTATS_OPTIONS.map((o) => [
          o.name,
          {
            type: o.value === undefined ? ("boolean" as const) : ("string" as const),
            ...(o.short ? { short: o.short } : {}),
          },
        ]),
      ),
    });
  } catch {
    return null;
  }
  // Every occurrence is checked, as commander checks each (the last one given counts).
  const byName = new Map(DOMSTATS_OPTIONS.map((o) => [o.name as string, o]));
  const options: Record<string, unknown> = {};
  for (const o of DOMSTATS_OPTIONS) if (o.default !== undefined) options[o.name] = o.default;
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== "option") continue;
    const o = byName.get(t.name);
    if (!o) return null;
    if (t.value === undefined) {
      options[o.name] = true;
      continue;
    }
    if (o.choices && !o.choices.includes(t.value)) return null;
    if (o.parse) {
      const r = o.parse(t.value);
      if (!r.ok) return null;
      options[o.name] = r.value;
    } else options[o.name] = t.value;
  }
  // A name that looks like an option ("-5") is one commander would refuse: let it say so.
  if (parsed.positionals.some((p) => p.startsWith("-") && p !== "-")) return null;
  return { names: parsed.positionals, options: options as DomstatsOptions };
}
