package io.machinery.lock.amqp;

import io.machinery.config.Config;
import io.machinery.spi.ComponentProvider;
import io.machinery.spi.Lock;
import java.util.Set;

/**
 * Makes the AMQP lock (amqp://, amqps://) for {@code Machinery.connect}: {@link
 * AmqpLock#create(Config)}. Handed to {@code Machinery.connect} as {@link AmqpLock#provider()}.
 */
final class AmqpLockProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("amqp", "amqps");

  static final AmqpLockProvider INSTANCE = new AmqpLockProvider();

  private AmqpLockProvider() {}

  @Override
  public Kind kind() {
    return Kind.LOCK;
  }

  @Override
  public String module() {
    return "machinery-lock-amqp";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Lock lock(Config config) {
    return AmqpLock.create(config);
  }
}
