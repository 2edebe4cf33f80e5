import { InvalidArgumentError, Option, type Command } from "commander";
import { checkDuration } from "../util/duration-parse.js";
import { durationInSeconds, SOURCE_OPTION, type OptionSpec } from "./option-spec.js";

/** Shared option parsers and the error handling of every command. */

/**
 * A duration option, in seconds: "90s", "5m", "1h30m" or plain seconds ("60", "0.5"), more
 * than 0 and at most Node's timer limit (src/util/duration.ts, the one duration syntax).
 */
export function durationSeconds(v: string): number {
  const r = durationInSeconds(v);
  if (!r.ok) throw new InvalidArgumentError(r.reason);
  return r.value;
}

/**
 * A loop's interval, in seconds, no shorter than `minMs`: the same syntax as every duration,
 * but "--interval 1ms" (a sweep or an audit without pause, a core spent) is refused at start.
 */
export function intervalAtLeast(minMs: number): (v: string) => number {
  return (v: string) => {
    const r = checkDuration(v, { minMs });
    if (!r.ok) throw new InvalidArgumentError(r.reason);
    return r.ms / 1000;
  };
}

/** Sampling intervals (agent, top, domstats): 100 ms at least. */
export const sampleInterval = intervalAtLeast(100);

export function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new InvalidArgumentError("expected a positive whole number");
  return Number(v);
}

export function nonNegativeInt(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError("expected a whole number, 0 or more");
  return Number(v);
}

export function nonNegativeNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError("expected a number, 0 or more, e.g. 0.05");
  return n;
}

/**
 * Refuses options given on the command line that do nothing in this mode (`--window` with
 * `--snapshot`): a person who gave one expected it to act. `why` completes "does nothing …".
 */
export function refuseIdleOptions(cmd: Command, flags: readonly string[], why: string): void {
  const given = flags.filter((f) => {
    const opt = cmd.options.find((o) => o.long === f);
    return opt !== undefined && cmd.getOptionValueSource(opt.attributeName()) === "cli";
  });
  if (given.length === 0) return;
  const many = given.length > 1;
  throw new Error(`${given.join(", ")} ${many ? "do" : "does"} nothing ${why}: drop ${many ? "them" : "it"}`);
}

/** commander's Option from an option's declaration (option-spec.ts). */
export function commanderOption(spec: OptionSpec): Option {
  const flags = `${spec.short ? `-${spec.short}, ` : ""}--${spec.name}${spec.value ? ` <${spec.value}>` : ""}`;
  const opt = new Option(flags, spec.description);
  if (spec.choices) opt.choices(spec.choices);
  if (spec.default !== undefined) opt.default(spec.default);
  const parse = spec.parse;
  if (parse)
    opt.argParser((v: string) => {
      const r = parse(v);
      if (!r.ok) throw new InvalidArgumentError(r.reason);
      return r.value;
    });
  return opt;
}

export const sourceOption = (): Option => commanderOption(SOURCE_OPTION);
