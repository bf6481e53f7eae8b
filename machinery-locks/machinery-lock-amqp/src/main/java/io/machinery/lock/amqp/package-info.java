/**
 * The lock kept in RabbitMQ that fires each periodic task once per tick across the servers of an
 * AMQP-only deployment. Start at {@link io.machinery.lock.amqp.AmqpLock}.
 */
@NullMarked
package io.machinery.lock.amqp;

import org.jspecify.annotations.NullMarked;
