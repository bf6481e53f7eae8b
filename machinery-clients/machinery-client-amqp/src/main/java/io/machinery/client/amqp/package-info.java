/**
 * AMQP wiring shared by the AMQP broker and result backend: Go-compatible URL parsing ({@link
 * io.machinery.client.amqp.AmqpUrl}) and a reconnecting connection with a confirming publisher
 * ({@link io.machinery.client.amqp.AmqpClient}). Applications use {@code machinery-broker-amqp} and
 * {@code machinery-backend-amqp}; this module is their plumbing.
 */
@NullMarked
package io.machinery.client.amqp;

import org.jspecify.annotations.NullMarked;
