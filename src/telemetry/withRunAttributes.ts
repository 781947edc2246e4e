import type { ResourceMetrics } from "@opentelemetry/sdk-metrics";
import type { AttributeRecord } from "./runAttributes.js";

/**
 * `resourceMetrics` with the run's attributes added to every data point (the point's own win on a
 * clash). The run's attributes (operation, provider, model, server) are the same for every request
 * of a run, so the recorder records without them and they are added here, once per export or
 * scrape: the SDK hashes a data point's attributes on every record call, and five constant ones
 * made each call cost several times what it costs with the one or two that vary. The exported data
 * points are the same as if every call had carried them. Copies the metric and point objects it
 * changes; the values are shared.
 */
export function withRunAttributes(resourceMetrics: ResourceMetrics, run: AttributeRecord): ResourceMetrics {
  return {
    ...resourceMetrics,
    scopeMetrics: resourceMetrics.scopeMetrics.map((scope) => ({
      ...scope,
      metrics: scope.metrics.map(
        (metric) =>
          ({
            ...metric,
            dataPoints: metric.dataPoints.map((point) => ({
              ...point,
              attributes: { ...run, ...point.attributes },
            })),
          }) as typeof metric,
      ),
    })),
  };
}
