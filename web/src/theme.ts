/** Light and dark: follows prefers-color-scheme unless the user picked one (kept in localStorage). */

export type ThemeMode = "auto" | "light" | "dark";
const KEY = "vsteal.theme";

function stored(): ThemeMode {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : "auto";
  } catch {
    return "auto";
  }
}

export class Theme {
  mode: ThemeMode = stored();
  private readonly media = window.matchMedia("(prefers-color-scheme: dark)");
  private readonly listeners = new Set<() => void>();

  constructor() {
    this.apply();
    this.media.addEventListener("change", () => {
      if (this.mode === "auto") this.changed();
    });
  }

  get dark(): boolean {
    return this.mode === "dark" || (this.mode === "auto" && this.media.matches);
  }

  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  /** auto → the opposite of what is shown → back to auto when that equals the system's. */
  toggle(): void {
    const next: ThemeMode = this.dark ? "light" : "dark";
    this.mode = (next === "dark") === this.media.matches ? "auto" : next;
    try {
      if (this.mode === "auto") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, this.mode);
    } catch {
      /* storage may be off: the choice lasts for this page */
    }
    this.apply();
    this.changed();
  }

  private apply(): void {
    const root = document.documentElement;
    if (this.mode === "auto") delete root.dataset.theme;
    else root.dataset.theme = this.mode;
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}

/** A colour from the stylesheet's custom properties (they follow the theme). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** `#rrggbb` → [r, g, b]; anything else → grey. */
export function rgb(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  return m ? [parseInt(m[1] ?? "80", 16), parseInt(m[2] ?? "80", 16), parseInt(m[3] ?? "80", 16)] : [128, 128, 128];
}

export function withAlpha(hex: string, a: number): string {
  const [r, g, b] = rgb(hex);
  return `rgba(${r},${g},${b},${a})`;
}
