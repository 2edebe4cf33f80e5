/**
 * Class 1 of the hostile-input review: names that reach other programs. Host names (from
 * Prometheus labels, snapshots, plans, hosts files) are host names before they go into a
 * libvirt URI; control characters in VM names never reach a terminal raw.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { formatDomstatsText } from "../../../src/cli/domstats-format.js";
import { formatPlanText } from "../../../src/cli/plan.js";
import { ConfigError } from "../../../src/config/errors.js";
import { SnapshotError } from "../../../src/fleet/errors.js";
import { loadHostsConfig } from "../../../src/fleet/hosts-config.js";
import { throttledUnknownQuery, vcpuSeriesCountQuery } from "../../../src/fleet/queries.js";
import { buildSnapshot } from "../../../src/fleet/snapshot-builder.js";
import { loadMigrateHosts, migrateHosts } from "../../../src/migrate/hosts.js";
import { FleetValidationError, parsePlan, parseSnapshot } from "../../../src/model/fleet.js";
import { HostNameError, fillHostTemplate, hostNameProblem, isHostName } from "../../../src/model/host-name.js";
import { safeText } from "../../../src/util/safe-text.js";
import { hostileFixture } from "./prometheus-fixture.js";

const dir = mkdtempSync(join(tmpdir(), "vsteal-hostile-names-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEMPLATES = ["qemu+ssh://{host}/system", "qemu+tls://{host}/system", "qemu+ssh://root@{host}/system?keyfile=/k"];

describe("host names", () => {
  it("accepts what hosts are called: DNS names, IPv4, [IPv6], with a port", () => {
    for (const h of [
      "hv01",
      "hv01.example.net",
      "HV-01",
      "node_7",
      "10.0.0.1",
      "127.0.0.1:9977",
      "[::1]",
      "[fe80::1]:9977",
      "a".repeat(63),
    ]) {
      expect(hostNameProblem(h), h).toBeNull();
    }
  });

  it("refuses what would change a URI: query, path, user, fragment, percent, spaces, control characters", () => {
    for (const h of [
      "hv01?netcat=/tmp/x",
      "hv01/system?command=sh",
      "user@hv01",
      "hv01#x",
      "hv%2f01",
      "hv 01",
      "hv01\n",
      "",
      "-",
      ".hv01",
      "hv01:0",
      "hv01:99999",
      "a".repeat(64),
    ]) {
      expect(hostNameProblem(h), JSON.stringify(h)).not.toBeNull();
    }
  });

  it("brackets must hold an IPv6 address (fast-check found [.b], which no URL parser takes)", () => {
    for (const h of ["[.b]", "[aa.]", "[.bb1]", "[:]"]) expect(hostNameProblem(h), h).toMatch(/IPv6/);
    expect(hostNameProblem("[::ffff:10.0.0.1]:16509")).toBeNull();
  });

  it("fast-check: whatever the string, a host name accepted into a URI template adds no user, path, query or fragment", () => {
    const anyText = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: fc.constantFrom(..."ab1.-_:[]?/@#%&=\\ \n\t"), maxLength: 20 }),
      fc
        .tuple(
          fc.constantFrom("hv01", "10.0.0.1", "[::1]"),
          fc.constantFrom("", "?netcat=x", "/x", "@y", "#z", ":22", "?socket=/s", "%20"),
        )
        .map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(anyText, fc.constantFrom(...TEMPLATES), (host, template) => {
        let uri: string;
        try {
          uri = fillHostTemplate(template, host, "test");
        } catch (e) {
          expect(e).toBeInstanceOf(HostNameError);
          expect(isHostName(host)).toBe(false);
          return;
        }
        const got = new URL(uri);
        const want = new URL(template.replace("{host}", "placeholder"));
        expect(got.username).toBe(want.username);
        expect(got.pathname).toBe(want.pathname);
        expect(got.search).toBe(want.search);
        expect(got.hash).toBe("");
        expect(got.host.toLowerCase()).toBe(host.toLowerCase() + (want.port ? `:${want.port}` : ""));
      }),
      { numRuns: 2000 },
    );
  });

  it("the migration hosts file: a host name with URI parameters is refused, naming the field", () => {
    const f = join(dir, "migrate.yaml");
    writeFileSync(
      f,
      'uri_template: "qemu+ssh://{host}/system"\nhosts:\n  "hv01?netcat=/tmp/evil":\n    uri: "qemu:///system"\n',
    );
    expect(() => loadMigrateHosts(f)).toThrow(ConfigError);
    expect(() => loadMigrateHosts(f)).toThrow(
      /migrate\.yaml:3: hosts\["hv01\?netcat=\/tmp\/evil"\]: must be a host name/,
    );
  });

  it("the migration hosts file's template never receives a host that is not a host name", () => {
    const hosts = migrateHosts({ uri_template: "qemu+ssh://{host}/system" });
    expect(hosts.endpoint("hv01")?.uri).toBe("qemu+ssh://hv01/system");
    expect(() => hosts.endpoint("hv01?netcat=sh")).toThrow(HostNameError);
  });

  it("the fleet hosts file: a host key that is not a host name is refused, naming the field", () => {
    const f = join(dir, "fleet.yaml");
    writeFileSync(f, "hosts:\n  hv01: { memory_mib: 1024 }\n  'hv02/../x': { memory_mib: 1024 }\n");
    expect(() => loadHostsConfig(f)).toThrow(/fleet\.yaml:3: hosts\["hv02\/\.\.\/x"\]: must be a host name/);
  });

  it("a snapshot naming a host that is not a host name is refused with the field", () => {
    const snap = {
      version: 1,
      time: "2026-11-25T12:00:00Z",
      window_s: 300,
      hosts: [{ name: "hv01?netcat=x", cpus: 4, memory_mib: 0 }],
      vms: [],
    };
    expect(() => parseSnapshot(snap)).toThrow(FleetValidationError);
    expect(() => parseSnapshot(snap)).toThrow(/hosts\[0\]\.name: must be a host name/);
  });

  it("a plan moving to a host that is not a host name is refused with the field", () => {
    const p = {
      version: 1,
      moves: [{ vm: "a", from: "hv01", to: "hv02?command=sh", reason: "r" }],
      predicted: { steal_before: 1, steal_after: 0 },
      explanation: "",
    };
    expect(() => parsePlan(p)).toThrow(/moves\[0\]\.to: must be a host name/);
  });

  it("a host label from Prometheus that is not a host name: no snapshot, and why", async () => {
    const { index, client } = hostileFixture("healthy", (a) => {
      for (const r of a.data?.result ?? []) if (r.metric.host === "hv02") r.metric.host = "hv02?netcat=/tmp/x";
    });
    const err = await buildSnapshot(client, { windowS: index.window_s, nowMs: index.now_ms }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SnapshotError);
    expect((err as SnapshotError).reason).toBe("partial_data");
    expect((err as SnapshotError).message).toMatch(/host label must be a host name .*hv02\?netcat/);
  });
});

describe("control characters in VM names are escaped in every output", () => {
  const hostile = fc.string({
    unit: fc.constantFrom("a", "\u001b", "[", "3", "1", "m", "\n", "\r", "\u0007", "\u202e", "\u0085", "\u009b", "é"),
    maxLength: 16,
  });
  // eslint-disable-next-line no-control-regex
  const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

  it("fast-check: the plan table holds no control character but its own line breaks, whatever the names", () => {
    fc.assert(
      fc.property(hostile, hostile, (vm, reason) => {
        const text = formatPlanText({
          version: 1,
          moves: [{ vm, from: "hv01", to: "hv02", reason }],
          predicted: { steal_before: 1, steal_after: 0.5 },
          explanation: `move ${vm}`,
        });
        expect(CONTROL.test(text)).toBe(false);
        // A name cannot forge a line: the table has as many lines as without the name.
        const plain = formatPlanText({
          version: 1,
          moves: [{ vm: "x", from: "hv01", to: "hv02", reason: "r" }],
          predicted: { steal_before: 1, steal_after: 0.5 },
          explanation: "move x",
        });
        expect(text.split("\n").length).toBe(plain.split("\n").length);
      }),
    );
  });

  it("fast-check: domstats text holds no control character, one Domain: line per domain", () => {
    fc.assert(
      fc.property(hostile, (name) => {
        const text = formatDomstatsText([{ name, uuid: null, id: 1, state: "running", params: [["vcpu.current", 1]] }]);
        expect(CONTROL.test(text)).toBe(false);
        expect(text.split("\n").filter((l) => l.startsWith("Domain:")).length).toBe(1);
        expect(text.split("\n").length).toBe(4);
      }),
    );
  });

  it("an escape sequence in a name is shown, not obeyed", () => {
    expect(safeText("vm\u001b[2J\u0007")).toBe("vm\\e[2J\\x07");
    expect(
      formatDomstatsText([{ name: "x\u001b]0;owned\u0007", uuid: null, id: 1, state: "running", params: [] }]),
    ).toBe("Domain: 'x\\e]0;owned\\x07'\n\n");
  });
});

describe("instance labels that go into a PromQL regular expression", () => {
  // The snapshot's second round names targets by `instance=~"a|b"` (queries.ts). Whatever a
  // scrape config puts into `instance`, the matcher matches those targets exactly, no other.
  const regexOf = (query: string): RegExp => {
    const literal = /instance=~("(?:[^"\\]|\\.)*")/.exec(query)?.[1];
    if (literal === undefined) throw new Error(`no instance=~ in ${query}`);
    // PromQL anchors a regular expression at both ends; RE2 and JavaScript agree on escapes.
    return new RegExp(`^(?:${JSON.parse(literal) as string})$`, "u");
  };
  const instance = fc.string({ unit: "grapheme", minLength: 1, maxLength: 16 });

  it("matches exactly the targets named, in both second-round queries", () => {
    fc.assert(
      fc.property(fc.uniqueArray(instance, { minLength: 1, maxLength: 5 }), instance, (named, other) => {
        for (const q of [vcpuSeriesCountQuery(named), throttledUnknownQuery(named)]) {
          const re = regexOf(q);
          for (const i of named) expect(re.test(i), `${JSON.stringify(i)} in ${q}`).toBe(true);
          if (!named.includes(other)) expect(re.test(other), `${JSON.stringify(other)} in ${q}`).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
    expect(regexOf(vcpuSeriesCountQuery(["10.0.0.1:9977"])).test("10a0b0c1:9977")).toBe(false);
  });
});
