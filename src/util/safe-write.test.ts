import { mkdtempSync, readFileSync, rmSync, type PathLike } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";

// Count fsync calls: a rename survives a crash only once the directory itself is fsync'ed.
const fsyncs = vi.hoisted(() => ({ n: 0 }));
vi.mock("node:fs", async (orig) => {
  const fs = await orig<typeof import("node:fs")>();
  return {
    ...fs,
    fsyncSync: (fd: number) => {
      fsyncs.n++;
      return fs.fsyncSync(fd);
    },
  };
});

const { fsyncDir, writeFileAtomic } = await import("./safe-write.js");
const dir = mkdtempSync(join(tmpdir(), "vsteal-safe-write-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("fsyncs the file, then the directory after the rename", () => {
    fsyncs.n = 0;
    const f = join(dir, "state.json");
    writeFileAtomic(f, "{}\n", "the test file");
    expect(readFileSync(f as PathLike, "utf8")).toBe("{}\n");
    expect(fsyncs.n).toBe(2);
  });

  it("fsyncDir says false where there is no directory to fsync", () => {
    expect(fsyncDir(dir)).toBe(true);
    expect(fsyncDir(join(dir, "no-such-dir"))).toBe(false);
  });
});
