/**
 * The alert state machine. Pure: no timers, no I/O; time comes in as `nowMs` with each
 * evaluation, so a test can replay any sequence of values at any pace.
 *
 * For every rule and every subject (the host, a VM, or a vCPU):
 *
 *   inactive ──condition──► pending ──held for `for`──► firing ──past clear threshold
 *      ▲                       │                          │      for `clear_for`──► resolved
 *      └───condition false─────┘ (no event)               │                         (= inactive)
 *                                                          └── not seen for `for` ──► resolved "gone"
 *
 * A firing alert stays firing while its value lies between the clear threshold and the
 * threshold (hysteresis), so a value wobbling around the threshold fires once, not again and
 * again.
 */
import type { AlertRule } from "./rules.js";
import { subjectValues } from "./subjects.js";
import type { ActiveAlert, AlertEvent, AlertInput, AlertSubject } from "./types.js";

interface SubjectState {
  subject: AlertSubject;
  phase: "pending" | "firing";
  value: number;
  activeSinceMs: number;
  firedAtMs: number | null;
  /** Since when a firing alert's value has been past the clear threshold; null while it is not. */
  clearingSinceMs: number | null;
  lastSeenMs: number;
}

export interface AlertEngineOptions {
  /** Events kept for history(); default 1000. */
  historyLimit?: number;
}

export class AlertEngine {
  readonly rules: readonly AlertRule[];
  private readonly states: Map<string, SubjectState>[];
  private readonly events: AlertEvent[] = [];
  private readonly historyLimit: number;

  constructor(rules: readonly AlertRule[], options: AlertEngineOptions = {}) {
    const names = new Set<string>();
    for (const r of rules) {
      if (names.has(r.name)) throw new Error(`duplicate alert rule name ${JSON.stringify(r.name)}`);
      names.add(r.name);
    }
    this.rules = rules;
    this.states = rules.map(() => new Map<string, SubjectState>());
    this.historyLimit = Math.max(0, options.historyLimit ?? 1000);
  }

  /** Advance every rule with one sample taken at `nowMs`; returns the transitions, in order. */
  evaluate(input: AlertInput, nowMs: number): AlertEvent[] {
    const out: AlertEvent[] = [];
    this.rules.forEach((rule, i) => {
      const states = this.states[i];
      if (states !== undefined) this.evaluateRule(rule, states, input, nowMs, out);
    });
    for (const e of out) this.events.push(e);
    if (this.events.length > this.historyLimit) this.events.splice(0, this.events.length - this.historyLimit);
    return out;
  }

  /** Alerts now pending or firing, rule by rule in config order. */
  active(): ActiveAlert[] {
    const out: ActiveAlert[] = [];
    this.rules.forEach((rule, i) => {
      for (const s of this.states[i]?.values() ?? []) {
        out.push({
          rule: rule.name,
          subject: { ...s.subject },
          state: s.phase,
          value: s.value,
          threshold: rule.threshold,
          activeSinceMs: s.activeSinceMs,
          firedAtMs: s.firedAtMs,
          severity: rule.severity,
          labels: { ...rule.labels },
          annotations: { ...rule.annotations },
        });
      }
    });
    return out;
  }

  /** The latest `limit` events (all kept when omitted), oldest first. */
  history(limit?: number): AlertEvent[] {
    const n = limit === undefined ? this.events.length : Math.max(0, Math.floor(limit));
    return n === 0 ? [] : this.events.slice(-n);
  }

  private evaluateRule(
    rule: AlertRule,
    states: Map<string, SubjectState>,
    input: AlertInput,
    now: number,
    out: AlertEvent[],
  ): void {
    const breached = (v: number): boolean => (rule.op === ">" ? v > rule.threshold : v < rule.threshold);
    const cleared = (v: number): boolean => (rule.op === ">" ? v <= rule.clearThreshold : v >= rule.clearThreshold);
    const event = (s: SubjectState, state: AlertEvent["state"], reason?: AlertEvent["reason"]): AlertEvent => ({
      rule: rule.name,
      subject: { ...s.subject },
      state,
      value: s.value,
      threshold: state === "firing" ? rule.threshold : rule.clearThreshold,
      atMs: now,
      severity: rule.severity,
      labels: { ...rule.labels },
      annotations: { ...rule.annotations },
      ...(reason === undefined ? {} : { reason }),
    });

    const seen = new Set<string>();
    for (const { key, subject, value } of subjectValues(rule.metric, input)) {
      seen.add(key);
      let s = states.get(key);
      if (s === undefined) {
        if (!breached(value)) continue;
        s = {
          subject,
          phase: "pending",
          value,
          activeSinceMs: now,
          firedAtMs: null,
          clearingSinceMs: null,
          lastSeenMs: now,
        };
        states.set(key, s);
      }
      s.subject = subject; // a VM renamed keeps its UUID, and its alert
      s.value = value;
      s.lastSeenMs = now;

      if (s.phase === "pending") {
        if (!breached(value)) {
          states.delete(key);
        } else if (now - s.activeSinceMs >= rule.forMs) {
          s.phase = "firing";
          s.firedAtMs = now;
          out.push(event(s, "firing"));
        }
      } else if (cleared(value)) {
        s.clearingSinceMs ??= now;
        if (now - s.clearingSinceMs >= rule.clearForMs) {
          states.delete(key);
          out.push(event(s, "resolved", "cleared"));
        }
      } else {
        s.clearingSinceMs = null;
      }
    }

    for (const [key, s] of states) {
      if (seen.has(key)) continue;
      if (s.phase === "pending") {
        states.delete(key);
      } else if (now - s.lastSeenMs >= rule.forMs) {
        states.delete(key);
        out.push(event(s, "resolved", "gone"));
      }
    }
  }
}
