package io.machinery.broker.amqp;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the AMQP broker (amqp://, amqps://) for {@code Machinery.connect}: {@link
 * AmqpBroker#create(Config)}. Handed to {@code Machinery.connect} as {@link AmqpBroker#provider()}.
 */
final class AmqpBrokerProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("amqp", "amqps");

  static final AmqpBrokerProvider INSTANCE = new AmqpBrokerProvider();

  private AmqpBrokerProvider() {}

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
