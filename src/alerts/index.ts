export { AlertEngine, type AlertEngineOptions } from "./engine.js";
export { loadAlertConfig, parseAlertConfig, type LoadOptions } from "./config.js";
export { ConfigError, type ConfigIssue } from "./errors.js";
export { parseDuration, formatDuration } from "./duration.js";
export {
  ALERT_METRICS,
  ALERT_METRIC_NAMES,
  ALERT_SEVERITIES,
  DEFAULT_RULES,
  WEBHOOK_DEFAULTS,
  defaultClearThreshold,
  type AlertMetric,
  type AlertOp,
  type AlertRule,
  type AlertScope,
  type AlertSeverity,
  type Webhook,
} from "./rules.js";
export {
  Notifier,
  backoffDelay,
  type FetchLike,
  type LogWriter,
  type NotifierOptions,
  type NotifierStats,
  type WebhookRequest,
  type WebhookResponse,
} from "./notifier.js";
export type { ActiveAlert, AlertEvent, AlertEventState, AlertInput, AlertSubject, HostInput } from "./types.js";
