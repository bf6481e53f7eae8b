package io.machinery.backend.amqp;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the AMQP result backend (amqp://, amqps://) for {@code Machinery.connect}: {@link
 * AmqpBackend#create(Config)}. Handed to {@code Machinery.connect} as {@link
 * AmqpBackend#provider()}.
 */
final class AmqpBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("amqp", "amqps");

  static final AmqpBackendProvider INSTANCE = new AmqpBackendProvider();

  private AmqpBackendProvider() {}

  @Override
  public Kind kind() {
    return Kind.BACKEND;
  }

  @Override
  public String module() {
    return "machinery-backend-amqp";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Backend backend(Config config) {
    return AmqpBackend.create(config);
  }
}
