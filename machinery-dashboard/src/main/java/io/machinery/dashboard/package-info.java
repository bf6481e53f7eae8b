/**
 * An embeddable web dashboard over {@link io.machinery.Inspection}: start at {@link
 * io.machinery.dashboard.Dashboard}.
 */
@NullMarked
package io.machinery.dashboard;

import org.jspecify.annotations.NullMarked;
