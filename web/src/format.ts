/** A fraction (0..1) as a percentage a person reads at a glance. */
export function pct(f: number): string {
  if (!Number.isFinite(f)) return "–";
  const p = f * 100;
  if (p === 0) return "0 %";
  if (Math.abs(p) < 0.1) return "<0.1 %";
  return `${p < 10 ? p.toFixed(1) : p.toFixed(0)} %`;
}

/** Cores (1 = one whole host CPU). */
export function cores(c: number): string {
  if (!Number.isFinite(c)) return "–";
  if (c === 0) return "0";
  if (Math.abs(c) < 0.01) return "<0.01";
  return c < 10 ? c.toFixed(2) : c.toFixed(1);
}

/** A count of CPUs: whole numbers stay whole. */
export function cpus(c: number): string {
  return Number.isInteger(c) ? String(c) : cores(c);
}

export function num3(v: number): string {
  if (!Number.isFinite(v)) return "–";
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

const pad = (n: number): string => String(n).padStart(2, "0");

export function clock(ms: number, seconds = true): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ""}`;
}

export function dateTime(ms: number): string {
  const d = new Date(ms);
  const today = new Date();
  const sameDay =
    d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() && d.getDate() === today.getDate();
  return sameDay ? clock(ms) : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/** 42 s, 3 min, 2 h 5 min, 3 d 4 h. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}
