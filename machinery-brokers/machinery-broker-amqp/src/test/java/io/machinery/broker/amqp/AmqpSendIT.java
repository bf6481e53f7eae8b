package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskState;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Sending on RabbitMQ without one wait per message: {@code sendTaskAsync} and {@code sendTasks}
 * keep many publishes in flight and collect their confirms as RabbitMQ sends them; the states go to
 * a Redis backend.
 */
class AmqpSendIT {
  private Config config;
  private RabbitAdmin admin;
  private AmqpBroker broker;
  private RedisBackend backend;
  private Server server;

  @BeforeEach
  void setUp() throws Exception {
    Config base =
        Config.builder()
            .broker(TestEndpoints.amqpUrl())
            .resultBackend(TestEndpoints.redisUrl())
            .resultsExpireIn(300)
            .build();
    config = BrokerContract.uniqueQueue(base, "amqp_send_it_");
    RabbitAdmin.track(config.defaultQueue());
    admin = RabbitAdmin.connect();
    broker = AmqpBroker.create(config);
    backend = RedisBackend.create(config);
    server = Server.builder().config(config).broker(broker).backend(backend).build();
  }

  @AfterEach
  void tearDown() throws Exception {
    server.close();
    broker.close();
    backend.close();
    admin.close();
  }

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  private State stored(AsyncResult result) {
    return backend.getState(result.signature().uuid()).map(TaskState::state).orElseThrow();
  }

  @Test
  void aBatchIsPublishedWithItsConfirmsCollectedTogether() throws Exception {
    List<Signature> batch = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      batch.add(Signature.create("noop"));
    }
    List<AsyncResult> results = server.sendTasks(batch);

    assertThat(results).hasSize(2_000);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> admin.messageCount(config.defaultQueue()) == 2_000);
    assertThat(stored(results.get(0))).isEqualTo(State.PENDING);
    assertThat(stored(results.get(1_999))).isEqualTo(State.PENDING);
  }

  @Test
  void asynchronousSendsFromOneThreadAllArrive() throws Exception {
    List<CompletableFuture<AsyncResult>> sent = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      sent.add(server.sendTaskAsync(Signature.create("noop")));
    }
    CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get();

    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> admin.messageCount(config.defaultQueue()) == 500);
    assertThat(stored(sent.get(499).get())).isEqualTo(State.PENDING);
  }

  @Test
  void anAsynchronousSendToADeletedQueueDeclaresItAgainAndArrives() throws Exception {
    server.sendTask(Signature.create("noop")); // the broker now remembers the queue as declared
    admin.deleteQueues(config.defaultQueue());

    server
        .sendTaskAsync(Signature.create("noop"))
        .get(); // returned unroutable, repaired, published again

    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> admin.messageCount(config.defaultQueue()) == 1);
  }

  @Test
  void anAsynchronousSendOnAClosedBrokerFailsWithGosPublishError() {
    broker.close();
    CompletableFuture<AsyncResult> sent = server.sendTaskAsync(Signature.create("noop"));
    assertThatThrownBy(sent::get)
        .isInstanceOf(ExecutionException.class)
        .cause()
        .hasMessageStartingWith("Publish message error: ");
  }

  @Test
  void aTaskDueFurtherAheadThanRabbitMqCanDelayIsRefusedAtOnceAndOneJustWithinIsDelayed()
      throws Exception {
    java.time.OffsetDateTime now = java.time.OffsetDateTime.now();
    Signature tooFar = Signature.builder("noop").eta(now.plusDays(25)).build();
    assertThatThrownBy(() -> server.sendTask(tooFar))
        .hasMessageStartingWith("Publish message error: task ")
        .hasMessageContaining("days ahead: RabbitMQ delays a message at most 2147483647 ms");
    // 24 days: a delay queue whose x-expires (2 x 24 days) RabbitMQ accepts, holding the task
    AsyncResult within = server.sendTask(Signature.builder("noop").eta(now.plusDays(24)).build());
    try {
      assertThat(stored(within)).isEqualTo(State.PENDING);
      com.fasterxml.jackson.databind.JsonNode queues =
          new com.fasterxml.jackson.databind.ObjectMapper()
              .readTree(RabbitAdmin.management("queues/%2F?columns=name,arguments,messages"));
      List<String> holding = new ArrayList<>();
      for (com.fasterxml.jackson.databind.JsonNode q : queues) {
        if (q.path("name").asText().startsWith("delay.")
            && config
                .defaultQueue()
                .equals(q.path("arguments").path("x-dead-letter-routing-key").asText())) {
          holding.add(q.path("arguments").path("x-message-ttl").asText());
        }
      }
      assertThat(holding).singleElement().asString().startsWith("20735");
    } finally {
      RabbitAdmin.deleteDelayQueuesOf(config.defaultQueue());
    }
  }
}
