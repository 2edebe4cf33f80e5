import { describe, expect, it } from "vitest";
import { isQemuArgv0, parseQemuCmdline, parseQemuMemory, parseQemuOptValue } from "./qemu-cmdline.js";

describe("parseQemuCmdline", () => {
  it("reads a libvirt-started QEMU", () => {
    const argv = [
      "/usr/bin/qemu-system-x86_64",
      "-name",
      "guest=vsteal-test-2,debug-threads=on",
      "-S",
      "-machine",
      "pc-i440fx-7.2,usb=off",
      "-accel",
      "kvm",
      "-m",
      "32",
      "-smp",
      "2,maxcpus=3,sockets=3,cores=1,threads=1",
      "-uuid",
      "5C1F2D7A-8E0B-4C4D-9F1E-2B3A4C5D6E7F",
      "-no-user-config",
    ];
    expect(parseQemuCmdline(argv)).toEqual({
      name: "vsteal-test-2",
      uuid: "5c1f2d7a-8e0b-4c4d-9f1e-2b3a4c5d6e7f",
      id: null,
      vcpus: 2,
      maxVcpus: 3,
      memoryBytes: 32 * 2 ** 20,
    });
  });

  it("reads a Proxmox kvm command line", () => {
    const argv = [
      "/usr/bin/kvm",
      "-id",
      "101",
      "-name",
      "web01,debug-threads=on",
      "-smp",
      "4,sockets=1,cores=4,maxcpus=4",
    ];
    expect(parseQemuCmdline(argv)).toEqual({
      name: "web01",
      uuid: null,
      id: 101,
      vcpus: 4,
      maxVcpus: 4,
      memoryBytes: 128 * 2 ** 20,
    });
  });

  it("keeps doubled commas of a name and a plain -name", () => {
    expect(parseQemuCmdline(["qemu-system-x86_64", "-name", "a,,b,debug-threads=on"]).name).toBe("a,b");
    expect(parseQemuCmdline(["qemu-system-x86_64", "-name", "plain"]).name).toBe("plain");
    expect(parseQemuCmdline(["qemu-system-x86_64"]).name).toBeNull();
  });

  it("derives the vCPU count from topology when cpus is absent", () => {
    expect(parseQemuCmdline(["qemu-system-x86_64", "-smp", "sockets=2,cores=2,threads=1"])).toMatchObject({
      vcpus: 4,
      maxVcpus: 4,
    });
    expect(parseQemuCmdline(["qemu-system-x86_64", "-smp", "cpus=1,maxcpus=8"])).toMatchObject({
      vcpus: 1,
      maxVcpus: 8,
    });
    expect(parseQemuCmdline(["qemu-system-x86_64"])).toMatchObject({ vcpus: 1, maxVcpus: 1 });
  });

  it("ignores a malformed uuid and id", () => {
    expect(parseQemuCmdline(["qemu-system-x86_64", "-uuid", "$(reboot)", "-id", "x"])).toMatchObject({
      uuid: null,
      id: null,
    });
  });
});

describe("parseQemuMemory", () => {
  it("reads QEMU's -m forms in bytes (a bare number is MiB)", () => {
    expect(parseQemuMemory("32")).toBe(32 * 2 ** 20);
    expect(parseQemuMemory("4G")).toBe(4 * 2 ** 30);
    expect(parseQemuMemory("size=512M,slots=2,maxmem=8G")).toBe(512 * 2 ** 20);
    expect(parseQemuMemory("32768k")).toBe(32 * 2 ** 20);
    expect(parseQemuMemory("lots")).toBeNull();
    expect(parseQemuMemory("0")).toBeNull();
  });
});

describe("parseQemuOptValue", () => {
  it("splits implied value and keys", () => {
    const r = parseQemuOptValue("x,a=1,b=2");
    expect(r.implied).toBe("x");
    expect([...r.keys]).toEqual([
      ["a", "1"],
      ["b", "2"],
    ]);
  });
});

describe("isQemuArgv0", () => {
  it("knows QEMU binaries", () => {
    expect(isQemuArgv0("/usr/bin/qemu-system-x86_64")).toBe(true);
    expect(isQemuArgv0("/usr/libexec/qemu-kvm")).toBe(true);
    expect(isQemuArgv0("/usr/bin/kvm")).toBe(true);
    expect(isQemuArgv0("/usr/bin/qemu-img")).toBe(false);
    expect(isQemuArgv0("bash")).toBe(false);
  });
});
