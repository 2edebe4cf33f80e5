/** Alert configs report errors like every config file: see src/config/errors.ts. */
export { ConfigError, formatIssue, type ConfigIssue } from "../config/errors.js";
