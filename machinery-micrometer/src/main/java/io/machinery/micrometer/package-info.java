/** Micrometer metrics for Machinery: {@link io.machinery.micrometer.MachineryMetrics}. */
@NullMarked
package io.machinery.micrometer;

import org.jspecify.annotations.NullMarked;
