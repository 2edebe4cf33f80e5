import { checkDuration } from "../util/duration-parse.js";

/**
 * A command-line option declared without commander, so that the start path (main.ts) can read
 * it too without loading commander; args.ts turns one into commander's Option.
 */
export interface OptionSpec<N extends string = string> {
  /** The option's long name, as in `--<name>`; its value lands in the options under that name. */
  readonly name: N;
  readonly short?: string;
  /** The value's name in the help (`<uri>`); absent for a flag. */
  readonly value?: string;
  readonly description: string;
  /** The values it takes, when it takes only some. */
  readonly choices?: readonly string[];
  readonly default?: string;
  /** Turns the text given into the option's value, or says why it cannot (one line). */
  readonly parse?: (v: string) => Parsed<number>;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * A duration in seconds: "90s", "5m", "1h30m" or plain seconds ("60", "0.5"), more than 0 and
 * at most Node's timer limit (src/util/duration-parse.ts, the one duration syntax).
 */
export function durationInSeconds(v: string): Parsed<number> {
  const r = checkDuration(v);
  return r.ok ? { ok: true, value: r.ms / 1000 } : r;
}

/** `--source`: where VMs come from (agent, top, domstats). */
export const SOURCE_OPTION: OptionSpec<"source"> = {
  name: "source",
  value: "kind",
  description: "where VMs come from: libvirt, qemu (plain QEMU processes) or auto",
  choices: ["libvirt", "qemu", "auto"],
  default: "auto",
};
