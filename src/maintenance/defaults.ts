/** Where `vsteal drain` and `vsteal controller` keep which hosts are drained, unless told otherwise. */
export const DEFAULT_MAINTENANCE_FILE = "/var/lib/vsteal/maintenance.json";
