/**
 * `vsteal top`: a live view of every running VM's steal time, refreshed every `--delay`
 * seconds, like top(1). Interactive on a terminal; `-b` prints plain text for scripts.
 *
 * This file owns the I/O: the sampling loop (collect/loop.ts, shared with the agent and the
 * library), the terminal (raw keys, alternate screen, cursor) and restoring it on every way
 * out. What the screen shows is pure: top-view-model.ts (rows, order, keys), top-render.ts
 * (the lines) and top-ansi.ts (widths, colours).
 */
import { emitKeypressEvents } from "node:readline";
import { hostSummary } from "../analysis/host.js";
import { RateWindow } from "../analysis/window.js";
import { sampleLoop } from "../collect/loop.js";
import { hostCpuCount } from "../collect/host-info.js";
import { Sampler } from "../collect/sampler.js";
import type { RatesSample, Sample } from "../model/types.js";
import { openSource, type SourceName } from "../sources/auto.js";
import { reportProblems, type Io } from "./io.js";
import { renderTop } from "./top-render.js";
import {
  applyAction,
  defaultView,
  sortRows,
  vmRows,
  type TopAction,
  type TopFrame,
  type TopView,
  type VmRow,
} from "./top-view-model.js";

export interface TopOptions {
  source?: SourceName;
  connect?: string;
  /** Refresh interval, seconds (default 2). */
  delay?: number;
  /** Plain text for scripts, no keys, no escapes. */
  batch?: boolean;
  /** Stop after this many refreshes (default: until quit). */
  iterations?: number;
  /** Show every VM's vCPUs. */
  vcpus?: boolean;
  /** Columns (default: the terminal's, else 80). */
  width?: number;
  procRoot?: string;
}

/** Window of the noisy-neighbour averages, seconds. */
const NEIGHBOUR_WINDOW_S = 60;

/** Colour only on a terminal and when NO_COLOR (https://no-color.org) is unset or empty. */
export function wantColour(isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === "");
}

/** Rates in, rows and host summary out; keeps the 60 s window for neighbours. */
class Model {
  private readonly window = new RateWindow(NEIGHBOUR_WINDOW_S);
  readonly hostCpus = hostCpuCount();
  rows: VmRow[] = [];
  frame: TopFrame;

  constructor(
    private readonly sampler: Sampler,
    first: Sample,
  ) {
    this.frame = { wallMs: first.wallMs, host: null, vms: [] };
  }

  update(rates: RatesSample, messages: string[]): void {
    this.window.add(rates);
    this.rows = vmRows(rates, this.window.values(), this.sampler.discovered, this.hostCpus);
    this.frame = { wallMs: rates.wallMs, host: hostSummary(rates, this.hostCpus), vms: this.rows, messages };
  }
}

const problemLines = (s: Sample): string[] => s.problems.map((p) => `warning: ${p.domain}: ${p.message}`);

/** `vsteal top`. Returns the exit code. */
export async function top(opts: TopOptions, io: Io): Promise<number> {
  const source = await openSource({ source: opts.source, uri: opts.connect, procRoot: opts.procRoot });
  const sampler = new Sampler({ source, procRoot: opts.procRoot });
  try {
    if (opts.batch) return await batch(sampler, opts, io);
    if (!process.stdout.isTTY)
      throw new Error("vsteal top needs a terminal on stdout; for scripts use batch mode: vsteal top -b -n 1");
    return await interactive(sampler, opts);
  } finally {
    sampler.close();
  }
}

async function batch(sampler: Sampler, opts: TopOptions, io: Io): Promise<number> {
  const delayMs = (opts.delay ?? 2) * 1000;
  const stop = new AbortController();
  // `vsteal top -b | head`: a closed pipe ends the run quietly, not with a stack trace.
  const onError = (e: NodeJS.ErrnoException): void => {
    if (e.code !== "EPIPE") throw e;
    stop.abort();
  };
  process.stdout.on("error", onError);
  try {
    const view: TopView = defaultView({
      expandAll: opts.vcpus ?? false,
      width: opts.width ?? process.stdout.columns ?? 80,
      delayS: opts.delay ?? 2,
    });
    let model: Model | null = null;
    let n = 0;
    for await (const t of sampleLoop(sampler, { intervalMs: delayMs, count: opts.iterations, signal: stop.signal })) {
      if (!t.ok) throw t.error;
      reportProblems(io, t.sample.problems);
      model ??= new Model(sampler, t.sample);
      if (!t.rates) continue;
      model.update(t.rates, []);
      io.out(`${n > 0 ? "\n" : ""}${renderTop(model.frame, view).join("\n")}\n`);
      n++;
    }
    return 0;
  } finally {
    process.stdout.off("error", onError);
  }
}

const KEYS: Record<string, TopAction> = {
  up: "up",
  k: "up",
  down: "down",
  j: "down",
  home: "top",
  g: "top",
  end: "bottom",
  G: "bottom",
  return: "toggle",
  enter: "toggle",
  e: "toggle",
  s: "sort",
  "?": "help",
  h: "help",
};

const ESC = "\u001b[";
const ENTER_SCREEN = `${ESC}?1049h${ESC}?25l${ESC}H${ESC}2J`;
const LEAVE_SCREEN = `${ESC}0m${ESC}?25h${ESC}?1049l`;

interface Key {
  name?: string;
  ctrl?: boolean;
  meta?: boolean;
}

async function interactive(sampler: Sampler, opts: TopOptions): Promise<number> {
  const out = process.stdout;
  const inp = process.stdin;
  const delayMs = (opts.delay ?? 2) * 1000;
  const stop = new AbortController();
  // The first screen with numbers comes soon; then every --delay seconds.
  const loop = sampleLoop(sampler, { intervalMs: delayMs, firstDelayMs: Math.min(delayMs, 1000), signal: stop.signal });
  // Discovery errors (libvirt down, no permission) are best said on the normal screen.
  const first = await loop.next();
  if (first.done || !first.value.ok) throw new Error("the sampling loop ended before its first sample");
  const model = new Model(sampler, first.value.sample);
  model.frame = { ...model.frame, messages: problemLines(first.value.sample) };
  let view: TopView = defaultView({
    interactive: true,
    colour: wantColour(true),
    expandAll: opts.vcpus ?? false,
    delayS: opts.delay ?? 2,
  });

  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    if (inp.isTTY) inp.setRawMode(false);
    out.write(LEAVE_SCREEN);
  };
  process.once("exit", restore); // last resort: an exception we did not expect

  const draw = (): void => {
    if (restored) return;
    view = { ...view, width: opts.width ?? out.columns ?? 80, height: out.rows ?? 24 };
    if (view.selected === null || !model.rows.some((r) => r.key === view.selected)) {
      view = { ...view, selected: sortRows(model.rows, view.sort)[0]?.key ?? null };
    }
    const lines = renderTop(model.frame, view);
    out.write(`${ESC}H${lines.map((l) => `${l}${ESC}K`).join("\r\n")}${ESC}J`);
  };

  out.write(ENTER_SCREEN);
  draw();

  return await new Promise<number>((resolve) => {
    let updates = 0;
    let finished = false;

    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      stop.abort();
      inp.off("keypress", onKey);
      out.off("resize", draw);
      for (const [sig, h] of signalHandlers) process.off(sig, h);
      restore();
      process.off("exit", restore);
      if (inp.isTTY) inp.pause();
      resolve(code);
    };

    const run = async (): Promise<void> => {
      for await (const t of loop) {
        if (finished) return;
        if (t.ok && t.rates) {
          model.update(t.rates, problemLines(t.sample));
          updates++;
        } else if (!t.ok) {
          const e = t.error;
          model.frame = { ...model.frame, messages: [`error: ${e instanceof Error ? e.message : String(e)}`] };
        }
        draw();
        if (opts.iterations !== undefined && updates >= opts.iterations) return finish(0);
      }
    };

    const onKey = (str: string | undefined, key: Key | undefined): void => {
      const name = key?.name ?? "";
      if (key?.ctrl) {
        if (name === "c" || name === "d") finish(0);
        else if (name === "l") {
          out.write(`${ESC}2J`);
          draw();
        }
        return;
      }
      // A printable key by its character (so "G" is not "g"), others (arrows, Enter) by name.
      const printable = str !== undefined && str.length === 1 && str >= " " && str !== "\u007f";
      if (printable && str === "q") return finish(0);
      const action = printable ? KEYS[str] : KEYS[name];
      if (!action) return;
      view = applyAction(view, action, model.rows);
      draw();
    };

    const signalHandlers: Array<[NodeJS.Signals, () => void]> = [
      ["SIGINT", () => finish(130)],
      ["SIGTERM", () => finish(143)],
      ["SIGHUP", () => finish(129)],
    ];
    for (const [sig, h] of signalHandlers) process.on(sig, h);
    out.on("resize", draw);
    if (inp.isTTY) {
      emitKeypressEvents(inp);
      inp.setRawMode(true);
      inp.on("keypress", onKey);
      inp.resume();
    }
    void run();
  });
}
