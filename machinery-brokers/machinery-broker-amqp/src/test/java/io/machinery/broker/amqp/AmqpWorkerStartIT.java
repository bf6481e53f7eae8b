package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.ConsumerRefusedException;
import io.machinery.Server;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * A worker whose queue RabbitMQ refuses for good fails its launch at once, where a start that may
 * mend is tried again (the Redis broker's {@code RedisWorkerStartIT}, core's {@code
 * WorkerStartTest}).
 */
class AmqpWorkerStartIT {
  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  @Test
  void aQueueDeclaredBeforeWithOtherArgumentsFailsTheLaunchAtOnce() throws Exception {
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(TestEndpoints.amqpUrl()).build(), "start_refused_");
    RabbitAdmin.track(config.defaultQueue());
    try (RabbitAdmin admin = RabbitAdmin.connect()) {
      admin.with(
          ch ->
              ch.queueDeclare(
                  config.defaultQueue(), true, false, false, Map.of("x-max-length", 5)));
    }
    try (AmqpBroker broker = AmqpBroker.create(config);
        Server server = Server.builder().config(config).broker(broker).build()) {
      Worker worker = server.workerBuilder("start_refused").build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(done).as("the launch, at once").isCompletedExceptionally();
      assertThatThrownBy(done::join)
          .hasCauseInstanceOf(ConsumerRefusedException.class)
          .hasMessageContaining("PRECONDITION_FAILED");
      assertThat(worker.isRunning()).isFalse();
    }
  }
}
