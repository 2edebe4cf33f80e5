import { Command } from "commander";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDomstatsArgs } from "./domstats-args.js";
import { registerDomstats } from "./domstats-command.js";
import type { DomstatsOptions } from "./domstats.js";

/** What the whole command line (commander) makes of `vsteal domstats ARGS`, or why it refuses. */
async function commanderReads(
  args: readonly string[],
): Promise<{ names: string[]; options: DomstatsOptions } | "refused"> {
  let seen: { names: string[]; options: DomstatsOptions } | null = null;
  const program = new Command()
    .name("vsteal")
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  registerDomstats(program, async (names, options) => {
    seen = { names, options: { ...options } };
  });
  try {
    await program.parseAsync(["domstats", ...args], { from: "user" });
  } catch {
    return "refused";
  }
  return seen ?? "refused";
}

const WORDS = [
  "--vcpu",
  "--raw",
  "--json",
  "-c",
  "--connect",
  "--source",
  "--interval",
  "libvirt",
  "qemu",
  "auto",
  "bogus",
  "5",
  "0",
  "1m",
  "500ms",
  "-1",
  "1e3",
  "--help",
  "-h",
  "--",
  "vm1",
  "vm-2",
  "-",
  "--json=1",
  "--vcpu=yes",
  "--connect=qemu:///system",
  "-cqemu:///session",
  "--source=qemu",
  "--interval=2",
  "--version",
  "-V",
  "--bogus",
  "-x",
  "-jc",
  "00000000-0000-0000-0000-000000000001",
  "7",
  "",
];

describe("the start path's reading of `vsteal domstats …` (main.ts)", () => {
  it("reads plain command lines, as commander does", async () => {
    expect(parseDomstatsArgs(["--vcpu", "vm1"])).toEqual({ names: ["vm1"], options: { vcpu: true, source: "auto" } });
    expect(parseDomstatsArgs(["--json", "-c", "qemu:///session", "--interval", "500ms", "a", "b"])).toEqual({
      names: ["a", "b"],
      options: { json: true, connect: "qemu:///session", interval: 0.5, source: "auto" },
    });
    expect(await commanderReads(["--json", "-c", "qemu:///session", "--interval", "500ms", "a", "b"])).toEqual(
      parseDomstatsArgs(["--json", "-c", "qemu:///session", "--interval", "500ms", "a", "b"]),
    );
  });

  it("leaves help, unknown options, refused values and `--` to commander", () => {
    for (const args of [
      ["--help"],
      ["-h"],
      ["--bogus"],
      ["--source", "bogus"],
      ["--interval", "0"],
      ["--interval"],
      ["--json=1"],
      ["--", "-odd-name"],
      ["-5"],
    ])
      expect(parseDomstatsArgs(args), args.join(" ")).toBeNull();
  });

  it("fast-check: whatever it reads, commander reads the same way (names and every option)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...WORDS), { maxLength: 7 }), async (args) => {
        const fast = parseDomstatsArgs(args);
        if (fast === null) return;
        expect(await commanderReads(args)).toEqual(fast);
      }),
      { numRuns: 2000 },
    );
  });
});
