import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadPlatformsConfig } from "./config.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vsteal-platforms-cfg-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const file = (text: string): string => {
  writeFileSync(join(dir, "platforms.yaml"), text);
  return join(dir, "platforms.yaml");
};

describe("the platforms file", () => {
  it("reads both platforms, a secret from its own file, and never prints a secret", () => {
    writeFileSync(join(dir, "os.secret"), "top-secret-value\nignored second line\n");
    const c = loadPlatformsConfig(
      file(
        `openstack:\n  auth_url: https://keystone.example.net:5000/v3/\n  application_credential_id: abc\n  application_credential_secret_file: ${join(dir, "os.secret")}\n  hosts: { hv01: compute-01 }\nproxmox:\n  url: https://pve1.example.net:8006\n  token_id: "vsteal@pve!migrate"\n  token_secret: "pve-secret-1"\n`,
      ),
    );
    expect(c.openstack).toMatchObject({
      authUrl: "https://keystone.example.net:5000/v3",
      credentialId: "abc",
      interface: "public",
      hosts: { hv01: "compute-01" },
    });
    expect(c.openstack?.credentialSecret.reveal()).toBe("top-secret-value");
    expect(c.proxmox?.tokenSecret.reveal()).toBe("pve-secret-1");
    const shown = [JSON.stringify(c), inspect(c, { depth: 5 }), String(c.proxmox?.tokenSecret)].join("\n");
    expect(shown).not.toContain("top-secret-value");
    expect(shown).not.toContain("pve-secret-1");
  });

  it("refuses mistakes with the file and the field", () => {
    expect(() =>
      loadPlatformsConfig(
        file(
          "openstack:\n  auth_url: keystone:5000\n  application_credential_id: a\n  application_credential_secret: s\n",
        ),
      ),
    ).toThrow(/platforms\.yaml:2.*openstack\.auth_url: expected an http\(s\) URL/);
    expect(() =>
      loadPlatformsConfig(file("proxmox:\n  url: https://pve:8006\n  token_id: vsteal\n  token_secret: s\n")),
    ).toThrow(/proxmox\.token_id: expected USER@REALM!TOKENID/);
    expect(() => loadPlatformsConfig(file("openstak: {}\n"))).toThrow(/openstak.*openstack/);
    expect(() =>
      loadPlatformsConfig(file("openstack:\n  auth_url: https://k/v3\n  application_credential_id: a\n")),
    ).toThrow(
      /openstack\.application_credential_secret: give exactly one of application_credential_secret and application_credential_secret_file/,
    );
    expect(() =>
      loadPlatformsConfig(
        file(
          `proxmox:\n  url: https://pve:8006\n  token_id: "a@pve!b"\n  token_secret_file: ${join(dir, "missing")}\n`,
        ),
      ),
    ).toThrow(/proxmox\.token_secret_file: cannot read .*missing/);
  });
});
