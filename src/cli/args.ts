import { InvalidArgumentError, Option, type Command } from "commander";
import { checkDuration } from "../util/duration-parse.js";

/** Shared option parsers and the error handling of every command. */

/**
 * A duration option, in seconds: "90s", "5m", "1h30m" or plain seconds ("60", "0.5"), more
 * than 0 and at most Node's timer limit (src/util/duration.ts, the one duration syntax).
 */
export function durationSeconds(v: string): number {
  const r = checkDuration(v);
  if (!r.ok) throw new InvalidArgumentError(r.reason);
  return r.ms / 1000;
}

/** Intervals given in seconds ("--interval 5"): the same syntax and bounds as every duration. */
export const positiveNumber = durationSeconds;

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

export const sourceOption = (): Option =>
  new Option("--source <kind>", "where VMs come from: libvirt, qemu (plain QEMU processes) or auto")
    .choices(["libvirt", "qemu", "auto"])
    .default("auto");
