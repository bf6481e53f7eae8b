/**
 * Implementation details of the JDBC outbox, not API: the table's statements ({@code OutboxTable}),
 * one relay pass ({@code RelayPass}), how its claim finds senders ({@code ClaimTuning}) and the
 * back-off ({@code Backoff}). Public only so that the benchmarks module can run real relay passes
 * with another claim beside the relay's; they change without notice, and the Javadoc leaves them
 * out. Applications use {@link io.machinery.outbox.jdbc.TaskOutbox} and {@link
 * io.machinery.outbox.jdbc.OutboxRelay}.
 */
@NullMarked
package io.machinery.outbox.jdbc.internal;

import org.jspecify.annotations.NullMarked;
