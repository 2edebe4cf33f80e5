/**
 * Why `path` cannot be the metrics path (--web.telemetry-path), or null. It is matched
 * literally, so it must be a plain absolute path: no query or fragment, no `.` or `..`
 * segments, no empty segments; and it must not shadow another endpoint (the dashboard at
 * `/`, the API under `/api/`).
 */
export function telemetryPathProblem(path: string): string | null {
  if (!path.startsWith("/")) return "must start with /";
  if (/[?#]/.test(path)) return "must be a path only, without ? or # (the metrics path takes no query)";
  if (!/^[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$/.test(path))
    return "may hold only letters, digits and - . _ ~ / (and URL punctuation): no spaces or control characters";
  if (/\/\/|\/\.\.?(\/|$)/.test(path)) return "must not have empty, . or .. segments";
  if (path === "/" || path === "/index.html") return "would hide the dashboard at /: use /metrics";
  if (path === "/api" || path.startsWith("/api/")) return "would shadow the JSON API under /api/: use /metrics";
  return null;
}
