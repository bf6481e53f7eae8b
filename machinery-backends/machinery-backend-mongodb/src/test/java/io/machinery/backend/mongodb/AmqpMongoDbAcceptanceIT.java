package io.machinery.backend.mongodb;

import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.AfterEach;

/** Go's integration scenarios on the AMQP broker with results in MongoDB. */
class AmqpMongoDbAcceptanceIT extends AcceptanceSuite {
  @Override
  protected Config baseConfig() {
    return Config.builder().broker(TestEndpoints.amqpUrl()).resultBackend(TestEndpoints.mongodbUri()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return AmqpBroker.create(config);
  }

  @Override
  protected Backend createBackend(Config config) {
    return MongoDbBackend.create(config);
  }

  @AfterEach
  void deleteTheTestQueue() throws Exception {
    TestQueues.deleteAmqpQueue(config.defaultQueue());
  }
}
