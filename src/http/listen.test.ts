import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishApp } from "./app.js";
import { listen, parseListenAddress, type Listening } from "./listen.js";
import { responseHeaders } from "./security-headers.js";

describe("parseListenAddress", () => {
  it("host:port, [v6]:port and :port (every interface)", () => {
    expect(parseListenAddress("127.0.0.1:9977")).toEqual({ host: "127.0.0.1", port: 9977 });
    expect(parseListenAddress(":9977")).toEqual({ host: "0.0.0.0", port: 9977 });
    expect(parseListenAddress("[::1]:0")).toEqual({ host: "::1", port: 0 });
    expect(parseListenAddress("[::]:65535")).toEqual({ host: "::", port: 65535 });
    expect(parseListenAddress("localhost:80")).toEqual({ host: "localhost", port: 80 });
  });

  it("anything else is refused with an example", () => {
    for (const bad of ["9977", "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:123456", "::1:9977", "[x]:1", "a:b", "", ":"])
      expect(() => parseListenAddress(bad), bad).toThrow(
        `--web.listen-address ${JSON.stringify(bad)}: expected host:port, e.g. 127.0.0.1:9977 or :9977`,
      );
  });
});

/** One request over a raw socket: the exact bytes of the answer. */
function raw(l: Listening, request: string, tls = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls
      ? tlsConnect({ host: "127.0.0.1", port: l.port, rejectUnauthorized: false })
      : connect(l.port, "127.0.0.1");
    let out = "";
    s.setEncoding("latin1");
    s.on(tls ? "secureConnect" : "connect", () => s.write(request));
    s.on("data", (d: string) => (out += d));
    s.on("end", () => resolve(out.replace(/^Date: .*\r\n/m, "")));
    s.on("error", reject);
  });
}
const req = (method: string, path: string) => `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

function app(extra: Record<string, string> = { "X-Extra": "1", "X-Content-Type-Options": "overridden" }): Hono {
  const a = new Hono();
  a.use("*", responseHeaders(extra));
  a.get("/", (c) => c.text("hello\n"));
  return finishApp(a);
}

describe("listen", () => {
  let dir = "";
  const open: Listening[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vsteal-listen-"));
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"].concat([
        "-subj",
        "/CN=vsteal-test",
        "-keyout",
        join(dir, "k.pem"),
        "-out",
        join(dir, "c.pem"),
      ]),
      { stdio: "ignore" },
    );
  });
  afterAll(async () => {
    await Promise.all(open.map((l) => new Promise((r) => l.server.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  it("port 0 picks a free port; the answer on the wire, GET and HEAD, headers included", async () => {
    const l = await listen(app(), "127.0.0.1:0", null);
    open.push(l);
    expect(l.port).toBeGreaterThan(0);
    expect(l.host).toBe("127.0.0.1");
    expect(l.url).toBe(`http://127.0.0.1:${l.port}`);
    // c.text() without a status is the platform's Response, whose default type has no space.
    const head = "content-type: text/plain;charset=UTF-8\r\nx-content-type-options: overridden\r\nx-extra: 1\r\n";
    expect(await raw(l, req("GET", "/"))).toBe(
      `HTTP/1.1 200 OK\r\n${head}content-length: 6\r\nConnection: close\r\n\r\nhello\n`,
    );
    // A HEAD answer keeps every header (with hono/secure-headers it lost them on @hono/node-server).
    expect(await raw(l, req("HEAD", "/"))).toBe(`HTTP/1.1 200 OK\r\n${head}Connection: close\r\n\r\n`);
    expect(await raw(l, req("POST", "/"))).toBe(
      "HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\ncontent-type: text/plain; charset=UTF-8\r\n" +
        "x-content-type-options: overridden\r\nx-extra: 1\r\ncontent-length: 33\r\nConnection: close\r\n\r\n" +
        "Method POST not allowed: use GET\n",
    );
    const plain = await listen(app({}), "127.0.0.1:0", null);
    open.push(plain);
    for (const method of ["GET", "HEAD"])
      expect(await raw(plain, req(method, "/")), method).toMatch(
        /^HTTP\/1\.1 200 OK\r\ncontent-type: text\/plain;charset=UTF-8\r\nx-content-type-options: nosniff\r\n/,
      );
    const http = l.server as HttpServer;
    expect([http.headersTimeout, http.requestTimeout, http.keepAliveTimeout]).toEqual([10_000, 30_000, 5_000]);
  });

  it("IPv6 in brackets in the URL", async () => {
    let l: Listening;
    try {
      l = await listen(app(), "[::1]:0", null);
    } catch (e) {
      if (/EADDRNOTAVAIL|EAFNOSUPPORT/.test(String(e))) return; // no IPv6 on this machine
      throw e;
    }
    open.push(l);
    expect(l.host).toBe("::1");
    expect(l.url).toBe(`http://[::1]:${l.port}`);
  });

  it("TLS from the web config: https, the certificate it was given", async () => {
    const cert = readFileSync(join(dir, "c.pem"));
    const l = await listen(app(), "127.0.0.1:0", {
      config: {},
      tls: { cert, key: readFileSync(join(dir, "k.pem")), requestCert: false, minVersion: "TLSv1.3" },
    });
    open.push(l);
    expect(l.url).toBe(`https://127.0.0.1:${l.port}`);
    expect(await raw(l, req("GET", "/"), true)).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nhello\n$/);
    const peer = await new Promise<{ subject: string; protocol: string | null }>((resolve, reject) => {
      const s = tlsConnect({ host: "127.0.0.1", port: l.port, rejectUnauthorized: false }, () => {
        resolve({ subject: s.getPeerCertificate().subject.CN as string, protocol: s.getProtocol() });
        s.end();
      });
      s.on("error", reject);
    });
    expect(peer).toEqual({ subject: "vsteal-test", protocol: "TLSv1.3" });
    // TLS 1.2 is below the minimum version asked for.
    await expect(
      new Promise((resolve, reject) => {
        const s = tlsConnect(
          { host: "127.0.0.1", port: l.port, rejectUnauthorized: false, maxVersion: "TLSv1.2" },
          () => resolve(s.getProtocol()),
        );
        s.on("error", reject);
      }),
    ).rejects.toThrow();
  });

  it("an address in use is said in words", async () => {
    const l = await listen(app(), "127.0.0.1:0", null);
    open.push(l);
    await expect(listen(app(), `127.0.0.1:${l.port}`, null)).rejects.toThrow(
      `127.0.0.1:${l.port} is in use: pick another --web.listen-address`,
    );
    await expect(listen(app(), "192.0.2.1:0", null)).rejects.toThrow(/^cannot listen on 192\.0\.2\.1:0: /);
  });
});
