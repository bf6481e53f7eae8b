package io.machinery.broker.gcppubsub;

import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A Pub/Sub project of its own for a test class on the pstest fake, deleted with everything in it
 * after the class (pstest runs every subscription's delivery loop every 10 ms under one lock, so
 * leftovers slow every later test down). Registered in a static field: {@code @RegisterExtension
 * static final PubSubTestProject pubsub = new PubSubTestProject();}; a suite's {@code createBroker}
 * is then {@code return pubsub.broker(config);}.
 */
final class PubSubTestProject implements AfterAllCallback {
  private final String name = PubSubProjects.name("machinery-test");

  /** The project's name. */
  String name() {
    return name;
  }

  /**
   * A broker in this project for {@code config}'s default queue, built as {@link
   * PubSubProjects#broker} builds it (it creates what it needs).
   */
  GcpPubSubBroker broker(Config config) {
    return PubSubProjects.broker(PubSubTestSupport.config(config, name)).build();
  }

  /** The base config of the suites that keep results in the test Redis. */
  static Config redisResults() {
    return Config.builder().resultBackend(TestEndpoints.redisUrl()).build();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    PubSubProjects.delete(name);
  }
}
