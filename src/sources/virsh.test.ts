import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { execVirsh, virshError, virshRun } from "../migrate/virsh.js";
import { LibvirtUnavailableError, SourceError } from "./errors.js";
import { runVirsh } from "./virsh.js";
import { virshErrorLine } from "../libvirt/virsh.js";

/** A stand-in virsh: prints its arguments, one a line; `fail` makes it exit 3, `slow` sleep. */
function fakeVirsh(): string {
  const dir = mkdtempSync(join(tmpdir(), "vsteal-virsh-"));
  const bin = join(dir, "virsh");
  writeFileSync(
    bin,
    [
      "#!/bin/sh",
      'for a in "$@"; do echo "$a"; done',
      'case "$*" in *fail*) echo "error: failed to connect to the hypervisor" >&2; echo "error: Connection refused" >&2; exit 3;; esac',
      'case "$*" in *slow*) sleep 5;; esac',
    ].join("\n"),
  );
  chmodSync(bin, 0o755);
  return bin;
}

describe("the one virsh runner", () => {
  const bin = fakeVirsh();

  it("reads on the read-only socket and changes on the read-write one, arguments untouched by any shell", async () => {
    const read = await runVirsh(["list", "a b; $(x)"], { uri: "qemu:///system", virsh: bin });
    expect(read).toEqual({
      stdout: "--quiet\n--readonly\n--connect\nqemu:///system\nlist\na b; $(x)\n",
      stderr: "",
      code: 0,
    });
    const write = await virshRun(execVirsh(bin), "qemu+ssh://hv2/system", ["migrate", "--live"]);
    expect(write).toEqual({
      stdout: "--quiet\n--connect\nqemu+ssh://hv2/system\nmigrate\n--live\n",
      stderr: "",
      code: 0,
    });
  });

  it("reports a failed run by its exit code and its useful stderr line, in both", async () => {
    const read = await runVirsh(["fail"], { uri: "u", virsh: bin });
    expect(read.code).toBe(3);
    expect(virshErrorLine(read.stderr)).toBe("Connection refused");
    const write = await virshRun(execVirsh(bin), "u", ["fail"]);
    expect(write.code).toBe(3);
    expect(virshError(write)).toBe("Connection refused");
    expect(virshError({ stdout: "", stderr: "", code: 5 })).toBe("virsh exited with 5");
    expect(virshErrorLine("")).toBe("unknown error");
  });

  it("says what to do when virsh is missing or does not answer", async () => {
    const missing = join(tmpdir(), "vsteal-no-such-virsh");
    await expect(runVirsh(["list"], { uri: "u", virsh: missing })).rejects.toThrow(
      new SourceError(`virsh not found (${missing}): install libvirt-clients or pass --source qemu`),
    );
    expect(await virshRun(execVirsh(missing), "u", ["list"])).toEqual({
      stdout: "",
      stderr: `virsh not found (${missing}): install libvirt-clients`,
      code: 127,
    });
    await expect(runVirsh(["slow"], { uri: "u", virsh: bin, timeoutMs: 200 })).rejects.toThrow(LibvirtUnavailableError);
    await expect(runVirsh(["slow"], { uri: "u", virsh: bin, timeoutMs: 200 })).rejects.toThrow(
      "virsh did not answer within 200 ms",
    );
    const slow = await virshRun(execVirsh(bin), "u", ["slow"], 200);
    expect(slow.code).toBe(124);
    expect(slow.stderr).toMatch(/\nvirsh did not finish within 200 ms$/);
  });
});
