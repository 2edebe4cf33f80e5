/**
 * Class 3 of the hostile-input review: bounded reads. Every file vsteal reads on a person's
 * say-so and every HTTP body it reads has a size limit with a clear message; /dev/zero as a
 * token file fails fast instead of growing to gigabytes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { z } from "zod";
import { afterAll, describe, expect, it } from "vitest";
import { parseYamlConfigFile } from "../../../src/config/yaml.js";
import { loadTokenDigest } from "../../../src/controller/auth.js";
import { planFromFile } from "../../../src/cli/plan.js";
import {
  BoundedReadError,
  LIMITS,
  describeFsError,
  readBodyBounded,
  readFileBounded,
} from "../../../src/util/bounded-read.js";

const dir = mkdtempSync(join(tmpdir(), "vsteal-hostile-read-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { out: () => undefined, err: () => undefined };

describe("bounded file reads", () => {
  it("/dev/zero as a token file fails with a message naming it, after at most the limit", () => {
    const before = process.memoryUsage().rss;
    expect(() => loadTokenDigest("/dev/zero")).toThrow(/the token file \/dev\/zero is larger than 4 KiB/);
    // Not a timing: a sanity check that nothing near the 3.5 GB of the report was held.
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("/dev/zero as a config file or a snapshot: refused, naming the file", () => {
    expect(() => parseYamlConfigFile("/dev/zero", z.object({}), { expected: "a mapping" })).toThrow(
      /\/dev\/zero: .*larger than 4 MiB/,
    );
    expect(() => planFromFile("/dev/zero", {}, quiet)).toThrow(/the snapshot \/dev\/zero is larger than 64 MiB/);
  });

  it("fast-check: any file up to the limit is read exactly; one byte more is refused", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 300 }), (bytes, limit) => {
        const f = join(dir, "f.bin");
        writeFileSync(f, bytes);
        if (bytes.length <= limit)
          expect(Buffer.compare(readFileBounded(f, limit, "the file"), Buffer.from(bytes))).toBe(0);
        else expect(() => readFileBounded(f, limit, "the file")).toThrow(BoundedReadError);
      }),
      { numRuns: 200 },
    );
  });

  it("an unreadable file says so in words, not with the system's error code", () => {
    expect(() => readFileBounded(join(dir, "nope"), 10, "the plan")).toThrow(
      `cannot read the plan ${join(dir, "nope")}: no such file`,
    );
    expect(() => readFileBounded(dir, 10, "the plan")).toThrow(/: it is a directory \(EISDIR\)$/);
    expect(
      describeFsError(Object.assign(new Error("EMFILE: too many open files, open '/x'"), { code: "EMFILE" })),
    ).toMatch(/^too many open files in this process/);
    expect(describeFsError(Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" }))).toMatch(
      /^input\/output error/,
    );
  });

  it("the limits are what the documentation says", () => {
    expect(LIMITS).toMatchObject({ token: 4096, config: 4 * 2 ** 20, fleetJson: 64 * 2 ** 20, webhookReply: 65536 });
  });
});

describe("bounded HTTP bodies", () => {
  /** A body that never ends (a hostile server), counting what was pulled from it. */
  function endless(): { body: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => boolean } {
    let pulled = 0;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled += 16384;
        c.enqueue(new Uint8Array(16384));
      },
      cancel() {
        cancelled = true;
      },
    });
    return { body, pulled: () => pulled, cancelled: () => cancelled };
  }

  it("an endless body is cut at the limit and the connection released", async () => {
    const e = endless();
    await expect(readBodyBounded(e.body, 100_000, "the webhook's answer")).rejects.toThrow(
      /the webhook's answer is larger than 97\.7 KiB/,
    );
    expect(e.cancelled()).toBe(true);
    expect(e.pulled()).toBeLessThanOrEqual(100_000 + 16384 * 2);
  });

  it("truncate mode keeps the first bytes", async () => {
    const e = endless();
    const r = await readBodyBounded(e.body, 10, "x", "truncate");
    expect(r).toEqual({ text: "\u0000".repeat(10), truncated: true });
  });

  it("a body within the limit is read whole", async () => {
    const r = await readBodyBounded(new Response("hello").body, 10, "x");
    expect(r).toEqual({ text: "hello", truncated: false });
  });
});
