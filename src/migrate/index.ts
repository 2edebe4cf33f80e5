export {
  executePlan,
  planId,
  type ExecuteOptions,
  type ExecuteResult,
  type MoveOutcome,
  type MoveResult,
  type Recheck,
  type RecheckResult,
} from "./executor.js";
export {
  virshDriver,
  migrateArgs,
  HostUnreachableError,
  type MigrationDriver,
  type DomainRef,
  type MigrationHandle,
} from "./driver.js";
export { loadMigrateHosts, migrateHosts, type HostEndpoint, type MigrateHosts } from "./hosts.js";
export { FileAuditLog, MemoryAuditLog, type AuditEntry, type AuditSink } from "./audit-log.js";
export { parseJobInfo, progressLine, fractionDone, jobActive, type JobProgress } from "./jobinfo.js";
export { snapshotRecheck } from "./recheck.js";
