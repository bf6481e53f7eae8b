package io.machinery.broker.redis;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the Redis broker (redis://, rediss://, redis+socket://, several hosts for a cluster) for
 * {@code Machinery.connect}: {@link RedisBroker#create(Config)}. Handed to {@code
 * Machinery.connect} as {@link RedisBroker#provider()}.
 */
final class RedisBrokerProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("redis", "rediss", "redis+socket");

  static final RedisBrokerProvider INSTANCE = new RedisBrokerProvider();

  private RedisBrokerProvider() {}

  @Override
  public Kind kind() {
    return Kind.BROKER;
  }

  @Override
  public String module() {
    return "machinery-broker-redis";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Broker broker(Config config) {
    return RedisBroker.create(config);
  }
}
