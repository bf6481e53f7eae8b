package io.machinery.backend.mongodb;

import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import io.machinery.testkit.TestEndpoints;
import java.util.Map;

/** Go's integration scenarios on the AMQP broker with results in MongoDB. */
class AmqpMongoDbAcceptanceIT extends AcceptanceSuite {
  @Override
  protected Config baseConfig() {
    // each test's uniquely named queue removes itself from the shared RabbitMQ 10 minutes after its
    // last use
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.mongodbUri())
        .amqp(AmqpConfig.DEFAULT.withQueueDeclareArgs(Map.of("x-expires", 600_000)))
        .build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return AmqpBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return MongoDbBackend.create(config);
  }
}
