/** The JSON API uses snake_case keys throughout: the paths of any key that is not. */

/** Objects whose keys are data (label names, user-chosen metadata keys), not the API's own. */
const DATA_KEYS = new Set(["labels", "annotations", "metadata"]);

export function notSnakeCase(v: unknown, path = ""): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => notSnakeCase(x, `${path}[${i}]`));
  if (typeof v !== "object" || v === null) return [];
  return Object.entries(v).flatMap(([k, x]) => {
    const here = path ? `${path}.${k}` : k;
    const bad = /^[a-z0-9]+(_[a-z0-9]+)*$/.test(k) ? [] : [here];
    return DATA_KEYS.has(k) ? bad : [...bad, ...notSnakeCase(x, here)];
  });
}
