/**
 * A host name as RFC 1123 has it: dot-separated labels of letters, digits and hyphens, each 1 to
 * 63 characters and neither starting nor ending with a hyphen, 253 characters in all. Such a name
 * can go into a libvirt URI, a command line or a label without escaping.
 */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isHostName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split(".").every((l) => LABEL.test(l));
}

/** Why `s` is not a host name, for a message; null when it is one. */
export function hostNameProblem(s: string): string | null {
  if (isHostName(s)) return null;
  if (s.length === 0) return "is empty";
  if (s.length > 253) return "is longer than 253 characters";
  return "is not a host name (RFC 1123: labels of letters, digits and '-', 1-63 characters each, separated by dots)";
}
