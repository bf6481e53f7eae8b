package io.machinery.broker.amqp;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the AMQP broker (amqp://, amqps://) for {@link io.machinery.Machinery#connect(Config)}:
 * {@link AmqpBroker#create(Config)}. Listed in {@code
 * META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class AmqpBrokerProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("amqp", "amqps");

  /** For {@link java.util.ServiceLoader}. */
  public AmqpBrokerProvider() {}

  @Override
  public Kind kind() {
    return Kind.BROKER;
  }

  @Override
  public String module() {
    return "machinery-broker-amqp";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Broker broker(Config config) {
    return AmqpBroker.create(config);
  }
}
