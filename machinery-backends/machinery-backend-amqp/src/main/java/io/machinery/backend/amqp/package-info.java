/** Go Machinery's AMQP result backend: {@link io.machinery.backend.amqp.AmqpBackend}. */
@NullMarked
package io.machinery.backend.amqp;

import org.jspecify.annotations.NullMarked;
