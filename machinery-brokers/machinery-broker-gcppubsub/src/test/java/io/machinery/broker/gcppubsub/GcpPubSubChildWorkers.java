package io.machinery.broker.gcppubsub;

import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.ChildWorkerDeployment;
import io.machinery.testkit.TestEndpoints;
import java.nio.file.Path;

/**
 * Pub/Sub broker on the emulator (a project of the test's own), Redis backend, {@link
 * ChildWorkerMain} at concurrency 10 in the child JVMs.
 */
final class GcpPubSubChildWorkers implements ChildWorkerDeployment {
  private final String project;

  /** The children's ack deadline in seconds; empty: the broker's default. */
  private final String ackDeadlineSeconds;

  GcpPubSubChildWorkers(String project) {
    this(project, "");
  }

  private GcpPubSubChildWorkers(String project, String ackDeadlineSeconds) {
    this.project = project;
    this.ackDeadlineSeconds = ackDeadlineSeconds;
  }

  /** The same deployment whose children extend ack deadlines to {@code seconds} (10 at least). */
  GcpPubSubChildWorkers withAckDeadline(int seconds) {
    return new GcpPubSubChildWorkers(project, Integer.toString(seconds));
  }

  /** The broker URL names the subscription after the queue. */
  @Override
  public Config uniqueConfig(String queuePrefix) {
    return PubSubTestSupport.config(
        BrokerContract.uniqueQueue(
            Config.builder().resultBackend(TestEndpoints.redisUrl()).build(), queuePrefix),
        project);
  }

  @Override
  public Broker createBroker(Config config) {
    return PubSubProjects.broker(config).build();
  }

  @Override
  public Backend createBackend(Config config) {
    return RedisBackend.create(config);
  }

  @Override
  public Class<?> childMain() {
    return ChildWorkerMain.class;
  }

  /** Deletes the project: the emulator slows down with every subscription left over. */
  @Override
  public void cleanUp(Config config) throws Exception {
    PubSubProjects.delete(project);
  }

  @Override
  public String[] childArgs(Config config, Path executions) {
    return new String[] {
      TestEndpoints.pubsubEmulatorHost(),
      config.broker(),
      config.defaultQueue(),
      config.resultBackend(),
      "10",
      executions.toString(),
      ackDeadlineSeconds
    };
  }
}
