export {
  History,
  type HistoryOptions,
  SNAPSHOT_FILE,
  JOURNAL_FILE,
  BUCKET_S,
  BUCKET_SLOTS,
  RETENTION_S,
  DEFAULT_MAX_SERIES,
} from "./history.js";
export type { HistoryIo } from "./io.js";
export { NO_DATA, Q_SCALE, quantize, dequantize } from "./quantize.js";
export type * from "./types.js";
