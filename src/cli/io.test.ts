import { afterEach, describe, expect, it, vi } from "vitest";

// writeSync stands in for the descriptor: what a pipe takes, and when it would block or is gone.
const fs = vi.hoisted(() => ({ writeSync: vi.fn() }));
vi.mock("node:fs", async (orig) => ({ ...(await orig<typeof import("node:fs")>()), writeSync: fs.writeSync }));

afterEach(() => {
  vi.restoreAllMocks();
  fs.writeSync.mockReset();
  vi.resetModules();
});

async function freshIo(): Promise<typeof import("./io.js")> {
  return import("./io.js");
}

describe("writeStdoutSync: standard output through its descriptor", () => {
  it("writes every byte, over partial writes, and never builds process.stdout", async () => {
    const got: Buffer[] = [];
    fs.writeSync.mockImplementation((_fd: number, buf: Buffer, off: number) => {
      const n = Math.min(3, buf.length - off); // a pipe taking 3 bytes at a time
      got.push(Buffer.from(buf.subarray(off, off + n)));
      return n;
    });
    const stream = vi.spyOn(process.stdout, "write");
    const { writeStdoutSync } = await freshIo();
    writeStdoutSync("Domain: 'vm-é'\n");
    expect(Buffer.concat(got).toString("utf8")).toBe("Domain: 'vm-é'\n");
    expect(fs.writeSync.mock.calls.every((c) => c[0] === 1)).toBe(true);
    expect(stream).not.toHaveBeenCalled();
  });

  it("a descriptor that would block (EAGAIN) hands the rest, and all that follows, to process.stdout", async () => {
    fs.writeSync
      .mockImplementationOnce(() => 4)
      .mockImplementationOnce(() => {
        throw Object.assign(new Error("EAGAIN: resource temporarily unavailable, write"), { code: "EAGAIN" });
      });
    const streamed: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      streamed.push(Buffer.from(chunk).toString("utf8"));
      return true;
    });
    const { writeStdoutSync } = await freshIo();
    writeStdoutSync("abcdefgh");
    writeStdoutSync("ij");
    expect(streamed).toEqual(["efgh", "ij"]);
    expect(fs.writeSync).toHaveBeenCalledTimes(2);
  });

  it("a reader that went away (EPIPE) gets nothing more, and it is no error", async () => {
    fs.writeSync.mockImplementation(() => {
      throw Object.assign(new Error("EPIPE: broken pipe, write"), { code: "EPIPE" });
    });
    const stream = vi.spyOn(process.stdout, "write");
    const { writeStdoutSync } = await freshIo();
    expect(() => writeStdoutSync("a")).not.toThrow();
    writeStdoutSync("b");
    expect(fs.writeSync).toHaveBeenCalledTimes(1);
    expect(stream).not.toHaveBeenCalled();
  });

  it("any other failure is thrown (it becomes the command's one-line error)", async () => {
    fs.writeSync.mockImplementation(() => {
      throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
    });
    const { writeStdoutSync } = await freshIo();
    expect(() => writeStdoutSync("a")).toThrow(/EIO/);
  });
});
