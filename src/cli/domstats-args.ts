import { parseArgs } from "node:util";
import { checkDuration } from "../util/duration-parse.js";
import type { DomstatsOptions } from "./domstats.js";

/**
 * The options of `vsteal domstats`, declared once: the command line (commander, in
 * domstats-command.ts) is built from them, and so is the start path that reads a plain
 * `vsteal domstats …` without loading commander at all (parseDomstatsArgs below, used by
 * main.ts). Neither imports commander here, so the start path stays small.
 */
export interface DomstatsOptionSpec {
  /** The option's long name, as in `--<name>`; its value lands in DomstatsOptions[name]. */
  readonly name: "vcpu" | "raw" | "json" | "connect" | "source" | "interval";
  readonly short?: string;
  /** The value's name in the help (`<uri>`); absent for a flag. */
  readonly value?: string;
  readonly description: string;
  /** The values it takes, when it takes only some. */
  readonly choices?: readonly string[];
  readonly default?: string;
  /** Turns the text given into the option's value, or says why it cannot (one line). */
  readonly parse?: (v: string) => { ok: true; value: number } | { ok: false; reason: string };
}

/** Intervals in seconds, any of the one duration syntax ("5", "500ms", "1m"), more than 0. */
const seconds = (v: string): { ok: true; value: number } | { ok: false; reason: string } => {
  const r = checkDuration(v);
  return r.ok ? { ok: true, value: r.ms / 1000 } : r;
};

export const DOMSTATS_OPTIONS: readonly DomstatsOptionSpec[] = [
  { name: "vcpu", description: "vCPU statistics (the only group vsteal reports; accepted for virsh compatibility)" },
  { name: "raw", description: "accepted for virsh compatibility (values are always raw)" },
  { name: "json", description: "JSON for programs: counters as exact integers in ns" },
  { name: "connect", short: "c", value: "uri", description: "libvirt connection URI, as virsh takes it" },
  {
    name: "source",
    value: "kind",
    description: "where VMs come from: libvirt, qemu (plain QEMU processes) or auto",
    choices: ["libvirt", "qemu", "auto"],
    default: "auto",
  },
  {
    name: "interval",
    value: "seconds",
    description: "sample twice this far apart and add vcpu.N.delay.ratio and vcpu.N.time.ratio",
    parse: seconds,
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
