/**
 * The value of a rule's metric for each subject in one evaluation: every vCPU, every VM or
 * the host. Values that are not finite numbers (no data) are left out.
 */
import type { DomainRates, VcpuRates } from "../model/types.js";
import { ALERT_METRICS, type AlertMetric } from "./rules.js";
import type { AlertInput, AlertSubject } from "./types.js";

export interface SubjectValue {
  /** Stable identity of the subject across evaluations. */
  key: string;
  subject: AlertSubject;
  value: number;
}

const VCPU_FIELD = {
  vcpu_contention: "contention",
  vcpu_delay: "delay",
  vcpu_throttled: "throttled",
  vcpu_usage: "usage",
} as const satisfies Partial<Record<AlertMetric, keyof VcpuRates>>;

/** A VM is known by its UUID (names can be reused), by name when it has none. */
function subjectKey(d: DomainRates): string {
  return d.domain.uuid !== null ? `uuid:${d.domain.uuid}` : `name:${d.domain.name}`;
}

function domainSubject(d: DomainRates): AlertSubject {
  const s: AlertSubject =
    d.domain.uuid !== null ? { domain: d.domain.name, uuid: d.domain.uuid } : { domain: d.domain.name };
  if (d.domain.platform) s.platform = d.domain.platform;
  return s;
}

export function subjectValues(metric: AlertMetric, input: AlertInput): SubjectValue[] {
  const out: SubjectValue[] = [];
  const seen = new Set<string>();
  const add = (key: string, subject: AlertSubject, value: number): void => {
    if (!Number.isFinite(value) || seen.has(key)) return;
    seen.add(key);
    out.push({ key, subject, value });
  };

  switch (ALERT_METRICS[metric].scope) {
    case "host": {
      const h = input.host;
      if (metric === "host_demand_ratio") {
        if (h.capacity > 0) add("host", {}, h.demand / h.capacity);
      } else {
        add("host", {}, h.stealTotal);
      }
      break;
    }
    case "domain":
      for (const d of input.rates.domains) {
        if (d.vcpus.length === 0) continue;
        const sum = d.vcpus.reduce((s, v) => s + v.contention, 0);
        add(subjectKey(d), domainSubject(d), sum / d.vcpus.length);
      }
      break;
    case "vcpu": {
      const field = VCPU_FIELD[metric as keyof typeof VCPU_FIELD];
      for (const d of input.rates.domains) {
        const key = subjectKey(d);
        const subject = domainSubject(d);
        for (const v of d.vcpus) add(`${key}/vcpu:${v.vcpu}`, { ...subject, vcpu: v.vcpu }, v[field]);
      }
      break;
    }
  }
  return out;
}
