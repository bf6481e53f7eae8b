package io.machinery.broker.amqp;

import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.CloseAfterEach;
import io.machinery.testkit.TestEndpoints;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What an AMQP broker integration test sets up and must tear down, as one JUnit extension: a queue
 * of its own (a unique name, deleted after the class with every queue {@link RabbitAdmin#track}ed),
 * a {@link RabbitAdmin} connection, and the brokers it builds (closed after each test, newest
 * first, by {@link CloseAfterEach}).
 *
 * <p>Registered in a static field, so it also runs after the class: {@code @RegisterExtension
 * static final AmqpTestResources rabbit = new AmqpTestResources();}. Not for tests run in parallel
 * within a class.
 */
final class AmqpTestResources extends CloseAfterEach implements AfterAllCallback {
  private @Nullable RabbitAdmin admin;

  /** RabbitMQ as broker and result backend, on a queue of its own (not declared yet). */
  Config queue(String prefix) {
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder()
                .broker(TestEndpoints.amqpUrl())
                .resultBackend(TestEndpoints.amqpUrl())
                .build(),
            prefix);
    RabbitAdmin.track(config.defaultQueue());
    return config;
  }

  /** The test's connection to RabbitMQ beside the code under test, closed after the test. */
  RabbitAdmin admin() throws Exception {
    RabbitAdmin a = admin;
    if (a == null) {
      a = closeLater(RabbitAdmin.connect());
      admin = a;
    }
    return a;
  }

  /** A broker on {@code config}, closed after the test. */
  AmqpBroker broker(Config config) {
    return closeLater(AmqpBroker.create(config));
  }

  @Override
  public void afterEach(ExtensionContext context) {
    admin = null; // closed with the test's other resources; the next test connects again
    super.afterEach(context);
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    RabbitAdmin.deleteTracked();
  }
}
