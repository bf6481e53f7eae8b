package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.MigratingBroker;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;

/**
 * The browser scenario on RabbitMQ: an AMQP broker (sizes from queue.declare-passive, pending tasks
 * peeked without consuming, delayed ones found in Go's delay queues through the management API)
 * with a Redis result backend, whose control plane lists the workers and keeps the pauses. The
 * exchange is this test's own, so the overview's binding listing stays small on the shared
 * RabbitMQ, and the queue is its binding key, so no other test's tasks reach it.
 */
class DashboardAmqpBrowserIT extends DashboardBrowserScenario {
  private static final String EXCHANGE = "machinery_dashboard_it";

  /** This test's exchange, the queue as its binding key, and the given result backend. */
  private static Config config(String queue, String backendUrl) {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(backendUrl)
        .defaultQueue(queue)
        .amqp(AmqpConfig.builder().exchange(EXCHANGE).bindingKey(queue).build())
        .build();
  }

  @Override
  Deployment deploy(String queue) {
    Config config = config(queue, TestEndpoints.redisUrl());
    AmqpBroker broker = AmqpBroker.create(config);
    RedisBackend backend = RedisBackend.create(config);
    return new Deployment(
        Server.builder().config(config).broker(broker).backend(backend).build(),
        List.of(broker, backend));
  }

  /**
   * A move from Redis to RabbitMQ: the overview shows each broker's rows of the queue apart (the
   * tasks a process not yet moved sent to Redis, the one a moved process sent to RabbitMQ) and what
   * the old broker still holds.
   */
  @Test
  void duringAMoveFromRedisTheOverviewShowsEachBrokersQueueApart() throws Exception {
    Config redisConfig =
        Config.builder()
            .broker(TestEndpoints.redisUrl())
            .resultBackend(TestEndpoints.redisUrl())
            .defaultQueue(queue)
            .build();
    Config amqpConfig = config(queue, TestEndpoints.redisUrl());
    try (MigratingBroker moving =
            MigratingBroker.of(RedisBroker.create(redisConfig), AmqpBroker.create(amqpConfig));
        RedisBackend backend = RedisBackend.create(amqpConfig);
        Server moved = Server.builder().config(amqpConfig).broker(moving).backend(backend).build();
        Dashboard movingDashboard = Dashboard.builder(moved).port(0).build().start()) {
      try (Server notYetMoved =
          Server.builder().config(redisConfig).broker(moving.from()).backend(backend).build()) {
        notYetMoved.sendTask(Signature.create("resize", Arg.of(1L)));
        notYetMoved.sendTask(Signature.create("resize", Arg.of(2L)));
      }
      moved.sendTask(Signature.create("resize", Arg.of(3L)));
      browser.open(movingDashboard.uri().toString());
      String row = "#migration tr[data-queue='" + queue + "']";
      browser.waitForText(By.cssSelector(row + "[data-broker='old'] td:nth-child(3)"), "2");
      browser.waitForText(By.cssSelector(row + "[data-broker='new'] td:nth-child(3)"), "1");
      assertThat(browser.waitFor(By.id("migration-status")).getText())
          .startsWith("The old broker still holds");
      moving.inspector().orElseThrow().purge(queue); // both brokers' copies of the queue
    }
  }

  /**
   * An AMQP-only deployment: the AMQP backend's control plane keeps revocations (its ledger in
   * RabbitMQ), so a waiting task is cancelled from its page and stored FAILURE {@code cancelled};
   * its history needs task events, which that plane does not keep, and says so.
   */
  @Test
  void onAnAmqpOnlyDeploymentAWaitingTaskIsCancelledFromItsPage() throws Exception {
    Config config = config(queue, TestEndpoints.amqpUrl());
    try (AmqpBroker broker = AmqpBroker.create(config);
        AmqpBackend backend =
            AmqpBackend.builder(config).managementUrl(TestEndpoints.rabbitManagementUrl()).build();
        Server amqpOnly = Server.builder().config(config).broker(broker).backend(backend).build();
        Dashboard amqpDashboard =
            Dashboard.builder(amqpOnly).port(0).token(TOKEN).build().start()) {
      String uuid = amqpOnly.sendTask(Signature.create("resize", Arg.of(1L))).taskUuid();
      browser.open(amqpDashboard.uri() + "#/task/" + uuid + "?queue=" + queue);
      browser.waitFor(By.id("token")).sendKeys(TOKEN);
      browser.waitForText(By.id("task-location"), "PENDING");
      assertThat(browser.driver.findElement(By.id("task-history")).getText())
          .contains("keeps no task events");
      String question = browser.clickAndConfirm(By.cssSelector("#cancel[data-action='cancel']"));
      assertThat(question).contains(uuid);
      browser.waitForText(By.id("flash"), "cancel " + queue + ": done (1)");
      assertThat(backend.controlPlane().orElseThrow().revoked()).contains(uuid);
      // the page reads no state here (reading one takes it away): the backend's, PENDING then
      await()
          .atMost(Browser.PATIENCE)
          .until(
              () ->
                  backend
                      .getState(uuid)
                      .filter(s -> s.state() == State.FAILURE)
                      .map(s -> s.error().equals(Server.CANCELLED_ERROR))
                      .orElse(false));
    }
  }
}
