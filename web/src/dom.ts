/**
 * The only way the dashboard makes DOM. Everything that comes from libvirt (names, errors) is
 * data: it goes in as text nodes, never parsed as HTML. There is no innerHTML anywhere (eslint
 * forbids it in web/).
 */

export type Child = Node | string | number | null | undefined | false;

export interface Attrs {
  class?: string;
  title?: string;
  /** Only in-page links (`#/…`) and the agent's own paths (`/…`). */
  href?: string;
  role?: string;
  type?: string;
  id?: string;
  tabindex?: number;
  "aria-label"?: string;
  placeholder?: string;
  "aria-live"?: "polite" | "assertive" | "off";
  "aria-pressed"?: "true" | "false";
  "aria-current"?: "page" | "true" | "false";
  "aria-hidden"?: "true" | "false";
  /** data-* attributes, set with setAttribute: attribute values are never parsed as markup. */
  data?: Record<string, string>;
  onclick?: (e: MouseEvent) => void;
}

function safeHref(href: string): string {
  return href.startsWith("#") || (href.startsWith("/") && !href.startsWith("//")) ? href : "#";
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    if (attrs.class) el.className = attrs.class;
    if (attrs.title !== undefined) el.title = attrs.title;
    if (attrs.href !== undefined) el.setAttribute("href", safeHref(attrs.href));
    if (attrs.role) el.setAttribute("role", attrs.role);
    if (attrs.type) el.setAttribute("type", attrs.type);
    if (attrs.id) el.id = attrs.id;
    if (attrs.tabindex !== undefined) el.tabIndex = attrs.tabindex;
    for (const k of [
      "aria-label",
      "aria-live",
      "aria-pressed",
      "aria-current",
      "aria-hidden",
      "placeholder",
    ] as const) {
      const v = attrs[k];
      if (v !== undefined) el.setAttribute(k, v);
    }
    for (const [k, v] of Object.entries(attrs.data ?? {})) el.setAttribute(`data-${k.replace(/[^a-z0-9-]/g, "")}`, v);
    const onclick = attrs.onclick;
    if (onclick) (el as HTMLElement).addEventListener("click", (e) => onclick(e));
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces all children (text stays text). */
export function replace(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, ...children);
}

/** Sets text only when it changed (keeps selections and avoids layout work). */
export function setText(el: Node, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Keeps `parent`'s children in step with `items` by key: rows are created once and updated in
 * place, so a click on a row is not lost because the row was rebuilt under the pointer.
 */
export function syncKeyed<T, E extends HTMLElement>(
  parent: HTMLElement,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T) => E,
  update: (el: E, item: T) => void,
  cache: Map<string, E>,
): void {
  const wanted = new Set<string>();
  let prev: Element | null = null;
  for (const item of items) {
    const k = key(item);
    wanted.add(k);
    let el = cache.get(k);
    if (!el) {
      el = create(item);
      cache.set(k, el);
    }
    update(el, item);
    const next: Element | null = prev ? prev.nextElementSibling : parent.firstElementChild;
    if (next !== el) parent.insertBefore(el, next);
    prev = el;
  }
  for (const [k, el] of cache) {
    if (!wanted.has(k)) {
      el.remove();
      cache.delete(k);
    }
  }
}
