/** OpenTelemetry tracing for Machinery: {@link io.machinery.opentelemetry.MachineryTracing}. */
@NullMarked
package io.machinery.opentelemetry;

import org.jspecify.annotations.NullMarked;
