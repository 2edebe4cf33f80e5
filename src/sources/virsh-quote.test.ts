import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { virshQuote } from "./libvirt.js";

// The witness is virsh's own command parser: its `echo` command prints its argument back as the
// parser read it, without connecting to libvirt.
const hasVirsh = spawnSync("virsh", ["--version"]).status === 0;

/** Every argument echoed by one virsh batch; virsh's echo ends no line, so a marker separates them. */
function virshEcho(args: readonly string[]): string[] {
  const batch = args.map((a) => `echo --str ${virshQuote(a)}; echo --str '|SEP|'`).join("; ");
  const r = spawnSync("virsh", ["--quiet", batch], { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  expect(r.stderr).toBe("");
  return r.stdout.replace(/\n/g, "").split("|SEP|").slice(0, args.length);
}

describe.skipIf(!hasVirsh)("virshQuote (through the real virsh parser)", () => {
  it("keeps quotes, semicolons, shell syntax, comments and leading dashes as one argument", () => {
    const names = [
      `x a'b"c$(touch p);touch p;\`touch p\`<tag>&é`,
      "--domain",
      "a;b",
      "# not a comment",
      "'",
      "''",
      "\\",
      " sp ",
    ];
    expect(virshEcho(names)).toEqual(names);
  });

  it("round-trips any name libvirt allows (no '/', no newline)", () => {
    const name = fc.string({ unit: "grapheme", minLength: 1, maxLength: 24 }).filter((s) => !/[/\n\r]|\|SEP\|/.test(s));
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 20 }), (names) => {
        expect(virshEcho(names)).toEqual(names);
      }),
      { numRuns: 15 },
    );
  });
});
