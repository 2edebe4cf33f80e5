/**
 * Class 5 of the hostile-input review: config that would start but cannot work is refused at
 * start, naming file and field — bcrypt costs, the dummy hash's cost, response headers,
 * client certificates without a CA, a key that does not match its certificate, webhook URLs
 * with credentials, tokens a client cannot send, a telemetry path that shadows an endpoint.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { telemetryPathProblem } from "../../../src/agent/telemetry-path.js";
import { dummyHashFor } from "../../../src/http/basic-auth.js";
import { bcryptCost, loadWebConfig } from "../../../src/http/web-config.js";
import { parseAlertConfig } from "../../../src/alerts/config.js";
import { loadTokenDigest } from "../../../src/controller/auth.js";

const dir = mkdtempSync(join(tmpdir(), "vsteal-hostile-cfg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};
const fakeHash = (cost: string) => `$2y$${cost}$${"a".repeat(53)}`;

describe("web config", () => {
  it("bcrypt costs outside 4–14 are refused with file, line and field", () => {
    for (const cost of ["31", "99", "15"]) {
      const f = file("web.yml", `basic_auth_users:\n  prometheus: "${fakeHash(cost)}"\n`);
      expect(() => loadWebConfig(f), cost).toThrow(
        new RegExp(`web\\.yml:2: basic_auth_users\\.prometheus: bcrypt cost ${Number(cost)} is outside 4–14`),
      );
    }
    const ok = file("web-ok.yml", `basic_auth_users:\n  prometheus: "${bcrypt.hashSync("pw", 4)}"\n`);
    expect(loadWebConfig(ok).config.basic_auth_users?.prometheus).toMatch(/^\$2[aby]\$04\$/);
  });

  it("a password where a bcrypt hash belongs: one problem, and the password is never echoed", () => {
    const f = file("web-plain.yml", `basic_auth_users:\n  prometheus: "hunter2-plain-password"\n`);
    let message = "";
    try {
      loadWebConfig(f);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/web-plain\.yml:2: basic_auth_users\.prometheus: expected a bcrypt hash/);
    expect(message).not.toContain("hunter2");
    expect(message).not.toMatch(/bcrypt cost NaN/);
  });

  it("unknown users are compared with a dummy hash of the users' own cost", () => {
    for (const cost of [4, 5, 11]) {
      const users = { a: bcrypt.hashSync("x", cost), b: bcrypt.hashSync("y", cost) };
      expect(bcryptCost(dummyHashFor(users))).toBe(cost);
    }
    // Mixed: the cost most users have.
    expect(
      bcryptCost(dummyHashFor({ a: bcrypt.hashSync("x", 4), b: bcrypt.hashSync("y", 6), c: bcrypt.hashSync("z", 6) })),
    ).toBe(6);
  });

  it("response header names and values that Node would refuse on every request are refused at start", () => {
    const badName = file("h.yml", 'http_server_config:\n  headers:\n    "Bad Header": x\n');
    expect(() => loadWebConfig(badName)).toThrow(
      'h.yml:3: http_server_config.headers["Bad Header"]: not a valid HTTP header name: "Bad Header"',
    );
    const badValue = file("v.yml", 'http_server_config:\n  headers:\n    X-Ok: "a\\u0001b"\n');
    expect(() => loadWebConfig(badValue)).toThrow(
      /v\.yml:3: http_server_config\.headers\.X-Ok: not a valid HTTP header value/,
    );
  });

  it("client-certificate verification without a CA file is refused", () => {
    const f = file(
      "c.yml",
      "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n  client_auth_type: RequireAndVerifyClientCert\n",
    );
    expect(() => loadWebConfig(f)).toThrow(
      /c\.yml:1: tls_server_config\.client_ca_file: required with client_auth_type: RequireAndVerifyClientCert/,
    );
  });

  describe("TLS files", () => {
    let certA = "";
    let keyB = "";
    beforeAll(() => {
      const mk = (n: string) => {
        execFileSync(
          "openssl",
          [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=vsteal-test",
            "-keyout",
            join(dir, `${n}.key`),
            "-out",
            join(dir, `${n}.crt`),
          ],
          { stdio: "ignore" },
        );
      };
      mk("a");
      mk("b");
      certA = join(dir, "a.crt");
      keyB = join(dir, "b.key");
    });

    it("a key that does not belong to the certificate is named as such, not as OpenSSL's internals", () => {
      const f = file("t.yml", `tls_server_config:\n  cert_file: ${certA}\n  key_file: ${keyB}\n`);
      expect(() => loadWebConfig(f)).toThrow(
        `t.yml: tls_server_config: the key in ${keyB} does not belong to the certificate in ${certA}`,
      );
    });

    it("a file that is not PEM is named", () => {
      const junk = file("junk.pem", "not a certificate\n");
      const f = file("t2.yml", `tls_server_config:\n  cert_file: ${junk}\n  key_file: ${keyB}\n`);
      expect(() => loadWebConfig(f)).toThrow(
        /t2\.yml: tls_server_config: .*junk\.pem.* is not a PEM certificate or key/,
      );
    });
  });
});

describe("alert config", () => {
  it("a webhook URL with credentials is refused, without quoting the secret", () => {
    const text = `rules:\n  - name: r\n    metric: vcpu_contention\n    op: ">"\n    threshold: 5%\n    for: 1m\n    webhooks:\n      - url: https://bob:s3cret@hooks.example/x\n`;
    let msg = "";
    try {
      parseAlertConfig(text, "a.yaml");
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/a\.yaml:8: rules\[0\]\.webhooks\[0\]\.url: must not hold credentials/);
    expect(msg).not.toContain("s3cret");
  });

  it("a webhook header value with a control character is refused", () => {
    const text = `rules:\n  - name: r\n    metric: vcpu_contention\n    op: ">"\n    threshold: 5%\n    for: 1m\n    webhooks:\n      - url: https://hooks.example/x\n        headers: { X-Token: "a\\u0007b" }\n`;
    expect(() => parseAlertConfig(text, "a.yaml")).toThrow(
      /a\.yaml:9: rules\[0\]\.webhooks\[0\]\.headers\.X-Token: a header value cannot hold line breaks or control characters/,
    );
  });
});

describe("the controller's token", () => {
  it("a token with whitespace inside (no client could send it) is refused, naming the file", () => {
    const f = file("token", "abcdefgh ijklmnopqrst\n");
    expect(() => loadTokenDigest(f)).toThrow(
      `the bearer token in ${f} holds spaces or characters a header cannot carry`,
    );
    expect(() => loadTokenDigest(undefined, { VSTEAL_CONTROLLER_TOKEN: "abcdefgh\u0000ijklmnopqrst" })).toThrow(
      /holds spaces or characters/,
    );
    expect(loadTokenDigest(file("good", "0123456789abcdef0123\n")).length).toBe(32);
  });
});

describe("the agent's --web.telemetry-path", () => {
  it("refuses a query string, odd segments and paths that shadow another endpoint", () => {
    for (const p of [
      "/metrics?x=1",
      "/metrics#a",
      "/",
      "/api/v1/host",
      "/api",
      "//metrics",
      "/a/../metrics",
      "/met rics",
      "metrics",
      "/index.html",
    ]) {
      expect(telemetryPathProblem(p), p).not.toBeNull();
    }
    for (const p of ["/metrics", "/vsteal/metrics", "/m-1_2.txt"]) expect(telemetryPathProblem(p), p).toBeNull();
  });

  it("fast-check: an accepted path is one Hono and URL both read as exactly that path", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(..."/ab.?#%&=:@ \t\u0001-_~"), maxLength: 16 }), (p) => {
        if (telemetryPathProblem(p) !== null) return;
        const u = new URL(p, "http://h");
        expect(u.search).toBe("");
        expect(u.hash).toBe("");
        expect(u.pathname).toBe(p);
        expect(p.startsWith("/api/")).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});
