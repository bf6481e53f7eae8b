package io.machinery.broker.amqp;

import io.machinery.config.Config;
import io.machinery.testkit.PausedWorkerKit;

/**
 * {@link PausedWorkerKit} on the AMQP broker with the Redis backend (the AMQP backend's reads
 * consume states): with heartbeats of 3 s, RabbitMQ closes the paused worker's connection after
 * about 6 s of silence and redelivers its message to the other worker; the paused one, resumed,
 * finds its channel gone ({@link AmqpDelivery#stillHeld()}) and records nothing.
 */
class AmqpRedisPausedWorkerIT extends PausedWorkerKit {
  AmqpRedisPausedWorkerIT() {
    super(AmqpChildWorkers.withRedisBackend());
  }

  @Override
  protected Config withShortHolds(Config config) {
    String url = config.broker();
    return config.toBuilder().broker(url + (url.contains("?") ? "&" : "?") + "heartbeat=3").build();
  }
}
