package io.machinery.backend.amqp;

import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the AMQP result backend (amqp://, amqps://) for {@link
 * io.machinery.Machinery#connect(Config)}: {@link AmqpBackend#create(Config)}. Listed in {@code
 * META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class AmqpBackendProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("amqp", "amqps");

  /** For {@link java.util.ServiceLoader}. */
  public AmqpBackendProvider() {}

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
