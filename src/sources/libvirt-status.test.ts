import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseStatusXml, readStatusRecords } from "./libvirt-status.js";

// libvirt 9's status file of a running 2-of-3-vCPU domain (most of QEMU's capability flags cut).
const FIXTURE = readFileSync(
  join(import.meta.dirname, "..", "..", "test", "fixtures", "libvirt-run", "vsteal-test-2.xml"),
  "utf8",
);
/** What `virsh dominfo` + `vcpucount` say about it. */
const EXPECTED = {
  uuid: "d7b8889d-f5df-4b81-9982-6d20fbe99652",
  name: "vsteal-test-2",
  id: 2,
  state: "paused",
  vcpuCurrent: 2,
  vcpuMaximum: 3,
  memoryBytes: 33554432,
  maxMemoryBytes: 33554432,
  pid: 15746,
};

const withMetadata = (inner: string): string =>
  FIXTURE.replace(/<metadata>[\s\S]*?<\/metadata>/, `<metadata>${inner}</metadata>`);

describe("parseStatusXml", () => {
  it("reads what dominfo and vcpucount print", () => {
    expect(parseStatusXml(FIXTURE)).toEqual(EXPECTED);
  });

  it("is not fooled by the domain's metadata, comments or CDATA", () => {
    const meta =
      `<x:app xmlns:x="urn:a"><x:name>other</x:name></x:app><b xmlns="urn:b"><name>evil</name><vcpu>64</vcpu></b>` +
      `<!-- <name>c</name> --><c xmlns="urn:c"><![CDATA[</metadata><vcpu>9</vcpu>]]></c>`;
    expect(parseStatusXml(withMetadata(meta))).toEqual(EXPECTED);
  });

  it("resolves references in the name as libvirt escapes them", () => {
    const xml = FIXTURE.replace("<name>vsteal-test-2</name>", "<name>a&apos;b &amp; &lt;c&gt; &#233;&#x4e2d;</name>");
    expect(parseStatusXml(xml)?.name).toBe("a'b & <c> é中");
  });

  it("maps libvirt's state names to virsh's", () => {
    const stated = (s: string) => parseStatusXml(FIXTURE.replace("state='paused'", `state='${s}'`))?.state;
    expect(stated("running")).toBe("running");
    expect(stated("blocked")).toBe("idle");
    expect(stated("shutdown")).toBe("in shutdown");
    expect(stated("pmsuspended")).toBe("pmsuspended");
    expect(stated("nostate")).toBeUndefined();
  });

  it("takes <vcpu> without current= as all vCPUs online", () => {
    const r = parseStatusXml(FIXTURE.replace("<vcpu placement='static' current='2'>3</vcpu>", "<vcpu>4</vcpu>"));
    expect([r?.vcpuCurrent, r?.vcpuMaximum]).toEqual([4, 4]);
  });

  it.each([
    ["not well-formed", FIXTURE.replace("</domain>", "")],
    ["an undefined entity", FIXTURE.replace("<name>vsteal-test-2", "<name>vsteal&nbsp;2")],
    ["a bare ampersand", FIXTURE.replace("<name>vsteal-test-2", "<name>a & b")],
    ["another root", FIXTURE.replace(/domstatus/g, "status")],
    ["a second root", `${FIXTURE}<domstatus/>`],
    ["no pid", FIXTURE.replace(" pid='15746'", "")],
    ["no id (an inactive definition)", FIXTURE.replace(" id='2'", "")],
    ["memory not in KiB", FIXTURE.replace("<memory unit='KiB'>32768", "<memory unit='MiB'>32")],
    ["a bad UUID", FIXTURE.replace("d7b8889d-f5df", "d7b8889d-zzzz")],
    ["a DOCTYPE", `<!DOCTYPE x [<!ENTITY e "x">]>${FIXTURE}`],
    ["QEMU's capabilities not closed", FIXTURE.replace("</qemuCaps>", "")],
  ])("gives null for %s", (_what, xml) => {
    expect(parseStatusXml(xml)).toBeNull();
  });
});

describe("readStatusRecords", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });
  /** A run directory whose driver and domains are this very process (alive in /proc). */
  function runDir(files: Record<string, string>, driverPid = process.pid): string {
    dir = mkdtempSync(join(tmpdir(), "vsteal-run-"));
    writeFileSync(join(dir, "driver.pid"), `${driverPid}`);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }
  const alive = (name: string, id: number, uuid: string) =>
    FIXTURE.replace("pid='15746'", `pid='${process.pid}'`)
      .replace("<name>vsteal-test-2</name>", `<name>${name}</name>`)
      .replace("id='2'", `id='${id}'`)
      .replace(EXPECTED.uuid, uuid);
  const A = "00000000-0000-4000-8000-00000000000a";
  const B = "00000000-0000-4000-8000-00000000000b";

  it("finds domains by name, id and UUID, in the order asked", () => {
    const d = runDir({ "web.xml": alive("web", 7, A), "7.xml": alive("7", 9, B) });
    const got = readStatusRecords(d, "/proc", ["web", "9", B.toUpperCase().replace(/-/g, "")]);
    expect(got?.map((r) => [r.name, r.id, r.pid])).toEqual([
      ["web", 7, process.pid],
      ["7", 9, process.pid],
      ["7", 9, process.pid],
    ]);
  });

  it("looks an argument up as virsh does: an id before a name", () => {
    const d = runDir({ "web.xml": alive("web", 7, A), "7.xml": alive("7", 9, B) });
    expect(readStatusRecords(d, "/proc", ["7"])?.map((r) => r.name)).toEqual(["web"]);
  });

  it("reads the XML-escaped file name libvirt 9 writes", () => {
    const d = runDir({ "a&apos;b.xml": alive("a&apos;b", 3, A) });
    expect(readStatusRecords(d, "/proc", ["a'b"])?.map((r) => r.name)).toEqual(["a'b"]);
  });

  it.each([
    ["a domain not running", ["web", "db"]],
    ["a path", ["../web"]],
    ["a name that is not the file's", ["other"]],
  ])("gives null (ask virsh) for %s", (_what, args) => {
    const d = runDir({ "web.xml": alive("web", 7, A), "other.xml": alive("web", 8, B) });
    expect(readStatusRecords(d, "/proc", args)).toBeNull();
  });

  it("gives null when libvirt's driver is not running or its QEMU is gone", () => {
    expect(readStatusRecords(runDir({ "web.xml": alive("web", 7, A) }, 2 ** 22 + 1), "/proc", ["web"])).toBeNull();
    rmSync(dir!, { recursive: true });
    const gone = alive("web", 7, A).replace(`pid='${process.pid}'`, `pid='${2 ** 22 + 1}'`);
    expect(readStatusRecords(runDir({ "web.xml": gone }), "/proc", ["web"])).toBeNull();
  });

  it("gives null for a directory that is not there", () => {
    expect(readStatusRecords("/nonexistent-run-dir", "/proc", ["web"])).toBeNull();
  });
});
