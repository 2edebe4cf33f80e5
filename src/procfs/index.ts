/**
 * Pure parsers for the /proc and cgroupfs files vsteal reads, one file each, in the manner of
 * prometheus/procfs. No I/O: callers read the bytes and pass the path for error messages.
 * Every parser fails only with a {@link ProcParseError}.
 */
export { ProcParseError } from "./errors.js";
export { U64_MAX } from "./u64.js";
export * from "./schedstat.js";
export * from "./stat.js";
export * from "./comm.js";
export * from "./status.js";
export * from "./cgroup.js";
export * from "./cmdline.js";
export * from "./cpustat.js";
export * from "./sched.js";
export * from "./mountinfo.js";
export * from "./meminfo.js";
export * from "./cpuquota.js";
