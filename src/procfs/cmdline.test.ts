import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyText, fixtureBytes, fixtureText } from "../../test/unit/procfs/fixture.js";
import { parseCmdline } from "./cmdline.js";

describe("parseCmdline", () => {
  it("reads a real libvirt QEMU command line", () => {
    const argv = parseCmdline(fixtureBytes("proc/4605/cmdline"), "cmdline");
    expect(argv).toHaveLength(42);
    expect(argv[0]).toBe("/usr/bin/qemu-system-x86_64");
    const opt = (name: string): string | undefined => argv[argv.indexOf(name) + 1];
    expect(opt("-name")).toBe("guest=vsteal-procfs-fixture,debug-threads=on");
    expect(opt("-smp")).toBe("2,maxcpus=3,sockets=3,cores=1,threads=1");
    expect(opt("-uuid")).toBe("64e118df-f14d-44d8-ba7a-057727d26aa9");
    expect(opt("-machine")).toBe("pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram");
    expect(opt("-object")).toBe(
      '{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-2-vsteal-procfs-fixtur/master-key.aes"}',
    );
    expect(argv.at(-1)).toBe("timestamp=on");
    expect(parseCmdline(fixtureText("proc/4605/cmdline"), "cmdline")).toEqual(argv);
  });

  it("reads a Proxmox VE command line", () => {
    const argv = parseCmdline(fixtureBytes("proc/2301/cmdline"), "cmdline");
    expect(argv.slice(0, 5)).toEqual(["/usr/bin/kvm", "-id", "101", "-name", "web01,debug-threads=on"]);
    expect(argv[argv.indexOf("-smp") + 1]).toBe("4,sockets=1,cores=4,maxcpus=4");
  });

  it.each([
    ["", []],
    ["\0", [""]],
    ["a", ["a"]],
    ["a\0", ["a"]],
    ["a\0b", ["a", "b"]],
    ["a\0\0b\0", ["a", "", "b"]],
    ["nginx: worker process", ["nginx: worker process"]], // a rewritten argv
  ])("%j is %j", (text, argv) => {
    expect(parseCmdline(text, "cmdline")).toEqual(argv);
    expect(parseCmdline(new TextEncoder().encode(text), "cmdline")).toEqual(argv);
  });

  it("decodes UTF-8 and survives invalid bytes", () => {
    expect(parseCmdline(Uint8Array.from([0x68, 0xc3, 0xa9, 0, 0xff, 0]), "cmdline")).toEqual(["hé", "\ufffd"]);
  });

  it("round-trips any argv without NULs and never throws (property)", () => {
    const arg = fc.string({ unit: "binary" }).map((s) => s.replaceAll("\0", ""));
    fc.assert(
      fc.property(fc.array(arg, { minLength: 1 }), (argv) => {
        const text = argv.map((a) => `${a}\0`).join("");
        expect(parseCmdline(text, "cmdline")).toEqual(argv);
        expect(parseCmdline(Buffer.from(text, "utf8"), "cmdline")).toEqual(
          argv.map((a) => Buffer.from(a, "utf8").toString("utf8")),
        );
      }),
    );
    fc.assert(fc.property(anyText, (text) => void parseCmdline(text, "cmdline")));
    fc.assert(fc.property(fc.uint8Array(), (bytes) => void parseCmdline(bytes, "cmdline")));
  });
});
