import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { watchDirectory, watchProcesses, type StopWatching } from "./watch.js";

/** Waits until `cond` holds (generous deadline: this is about whether, not how fast). */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const settle = () => new Promise((r) => setTimeout(r, 200));

let stops: StopWatching[] = [];
afterEach(() => {
  for (const s of stops) s();
  stops = [];
});

describe("watchDirectory", () => {
  it("reports *.pid files coming and going, not other files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vsteal-watch-"));
    let n = 0;
    stops.push(watchDirectory(dir, () => n++, { names: (f) => f.endsWith(".pid") }));
    writeFileSync(join(dir, "web.pid"), "123\n");
    await until(() => n > 0, "a .pid file to be seen");
    await settle();
    const after = n;
    writeFileSync(join(dir, "web.log"), "x");
    await settle();
    expect(n).toBe(after);
    rmSync(join(dir, "web.pid"));
    await until(() => n > after, "a removed .pid file to be seen");
  });

  it("waits for a directory that does not exist yet, and survives it being removed and made again", async () => {
    const parent = mkdtempSync(join(tmpdir(), "vsteal-watch-"));
    const dir = join(parent, "qemu");
    let n = 0;
    stops.push(watchDirectory(dir, () => n++, { names: (f) => f.endsWith(".pid"), retryMs: 50 }));
    mkdirSync(dir);
    await until(() => n > 0, "the directory to be found");
    await settle();
    const found = n;
    writeFileSync(join(dir, "a.pid"), "1\n");
    await until(() => n > found, "a file in the new directory");
    rmSync(dir, { recursive: true });
    await settle();
    mkdirSync(dir);
    await settle();
    const back = n;
    writeFileSync(join(dir, "b.pid"), "2\n");
    await until(() => n > back, "a file in the directory made again");
  });

  it("gives up, once, on a directory it may not watch, so that the caller can watch otherwise", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vsteal-watch-"));
    const denied: string[] = [];
    let tries = 0;
    const eacces = (): never => {
      tries++;
      throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    };
    stops.push(
      watchDirectory(dir, () => undefined, {
        names: () => true,
        retryMs: 20,
        onDenied: (c) => denied.push(c),
        watchFn: eacces,
      }),
    );
    await settle();
    expect(denied).toEqual(["EACCES"]);
    expect(tries).toBe(1);
  });
});

describe("watchProcesses", () => {
  it("reports a candidate process appearing and exiting, not others", async () => {
    const proc = mkdtempSync(join(tmpdir(), "vsteal-proc-"));
    const mk = (pid: number, comm: string) => {
      mkdirSync(join(proc, String(pid)));
      writeFileSync(join(proc, String(pid), "comm"), `${comm}\n`);
    };
    mk(1, "init");
    let n = 0;
    stops.push(watchProcesses(proc, () => n++, { isCandidate: (c) => c.startsWith("qemu"), intervalMs: 20 }));
    await settle();
    mk(2, "bash");
    await settle();
    expect(n).toBe(0);
    mk(3, "qemu-system-x86");
    await until(() => n === 1, "a new QEMU to be seen");
    rmSync(join(proc, "2"), { recursive: true });
    await settle();
    expect(n).toBe(1);
    rmSync(join(proc, "3"), { recursive: true });
    await until(() => n === 2, "an exited QEMU to be seen");
  });
});
