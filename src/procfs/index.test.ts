import { describe, expect, it } from "vitest";
import { fixtureBytes, fixtureText } from "../../test/unit/procfs/fixture.js";
import * as procfs from "./index.js";

describe("procfs index", () => {
  it("exports every parser", () => {
    for (const name of [
      "ProcParseError",
      "U64_MAX",
      "parseSchedstat",
      "parseSchedstatBytes",
      "parseStat",
      "parseComm",
      "vcpuIndexFromComm",
      "parseStatus",
      "parseCpuList",
      "formatCpuList",
      "parseCgroup",
      "cpuCgroupPath",
      "parseCmdline",
      "parseCpuStat",
      "parseSched",
      "parseCgroupMounts",
      "parseMeminfo",
      "parseCfsQuotaV1",
      "parseCpuMax",
      "quotaCores",
    ]) {
      expect(procfs, name).toHaveProperty(name);
    }
  });

  it("reads one vCPU of the fixture QEMU end to end", () => {
    const task = "proc/4605/task/4611";
    const comm = procfs.parseComm(fixtureText(`${task}/comm`), "comm");
    const bytes = fixtureBytes(`${task}/schedstat`);
    const cg = procfs.cpuCgroupPath(procfs.parseCgroup(fixtureText(`${task}/cgroup`), "cgroup"));
    const cpu = procfs.parseCpuStat(fixtureText(`cgroup/v1${cg?.path ?? ""}/cpu.stat`), "cpu.stat");
    expect({
      vcpu: procfs.vcpuIndexFromComm(comm),
      delay: procfs.parseSchedstatBytes(bytes, bytes.length, "schedstat").delay,
      throttled: cpu.throttledNs,
      wait: procfs.parseSched(fixtureText(`${task}/sched`), "sched").waitSumNs,
    }).toEqual({ vcpu: 0, delay: 15900302n, throttled: 0n, wait: null });
  });
});
