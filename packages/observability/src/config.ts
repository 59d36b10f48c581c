import { fields, z } from '@saldo/config';

/**
 * The standard OpenTelemetry variables Saldo reads (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/):
 * tracing is on when an OTLP endpoint is set, off otherwise. Every service's config schema spreads these in.
 */
export const observabilityConfigFields = {
  OTEL_SDK_DISABLED: fields.boolean(false),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  /** `key=value,key2=value2` (e.g. an authorization header for a hosted collector). */
  OTEL_EXPORTER_OTLP_HEADERS: z
    .string()
    .default('')
    .transform((value) =>
      Object.fromEntries(
        value
          .split(',')
          .map((pair) => pair.trim())
          .filter((pair) => pair.includes('='))
          .map((pair) => [decodeURIComponent(pair.slice(0, pair.indexOf('=')).trim()), decodeURIComponent(pair.slice(pair.indexOf('=') + 1).trim())]),
      ),
    ),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none']).default('otlp'),
  /**
   * The standard sampler names. Default `parentbased_traceidratio` with OTEL_TRACES_SAMPLER_ARG (default 1): every trace
   * when nothing is set (as the spec's `parentbased_always_on`), and OTEL_TRACES_SAMPLER_ARG alone keeps working. The
   * production setting docker-compose.yml uses is `parentbased_traceidratio` at 0.1 (docs/decisions/0026-observability.md).
   */
  OTEL_TRACES_SAMPLER: z
    .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
    .default('parentbased_traceidratio'),
  /** Share of new traces recorded by the ratio samplers (requests arriving with a parent follow its decision). */
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
};

export const observabilityConfigSchema = z.object(observabilityConfigFields);
export type ObservabilityConfig = z.output<typeof observabilityConfigSchema>;
