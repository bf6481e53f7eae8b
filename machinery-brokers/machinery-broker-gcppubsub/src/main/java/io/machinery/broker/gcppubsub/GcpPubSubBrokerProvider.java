package io.machinery.broker.gcppubsub;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the Pub/Sub broker (gcppubsub://PROJECT/SUBSCRIPTION) for {@link
 * io.machinery.Machinery#connect(Config)}: {@link GcpPubSubBroker#create(Config)}. Listed in {@code
 * META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class GcpPubSubBrokerProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("gcppubsub");

  /** For {@link java.util.ServiceLoader}. */
  public GcpPubSubBrokerProvider() {}

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
