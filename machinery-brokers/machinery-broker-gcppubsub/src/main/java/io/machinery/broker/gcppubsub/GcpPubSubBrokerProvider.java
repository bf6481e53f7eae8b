package io.machinery.broker.gcppubsub;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the Pub/Sub broker (gcppubsub://PROJECT/SUBSCRIPTION) for {@code Machinery.connect}: {@link
 * GcpPubSubBroker#create(Config)}. Handed to {@code Machinery.connect} as {@link
 * GcpPubSubBroker#provider()}.
 */
final class GcpPubSubBrokerProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("gcppubsub");

  static final GcpPubSubBrokerProvider INSTANCE = new GcpPubSubBrokerProvider();

  private GcpPubSubBrokerProvider() {}

  @Override
  public Kind kind() {
    return Kind.BROKER;
  }

  @Override
  public String module() {
    return "machinery-broker-gcppubsub";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Broker broker(Config config) {
    return GcpPubSubBroker.create(config);
  }
}
