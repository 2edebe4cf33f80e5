/** Helpers for the src/procfs tests: fixture access and the "value or ProcParseError" check. */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { expect } from "vitest";
import { ProcParseError } from "../../../src/procfs/errors.js";

/** test/fixtures/, with a trailing slash. */
export const FIXTURES = fileURLToPath(new URL("../../fixtures/", import.meta.url));

export function fixturePath(rel: string): string {
  return FIXTURES + rel;
}

export function fixtureText(rel: string): string {
  return readFileSync(fixturePath(rel), "utf8");
}

export function fixtureBytes(rel: string): Uint8Array {
  return readFileSync(fixturePath(rel));
}

/** Thread ids under test/fixtures/proc/<pid>/task. */
export function fixtureTids(pid: number): number[] {
  return readdirSync(fixturePath(`proc/${pid}/task`))
    .map(Number)
    .sort((a, b) => a - b);
}

/** Runs `fn`, which must throw a ProcParseError about `file`; returns it. */
export function expectParseError(fn: () => unknown, file: string): ProcParseError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProcParseError);
    const err = e as ProcParseError;
    expect(err.file).toBe(file);
    expect(err.message).toBe(`${file}: ${err.reason}`);
    expect(err.name).toBe("ProcParseError");
    return err;
  }
  throw new Error("expected a ProcParseError, got a value");
}

/** Property body: `fn` returns normally or throws a ProcParseError naming `file`, nothing else. */
export function valueOrParseError(fn: () => unknown, file: string): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ProcParseError)) throw new Error(`threw ${String(e)} instead of a ProcParseError`);
    if (e.file !== file || !e.message.startsWith(`${file}: `))
      throw new Error(`error does not name the file: ${e.message}`);
  }
}

/** Any text: UTF-16 code units, full Unicode, graphemes, and bytes seen as Latin-1. */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1")),
);

/**
 * `base` with a few random edits (insert, delete, replace a character drawn from `alphabet`):
 * reaches deeper into a parser than uniformly random text does.
 */
export function mutated(base: string, alphabet = "0123456789 \t\n:()-.,/abcxyzé\0"): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.constantFrom("ins", "del", "rep"), fc.nat(), fc.constantFrom(...alphabet));
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let s = base;
    for (const [op, at, ch] of edits) {
      const i = s.length === 0 ? 0 : at % (s.length + 1);
      if (op === "ins") s = s.slice(0, i) + ch + s.slice(i);
      else if (op === "del") s = s.slice(0, i) + s.slice(i + 1);
      else s = s.slice(0, i) + ch + s.slice(i + 1);
    }
    return s;
  });
}
