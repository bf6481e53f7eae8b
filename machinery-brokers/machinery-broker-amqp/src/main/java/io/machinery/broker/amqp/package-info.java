/** Go Machinery's AMQP (RabbitMQ) broker: {@link io.machinery.broker.amqp.AmqpBroker}. */
@NullMarked
package io.machinery.broker.amqp;

import org.jspecify.annotations.NullMarked;
