/**
 * The Prometheus HTTP API's JSON answers (/api/v1/query, /api/v1/query_range), as Prometheus,
 * Thanos Query and VictoriaMetrics give them. Only the standard fields are required; extra
 * fields (VictoriaMetrics' `stats`, `isPartial`, Prometheus' `infos`) are kept, not refused.
 */
import { z } from "zod";

/** A sample value: a float as a string ("1.5", "NaN", "+Inf", "-Inf"). */
const sampleValue = z.string();
/** [unix seconds (float), value]. */
export const samplePair = z.tuple([z.number(), sampleValue]);

const labels = z.record(z.string(), z.string());

export const vectorResult = z.object({
  resultType: z.literal("vector"),
  result: z.array(z.looseObject({ metric: labels, value: samplePair })),
});
export const matrixResult = z.object({
  resultType: z.literal("matrix"),
  result: z.array(z.looseObject({ metric: labels, values: z.array(samplePair) })),
});
export const scalarResult = z.object({ resultType: z.literal("scalar"), result: samplePair });
export const stringResult = z.object({ resultType: z.literal("string"), result: samplePair });

export const queryData = z.discriminatedUnion("resultType", [vectorResult, matrixResult, scalarResult, stringResult]);

export const successBody = z.looseObject({
  status: z.literal("success"),
  data: queryData,
  warnings: z.array(z.string()).optional(),
  infos: z.array(z.string()).optional(),
  /** VictoriaMetrics cluster: some storage nodes did not answer. */
  isPartial: z.boolean().optional(),
});

export const errorBody = z.looseObject({
  status: z.literal("error"),
  errorType: z.string(),
  error: z.string(),
  warnings: z.array(z.string()).optional(),
});

export const responseBody = z.discriminatedUnion("status", [successBody, errorBody]);

export type QueryData = z.infer<typeof queryData>;
export type SuccessBody = z.infer<typeof successBody>;
export type ResponseBody = z.infer<typeof responseBody>;
