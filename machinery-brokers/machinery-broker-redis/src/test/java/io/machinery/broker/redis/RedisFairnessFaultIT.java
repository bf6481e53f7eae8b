package io.machinery.broker.redis;

import io.machinery.config.Config;
import io.machinery.spi.Broker;

/**
 * The fault suite on Redis with priorities and fairness on: the fetch's sort window reads every
 * random message at the queue's head (and decodes those that name a fairness key), so hostile and
 * malformed messages go through it too.
 */
class RedisFairnessFaultIT extends RedisFaultIT {
  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.builder(config).priorities(true).fairness(true).build();
  }
}
