package io.machinery.broker.sqs;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the SQS broker: Go's account URL https://sqs.REGION.amazonaws.com/ACCOUNT, or
 * http(s)://host:port/ACCOUNT of an endpoint such as ElasticMQ (no other broker takes http URLs)
 * for {@link io.machinery.Machinery#connect(Config)}: {@link SqsBroker#create(Config)}. Listed in
 * {@code META-INF/services/io.machinery.spi.ComponentProvider}; public only because {@link
 * java.util.ServiceLoader} needs it.
 */
public final class SqsBrokerProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("https", "http");

  /** For {@link java.util.ServiceLoader}. */
  public SqsBrokerProvider() {}

  @Override
  public Kind kind() {
    return Kind.BROKER;
  }

  @Override
  public String module() {
    return "machinery-broker-sqs";
  }

  @Override
  public Set<String> schemes() {
    return SCHEMES;
  }

  @Override
  public Broker broker(Config config) {
    return SqsBroker.create(config);
  }
}
