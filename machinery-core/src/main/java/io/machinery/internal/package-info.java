/**
 * Implementation details of Machinery modules, not API: Go's JSON rules ({@code GoJson}), Go type
 * names and conversions ({@code GoTypes}, {@code Coercion}), Go durations and times ({@code
 * GoDurations}, {@code GoTime}), the retry back-off ({@code Fibonacci}) and error texts ({@code
 * Causes}). Public only so that other Machinery modules can share them instead of copying; they
 * change without notice, and the Javadoc leaves them out. Applications should not use them.
 */
@NullMarked
package io.machinery.internal;

import org.jspecify.annotations.NullMarked;
