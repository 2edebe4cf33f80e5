import { serve, type ServerType } from "@hono/node-server";
import type { Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Hono } from "hono";
import type { LoadedWebConfig } from "./web-config.js";

/** The example a wrong --web.listen-address is answered with (the agent's port). */
const EXAMPLE_PORT = 9977;

/** `host:port`, `[v6]:port` or `:port` (every interface, as Prometheus exporters take it). */
export function parseListenAddress(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new Error(
      `--web.listen-address ${JSON.stringify(s)}: expected host:port, e.g. 127.0.0.1:${EXAMPLE_PORT} or :${EXAMPLE_PORT}`,
    );
  const host = m[1] ?? (m[2] === "" ? "0.0.0.0" : (m[2] ?? "127.0.0.1"));
  return { host, port };
}

export interface Listening {
  server: ServerType;
  /** The address it got, as the socket says it (IPv6 without brackets). */
  host: string;
  port: number;
  /** http(s)://host:port, IPv6 in brackets. */
  url: string;
}

/**
 * Starts listening, over TLS when the web config has tls_server_config; resolves with the server
 * and the address it got (port 0 picks a free one). Slow or stuck clients are cut off.
 */
export function listen(app: Hono, address: string, web: LoadedWebConfig | null): Promise<Listening> {
  const { host, port } = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    const tls = web?.tls;
    const server = serve(
      {
        fetch: app.fetch,
        hostname: host,
        port,
        ...(tls
          ? {
              createServer: createHttpsServer,
              serverOptions: {
                cert: tls.cert,
                key: tls.key,
                ...(tls.ca ? { ca: tls.ca } : {}),
                requestCert: tls.requestCert,
                rejectUnauthorized: tls.requestCert,
                ...(tls.minVersion ? { minVersion: tls.minVersion } : {}),
              },
            }
          : {}),
      },
      (info: AddressInfo) => {
        const h = info.family === "IPv6" ? `[${info.address}]` : info.address;
        resolve({ server, host: info.address, port: info.port, url: `${tls ? "https" : "http"}://${h}:${info.port}` });
      },
    );
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === "EADDRINUSE"
            ? `${address} is in use: pick another --web.listen-address`
            : `cannot listen on ${address}: ${e.message}`,
        ),
      ),
    );
    // Slow or stuck clients must not hold connections forever.
    const http = server as HttpServer;
    http.headersTimeout = 10_000;
    http.requestTimeout = 30_000;
    http.keepAliveTimeout = 5_000;
  });
}
