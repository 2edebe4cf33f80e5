/**
 * The controller's state file: cooldowns, cycle history, moves waiting for their verdict and
 * blocked pairs survive a restart. Written whole after every audit and every finished move:
 * to a new file beside it (exclusive create, so a planted file or symlink is never followed),
 * fsync'ed, then renamed over the old one, so a crash leaves the old state or the new, never a
 * torn one. A file that cannot be read as a state is set aside (`.unreadable-<time>`) with a
 * warning, never silently replaced.
 */
import { closeSync, openSync, readFileSync, renameSync, constants as fsc, mkdirSync, fstatSync } from "node:fs";
import { writeFileAtomic } from "../util/safe-write.js";
import { dirname } from "node:path";
import { z } from "zod";
import type { ControllerState } from "./controller.js";

/** A state file larger than this is not the controller's: 64 MiB. */
const MAX_BYTES = 64 * 1024 * 1024;

const figures = z.object({ from: z.number(), to: z.number() });
const pending = z.object({
  plan_id: z.string(),
  vm: z.string(),
  from: z.string(),
  to: z.string(),
  done_ms: z.number(),
  before: figures,
  predicted: figures,
});
const stateSchema = z.object({
  version: z.literal(1),
  next_audit: z.number().int().min(1),
  ledger: z.object({
    moves: z.array(
      z.object({
        vm: z.string(),
        from: z.string(),
        to: z.string(),
        atMs: z.number(),
        kind: z.enum(["observed", "planned"]),
        audit: z.number().int(),
      }),
    ),
    last_seen: z.array(z.tuple([z.string(), z.object({ host: z.string(), atMs: z.number() })])),
  }),
  effects: z.object({
    pending: z.array(pending),
    judged: z.array(
      pending.extend({
        verdict: z.enum(["helped", "no_effect", "hurt", "inconclusive"]),
        after: figures.nullable(),
        snapshot_time: z.string(),
        reason: z.string(),
      }),
    ),
    blocked: z.array(z.object({ from: z.string(), to: z.string(), since: z.string(), reason: z.string() })),
  }),
});

export interface LoadedState {
  state: ControllerState | null;
  /** Why an existing file was not used (and where it was set aside), or null. */
  warning: string | null;
}

/** The state in `path`; null (and no warning) when there is none yet. */
export function loadControllerState(path: string, nowMs = Date.now()): LoadedState {
  let text: string;
  try {
    const fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      const size = fstatSync(fd).size;
      if (size > MAX_BYTES)
        throw Object.assign(new Error(`${size} bytes, more than ${MAX_BYTES}`), { code: "ETOOBIG" });
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { state: null, warning: null };
    return setAside(path, nowMs, code === "ELOOP" ? "it is a symlink" : e instanceof Error ? e.message : String(e));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return setAside(path, nowMs, `not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const r = stateSchema.safeParse(parsed);
  if (!r.success) {
    const i = r.error.issues[0];
    return setAside(path, nowMs, `${i?.path.join(".") || "(top)"}: ${i?.message ?? "invalid"}`);
  }
  return { state: r.data as ControllerState, warning: null };
}

function setAside(path: string, nowMs: number, why: string): LoadedState {
  const aside = `${path}.unreadable-${new Date(nowMs).toISOString().replace(/[:.]/g, "-")}`;
  try {
    renameSync(path, aside);
    return {
      state: null,
      warning: `state file ${path} could not be used (${why}); set aside as ${aside}, starting with no cooldowns or cycle history`,
    };
  } catch (e) {
    throw new Error(
      `state file ${path} could not be used (${why}) nor set aside (${e instanceof Error ? e.message : String(e)}): move it away or fix its permissions`,
    );
  }
}

/** Writes the state atomically (see above). */
export function saveControllerState(path: string, st: ControllerState): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  writeFileAtomic(path, `${JSON.stringify(st)}\n`, "the controller's state file", 0o600);
}
