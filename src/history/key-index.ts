/**
 * A map keyed by (domain, uuid, vCPU) without building a key string per lookup: the hot
 * path looks up 2,000 vCPUs per sample, and hashing a fresh concatenated string for each
 * costs more than everything else recording does.
 */
export class KeyIndex<T> {
  private readonly m = new Map<string, Map<string, Map<number, T>>>();

  get(domain: string, uuid: string | null, vcpu: number): T | undefined {
    return this.m
      .get(domain)
      ?.get(uuid ?? "")
      ?.get(vcpu);
  }

  set(domain: string, uuid: string | null, vcpu: number, value: T): void {
    let byUuid = this.m.get(domain);
    if (byUuid === undefined) this.m.set(domain, (byUuid = new Map()));
    let byVcpu = byUuid.get(uuid ?? "");
    if (byVcpu === undefined) byUuid.set(uuid ?? "", (byVcpu = new Map()));
    byVcpu.set(vcpu, value);
  }

  delete(domain: string, uuid: string | null, vcpu: number): void {
    const byUuid = this.m.get(domain);
    const byVcpu = byUuid?.get(uuid ?? "");
    if (byUuid === undefined || byVcpu === undefined) return;
    byVcpu.delete(vcpu);
    if (byVcpu.size === 0) byUuid.delete(uuid ?? "");
    if (byUuid.size === 0) this.m.delete(domain);
  }
}
