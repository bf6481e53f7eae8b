package io.machinery.broker.sqs;

import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.ComponentProvider;
import java.util.Set;

/**
 * Makes the SQS broker: Go's account URL https://sqs.REGION.amazonaws.com/ACCOUNT, or
 * http(s)://host:port/ACCOUNT of an endpoint such as ElasticMQ (no other broker takes http URLs)
 * for {@code Machinery.connect}: {@link SqsBroker#create(Config)}. Handed to {@code
 * Machinery.connect} as {@link SqsBroker#provider()}.
 */
final class SqsBrokerProvider implements ComponentProvider {
  private static final Set<String> SCHEMES = Set.of("https", "http");

  static final SqsBrokerProvider INSTANCE = new SqsBrokerProvider();

  private SqsBrokerProvider() {}

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
