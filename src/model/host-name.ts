/**
 * Host names, validated where they enter vsteal (Prometheus labels, snapshots, plans, hosts
 * files) and before any goes into a libvirt URI (`qemu+ssh://{host}/system`) or a command
 * line. A host name is a DNS name or IPv4 address (letters, digits, `-`, `_`, dots; labels of
 * at most 63 characters, at most 253 in all), or an IPv6 address in brackets, optionally with
 * `:port` (Prometheus's `instance` label is `host:port`). Nothing else: no `/`, `?`, `@`, `#`,
 * `%`, spaces or control characters, so a name can never add a path, a query parameter
 * (libvirt's `?netcat=`, `?command=` run programs on the remote side) or a user to a URI.
 *
 * Pure: no I/O.
 */
import { isIPv6 } from "node:net";
import { z } from "zod";

/** Longest host name accepted, with its port. */
export const HOST_NAME_MAX = 253 + 6;

const LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?";
const DNS = `${LABEL}(?:\\.${LABEL})*`;
const IPV6 = "\\[[0-9A-Fa-f:.]{2,45}\\]";
const PORT = "(?::(?:[1-9][0-9]{0,4}))?";
const HOST_NAME_RE = new RegExp(`^(?:${DNS}|${IPV6})${PORT}$`);

/** A string checked by hostNameProblem: safe to put into a URI's authority or a command line. */
export type HostName = string & { readonly __hostName: unique symbol };

/** Why `s` is not a host name, or null when it is one. */
export function hostNameProblem(s: string): string | null {
  if (s.length === 0) return "must not be empty";
  if (s.length > HOST_NAME_MAX) return `must be a host name of at most 253 characters, got ${s.length}`;
  if (!HOST_NAME_RE.test(s)) {
    return `must be a host name (letters, digits, "-", "_" and dots, or [IPv6], optionally with :port), got ${JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s)}`;
  }
  // The brackets must hold an IPv6 address, not just its characters ("[.b]" is no host).
  const v6 = /^\[([^\]]*)\]/.exec(s);
  if (v6 && !isIPv6(v6[1]!))
    return `must be a host name or [IPv6 address], got ${JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s)}`;
  const port = /:(\d+)$/.exec(s);
  if (port && Number(port[1]) > 65535) return `port must be at most 65535, got ${port[1]}`;
  return null;
}

export function isHostName(s: unknown): s is HostName {
  return typeof s === "string" && hostNameProblem(s) === null;
}

/** Thrown by asHostName; the message names where the name came from. */
export class HostNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HostNameError";
  }
}

/** `s` as a HostName, or a HostNameError: "`where`: must be a host name …". */
export function asHostName(s: string, where: string): HostName {
  const p = hostNameProblem(s);
  if (p !== null) throw new HostNameError(`${where}: ${p}`);
  return s as HostName;
}

/** The zod schema of a host name, for snapshots, plans and config files. */
export const hostNameSchema = z.string().superRefine((s, ctx) => {
  const p = hostNameProblem(s);
  if (p !== null) ctx.addIssue({ code: "custom", message: p, input: s });
});

/**
 * A URI template with `{host}` filled in. The template is the operator's; the host is checked
 * here again (whatever its origin) so that no caller can forget it.
 */
export function fillHostTemplate(template: string, host: string, where: string): string {
  return template.replaceAll("{host}", asHostName(host, where));
}
