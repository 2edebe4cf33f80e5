import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderDomainInfo } from "../agent/domain-info.js";
import type { DomainSample } from "../model/types.js";
import { identityFromDomainXml } from "./identity.js";
import { identityFromQemuArgv, withProxmoxConfig } from "./qemu-identity.js";
import { identityLabels, identitySummary } from "./labels.js";
import { MetadataPickError, parseMetadataPick } from "./metadata-picks.js";
import { boundValue, MAX_VALUE_CHARS } from "./values.js";

const FIX = join(import.meta.dirname, "../../test/fixtures/platforms");
const fixture = (f: string): string => readFileSync(join(FIX, f), "utf8");
const UUID = "6b2c4a0a-5d84-4399-8a62-0d0b7c1e2d3f";

const domainXml = (metadata: string, name = "instance-0000a1b2", extra = ""): string => `<domain type='kvm' id='7'>
  <name>${name}</name>
  <uuid>${UUID}</uuid>
  <metadata>
    ${metadata}
  </metadata>
  <memory unit='KiB'>32768</memory>
  <vcpu placement='static'>1</vcpu>${extra}
  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
</domain>
`;

describe("Nova metadata in the domain XML", () => {
  it("reads namespace 1.1 as Nova writes it (name, flavor, owner; id = domain UUID)", () => {
    const r = identityFromDomainXml(domainXml(fixture("nova-1.1-metadata.xml")));
    expect(r.warnings).toEqual([]);
    expect(r.uuid).toBe(UUID);
    expect(r.platform).toEqual({
      kind: "openstack",
      id: UUID,
      name: "web-1 Ünïcødé 网站",
      project: "shop",
      project_id: "0b7c1e2d3f4a4b5c8d9e0f1a2b3c4d5e",
      user: "alice",
      user_id: "5d1a7c6bb1a54c2c9e2a0f3b4c5d6e7f",
      flavor: "m1.small",
      flavor_vcpus: 1,
      flavor_memory_mib: 2048,
    });
  });

  it("reads namespace 1.0 the same way", () => {
    const r = identityFromDomainXml(domainXml(fixture("nova-1.0-metadata.xml")));
    expect(r.platform).toMatchObject({
      kind: "openstack",
      name: "db-primary",
      project: "billing",
      user: "bob",
      flavor: "m1.large",
      flavor_vcpus: 4,
      flavor_memory_mib: 8192,
    });
  });

  it("matches by namespace, not by prefix; another namespace's <instance> is not Nova's", () => {
    const other = fixture("nova-1.1-metadata.xml").replaceAll("nova:", "n:").replace("xmlns:nova=", "xmlns:n=");
    expect(identityFromDomainXml(domainXml(other)).platform?.name).toBe("web-1 Ünïcødé 网站");
    const fake = `<x:instance xmlns:x="http://example.com/not-nova"><x:name>evil</x:name></x:instance>`;
    expect(identityFromDomainXml(domainXml(fake)).platform).toBeUndefined();
  });

  it("metadata missing: no identity, no warning", () => {
    const r = identityFromDomainXml(domainXml(""));
    expect(r.platform).toBeUndefined();
    expect(r.warnings).toEqual([]);
  });

  it("malformed XML: no identity and one warning, never a throw", () => {
    for (const bad of [
      "",
      "<domain><name>x</name>",
      "not xml at all",
      "<other/>",
      domainXml("<nova:instance>"),
      "<domain><name>a</name></domain><domain/>",
    ]) {
      const r = identityFromDomainXml(bad);
      expect(r.platform).toBeUndefined();
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toMatch(/^platform metadata not read: /);
    }
  });

  it("hostile values: markup stays text, controls replaced, 10 KB cut, bad numbers ignored, each with a warning", () => {
    const huge = "A".repeat(10_240);
    const meta = `<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>&lt;script&gt;alert("x")&lt;/script&gt; it's</nova:name>
      <nova:flavor name="${huge}"><nova:memory>-5</nova:memory><nova:vcpus>1e9</nova:vcpus></nova:flavor>
      <nova:owner><nova:user uuid="u">a&#x9;b&#x1b;[31mred&#x202e;</nova:user><nova:project uuid="p">p"q\\r}</nova:project></nova:owner>
    </nova:instance>`;
    const r = identityFromDomainXml(domainXml(meta));
    const p = r.platform!;
    expect(p.name).toBe(`<script>alert("x")</script> it's`);
    expect([...(p.flavor ?? "")]).toHaveLength(MAX_VALUE_CHARS);
    expect(p.flavor?.endsWith("…")).toBe(true);
    expect(p.user).toBe("a\uFFFDb\uFFFD[31mred\uFFFD");
    expect(p.project).toBe('p"q\\r}');
    expect(p.flavor_memory_mib).toBeUndefined();
    expect(p.flavor_vcpus).toBeUndefined();
    expect(r.warnings).toEqual([
      "nova:owner/nova:user: control characters replaced by \uFFFD",
      "nova:flavor/@name: 10240 characters long, cut to 256",
      'nova:flavor/nova:vcpus: expected a whole number from 1 to 65536, got "1e9"; ignored',
      'nova:flavor/nova:memory: expected a whole number from 0 to 1073741824, got "-5"; ignored',
    ]);
    // The info series stays valid exposition: quotes and backslashes escaped, one line.
    const info = renderDomainInfo(
      [
        {
          domain: {
            name: "instance-0000a1b2",
            uuid: UUID,
            id: 7,
            state: "running",
            vcpuCurrent: 1,
            vcpuMaximum: 1,
            pid: 1,
            source: "libvirt",
            platform: p,
          },
          vcpus: [],
        } satisfies DomainSample,
      ],
      false,
    );
    expect(info.split("\n").filter((l) => l.startsWith("vsteal_domain_info"))).toHaveLength(1);
    expect(info).toContain('project_name="p\\"q\\\\r}"');
  });
});

describe("KubeVirt", () => {
  const kv = `<kubevirt xmlns="http://kubevirt.io"><uid>8d2c…</uid><graceperiod><deletionGracePeriodSeconds>30</deletionGracePeriodSeconds></graceperiod></kubevirt>`;
  it("namespace and VMI name from <namespace>_<name> when KubeVirt's metadata is there", () => {
    expect(identityFromDomainXml(domainXml(kv, "prod_vm-a.web")).platform).toEqual({
      kind: "kubevirt",
      namespace: "prod",
      name: "vm-a.web",
    });
  });
  it("an underscore alone is not KubeVirt", () => {
    expect(identityFromDomainXml(domainXml("", "my_vm")).platform).toBeUndefined();
    expect(
      identityFromQemuArgv(["qemu-system-x86_64", "-name", "guest=my_vm"], {
        name: "my_vm",
        vmid: null,
        qemuName: "my_vm",
      }).platform,
    ).toBeUndefined();
  });
  it("from virt-launcher's QEMU command line", () => {
    const argv = [
      "/usr/libexec/qemu-kvm",
      "-name",
      "guest=default_vmi-fedora,debug-threads=on",
      "-smbios",
      "type=1,manufacturer=KubeVirt,product=None,family=KubeVirt",
    ];
    expect(
      identityFromQemuArgv(argv, { name: "default_vmi-fedora", vmid: null, qemuName: "default_vmi-fedora" }).platform,
    ).toEqual({ kind: "kubevirt", namespace: "default", name: "vmi-fedora" });
  });
});

describe("Proxmox VE", () => {
  it("VMID and name from the command line, tags/cpulimit/cpuunits from the current config section", () => {
    const id = identityFromQemuArgv(["/usr/bin/kvm", "-id", "104", "-name", "db,debug-threads=on"], {
      name: "db",
      vmid: 104,
      qemuName: "db",
    });
    expect(id.platform).toEqual({ kind: "proxmox", id: "104", name: "db" });
    const full = withProxmoxConfig(id.platform!, fixture("pve-104.conf"));
    expect(full.warnings).toEqual([]);
    expect(full.platform).toEqual({
      kind: "proxmox",
      id: "104",
      name: "db",
      tags: ["prod", "db"],
      cpulimit: 1.5,
      cpuunits: 2048,
    });
  });
  it("a hostile config: bad numbers ignored and controls replaced, with warnings", () => {
    const r = withProxmoxConfig(
      { kind: "proxmox", id: "7" },
      `cpulimit: lots\ncpuunits: 99999999\ntags: a;b\u0007c;${"x".repeat(300)}\n`,
    );
    expect(r.platform?.cpulimit).toBeUndefined();
    expect(r.platform?.cpuunits).toBeUndefined();
    expect(r.platform?.tags?.[1]).toBe("b\uFFFDc");
    expect(r.warnings.map((w) => w.replace(/:.*/, ""))).toEqual([
      "qemu-server/7.conf",
      "qemu-server/7.conf",
      "qemu-server/7.conf",
      "qemu-server/7.conf",
    ]);
  });
});

describe("--domain-metadata picks", () => {
  const ops = `<ops:owner xmlns:ops="http://example.com/ns/ops" costcenter="CC-42"><ops:team>storage</ops:team></ops:owner>`;
  it("takes an element's text or an attribute by namespace and path", () => {
    const picks = [
      parseMetadataPick("team={http://example.com/ns/ops}owner/team"),
      parseMetadataPick("cost={http://example.com/ns/ops}owner/@costcenter"),
      parseMetadataPick("none={http://example.com/ns/ops}owner/nothing"),
    ];
    const r = identityFromDomainXml(domainXml(ops, "plain"), picks);
    expect(r.platform).toEqual({ kind: "libvirt", metadata: { team: "storage", cost: "CC-42" } });
    expect(identityLabels(r.platform)).toEqual([
      ["platform", "libvirt"],
      ["meta_cost", "CC-42"],
      ["meta_team", "storage"],
    ]);
  });
  it("refuses a bad spec with what to write", () => {
    expect(() => parseMetadataPick("team=owner/team")).toThrow(MetadataPickError);
    expect(() => parseMetadataPick("1x={ns}a")).toThrow(/KEY must be a label name/);
    expect(() => parseMetadataPick("k={ns}a//b")).toThrow(/PATH must be element names/);
  });
});

describe("labels and summaries", () => {
  it("nothing known is platform=libvirt", () => {
    expect(identityLabels(undefined)).toEqual([["platform", "libvirt"]]);
    expect(identitySummary(undefined)).toBe("");
  });
  it("summaries a person reads", () => {
    expect(identitySummary({ kind: "openstack", id: UUID, name: "web-1", project: "shop" })).toBe(
      "web-1 (project shop)",
    );
    expect(identitySummary({ kind: "proxmox", id: "104", name: "db" })).toBe("VMID 104 db");
    expect(identitySummary({ kind: "kubevirt", namespace: "prod", name: "vm-a" })).toBe("prod/vm-a");
  });
  it("boundValue never splits a surrogate pair", () => {
    const b = boundValue("😀".repeat(300), "x");
    expect([...b.value]).toHaveLength(MAX_VALUE_CHARS);
    expect(b.value.endsWith("😀…")).toBe(true);
  });
});
