/**
 * Durations in alert rules: the one duration syntax of vsteal (src/util/duration.ts). Kept
 * for the names the alert code and its tests use.
 */
export { formatDuration, parsePromDuration as parseDuration } from "../util/duration.js";
