package io.machinery.broker.gcppubsub;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceSuite;
import java.time.Clock;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Go's integration scenarios on the Pub/Sub broker with results kept in this JVM. */
class GcpPubSubMemoryAcceptanceIT extends AcceptanceSuite {
  @RegisterExtension static final PubSubTestProject pubsub = new PubSubTestProject();

  @Override
  protected Broker createBroker(Config config) {
    return pubsub.broker(config);
  }

  /**
   * Pub/Sub hands a message to any of the subscription's streams, not to its subscribers in turn.
   */
  @Override
  protected int deliveriesToReachTheOtherWorker() {
    return 10;
  }

  @Override
  protected Backend createBackend(Config config) {
    return MemoryBackend.create(config, Clock.systemUTC());
  }
}
