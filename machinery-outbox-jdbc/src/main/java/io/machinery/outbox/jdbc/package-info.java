/**
 * Transactional enqueue over JDBC: {@link io.machinery.outbox.jdbc.TaskOutbox} writes tasks into an
 * outbox table inside the caller's transaction, {@link io.machinery.outbox.jdbc.OutboxRelay}
 * publishes the committed rows.
 */
@NullMarked
package io.machinery.outbox.jdbc;

import org.jspecify.annotations.NullMarked;
