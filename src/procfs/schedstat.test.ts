import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  anyText,
  expectParseError,
  fixtureBytes,
  fixturePath,
  fixtureText,
  fixtureTids,
  mutated,
  valueOrParseError,
} from "../../test/unit/procfs/fixture.js";
import { ProcParseError } from "./errors.js";
import { parseSchedstat, parseSchedstatBytes, type SchedStat } from "./schedstat.js";
import { U64_MAX } from "./u64.js";

const FILE = "/proc/4605/task/4611/schedstat";

/** Both parsers on the same text; bytes in a larger buffer with junk after `length`. */
function both(text: string, file = FILE): SchedStat {
  const viaText = parseSchedstat(text, file);
  const bytes = Buffer.from(text, "latin1");
  const buf = new Uint8Array(bytes.length + 7).fill(0x39); // "9" after the end must be ignored
  buf.set(bytes);
  expect(parseSchedstatBytes(buf, bytes.length, file)).toEqual(viaText);
  return viaText;
}

describe("parseSchedstat / parseSchedstatBytes", () => {
  it("reads the vCPU threads of a real libvirt QEMU", () => {
    const rel = "proc/4605/task/4611/schedstat";
    expect(fixtureText(rel)).toBe("2846373791 15900302 502\n");
    expect(both(fixtureText(rel))).toEqual({ time: 2846373791n, delay: 15900302n, slices: 502n });
    expect(both(fixtureText("proc/4605/task/4612/schedstat"))).toEqual({ time: 1870839n, delay: 269843n, slices: 46n });
    expect(both(fixtureText("proc/4605/task/4614/schedstat"))).toEqual({ time: 150605n, delay: 0n, slices: 1n });
  });

  it("agrees between text and bytes on every fixture thread", () => {
    for (const tid of fixtureTids(4605)) {
      const rel = `proc/4605/task/${tid}/schedstat`;
      const bytes = fixtureBytes(rel);
      expect(parseSchedstatBytes(bytes, bytes.length, fixturePath(rel))).toEqual(
        parseSchedstat(fixtureText(rel), fixturePath(rel)),
      );
    }
  });

  it("keeps counters at 2^64-1 exact", () => {
    expect(both(fixtureText("proc/malformed/schedstat-max"))).toEqual({
      time: U64_MAX,
      delay: U64_MAX - 1n,
      slices: U64_MAX - 2n,
    });
    // 2^53 + 1 is where a double would round.
    expect(both("9007199254740993 9007199254740992 0\n").time).toBe(9007199254740993n);
    expect(both("000000000000000000000000000001 0 0").time).toBe(1n);
  });

  it("accepts the kernel's `0 0 0` (no sched_info) and absent trailing newline", () => {
    expect(both("0 0 0\n")).toEqual({ time: 0n, delay: 0n, slices: 0n });
    expect(both("1 2 3")).toEqual({ time: 1n, delay: 2n, slices: 3n });
  });

  it.each([
    ["schedstat-garbage", 'expected 3 numbers, got "abc def ghi\\n"'],
    ["schedstat-truncated", 'expected 3 numbers, got "2846373791 15900"'],
    ["schedstat-negative", 'expected 3 numbers, got "-1 0 0\\n"'],
    ["schedstat-overflow", 'time: "18446744073709551616" is larger than 2^64-1'],
  ])("rejects malformed/%s", (name, reason) => {
    const rel = `proc/malformed/${name}`;
    const file = fixturePath(rel);
    expect(expectParseError(() => parseSchedstat(fixtureText(rel), file), file).reason).toBe(reason);
    const bytes = fixtureBytes(rel);
    expect(expectParseError(() => parseSchedstatBytes(bytes, bytes.length, file), file).reason).toBe(reason);
  });

  it("names the file in the message", () => {
    expect(() => parseSchedstat("abc", "/proc/123/task/124/schedstat")).toThrow(
      '/proc/123/task/124/schedstat: expected 3 numbers, got "abc"',
    );
  });

  it.each([
    "",
    "\n",
    "1 2",
    "1 2 3 4",
    "1 2 3\n4",
    "1\n2 3",
    "1,2,3",
    "0x1 2 3",
    "1 2 3x",
    "+1 2 3",
    "1.5 2 3",
    "１ 2 3",
  ])("rejects %j", (text) => {
    expectParseError(() => parseSchedstat(text, FILE), FILE);
    const b = Buffer.from(text, "utf8");
    expectParseError(() => parseSchedstatBytes(b, b.length, FILE), FILE);
  });

  it("reads only the first `length` bytes and refuses a length outside the buffer", () => {
    const buf = Buffer.from("1 2 3\n999999");
    expect(parseSchedstatBytes(buf, 6, FILE)).toEqual({ time: 1n, delay: 2n, slices: 3n });
    expect(() => parseSchedstatBytes(buf, buf.length + 1, FILE)).toThrow(RangeError);
    expect(() => parseSchedstatBytes(buf, -1, FILE)).toThrow(RangeError);
    expect(() => parseSchedstatBytes(buf, 1.5, FILE)).toThrow(RangeError);
  });

  const u64 = fc.bigInt({ min: 0n, max: U64_MAX });

  it("round-trips any three counters in [0, 2^64-1] through both parsers (property)", () => {
    fc.assert(
      fc.property(u64, u64, u64, (time, delay, slices) => {
        // As the kernel prints them: "%llu %llu %lu\n".
        const text = `${time} ${delay} ${slices}\n`;
        expect(parseSchedstat(text, FILE)).toEqual({ time, delay, slices });
        const buf = new Uint8Array(128);
        const n = new TextEncoder().encodeInto(text, buf).written;
        expect(parseSchedstatBytes(buf, n, FILE)).toEqual({ time, delay, slices });
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects any counter above 2^64-1 (property)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: U64_MAX + 1n, max: 10n ** 40n }), fc.nat(2), (big, at) => {
        const fields = ["1", "2", "3"];
        fields[at] = big.toString();
        const text = fields.join(" ");
        expectParseError(() => parseSchedstat(text, FILE), FILE);
        const b = Buffer.from(text);
        expectParseError(() => parseSchedstatBytes(b, b.length, FILE), FILE);
      }),
    );
  });

  it("gives a value or a ProcParseError for any text, and both parsers agree (property)", () => {
    const outcome = (f: () => SchedStat): SchedStat | "error" => {
      try {
        return f();
      } catch (e) {
        if (e instanceof ProcParseError && e.file === FILE) return "error";
        throw e;
      }
    };
    fc.assert(
      fc.property(
        fc.oneof(anyText, mutated("2846373791 15900302 502\n"), mutated("18446744073709551615 1 2\n")),
        (text) => {
          valueOrParseError(() => parseSchedstat(text, FILE), FILE);
          const b = Buffer.from(text, "utf8");
          valueOrParseError(() => parseSchedstatBytes(b, b.length, FILE), FILE);
          // Byte for byte (Latin-1) the two parsers accept the same inputs with the same values.
          const latin1 = Buffer.from(text, "latin1");
          expect(outcome(() => parseSchedstatBytes(latin1, latin1.length, FILE))).toEqual(
            outcome(() => parseSchedstat(latin1.toString("latin1"), FILE)),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("gives a value or a ProcParseError for any bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), (bytes, cut) => {
        valueOrParseError(
          () => parseSchedstatBytes(bytes, bytes.length === 0 ? 0 : cut % (bytes.length + 1), FILE),
          FILE,
        );
      }),
    );
  });
});
