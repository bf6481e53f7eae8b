package io.machinery.broker.gcppubsub;

import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.util.UUID;

/** Test wiring: a project of its own per test class on the pstest fake, and brokers that create what they need. */
final class PubSubTestSupport {
  private PubSubTestSupport() {}

  /** A fresh project name, so classes running side by side on one server never share a subscription. */
  static String project() {
    return "machinery-test-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** {@code base} pointing at {@code gcppubsub://project/<default queue>} (subscription named like the topic). */
  static Config config(Config base, String project) {
    return base.toBuilder().broker("gcppubsub://" + project + "/" + base.defaultQueue() + "_sub").build();
  }

  static GcpPubSubBroker.Builder broker(Config config) {
    return GcpPubSubBroker.builder(config).emulatorHost(TestEndpoints.pubsubEmulatorHost()).createMissing(true)
        .ackDeadline(java.time.Duration.ofSeconds(10));
  }
}
