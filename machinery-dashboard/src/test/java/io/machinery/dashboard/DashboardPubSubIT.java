package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.gcppubsub.GcpPubSubBroker;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.slf4j.LoggerFactory;

/**
 * The dashboard on Google Cloud Pub/Sub (the emulator), whose inspector lists, purges and repairs
 * but keeps no counts ({@code countsQueues() == false}, {@code queues()} and {@code queue()}
 * throw), with the Redis backend's control plane. The overview and every queue page answered 501
 * and the sampler logged a warning every interval; each part now shows what the broker can.
 */
class DashboardPubSubIT {
  private static final String TOKEN = "s3cret-token";

  private final String project = PubSubProjects.name("machinery-dash");
  private final String queue = "dash_ps_" + UUID.randomUUID().toString().substring(0, 8);
  private final String otherQueue = queue + "_other";
  private GcpPubSubBroker broker;
  private RedisBackend backend;
  private Server server;
  private Worker worker;
  private Dashboard dashboard;
  private final ListAppender<ILoggingEvent> warnings = new ListAppender<>();
  private final Logger dashboardLog = (Logger) LoggerFactory.getLogger(Dashboard.class);

  @BeforeEach
  void deploy() {
    Config config =
        Config.builder()
            .broker("gcppubsub://" + project + "/" + queue + "_sub")
            .resultBackend(TestEndpoints.redisUrl())
            .defaultQueue(queue)
            .build();
    broker = PubSubProjects.broker(config).build();
    backend = RedisBackend.create(config);
    server = Server.builder().config(config).broker(broker).backend(backend).build();
    server.registerTask("add", TaskFunction.varargs(long[].class, n -> n[0] + n[1]));
    // A worker of another queue: the control plane names its queue, the broker cannot.
    worker =
        server
            .workerBuilder("dash-ps")
            .queue(otherQueue)
            .heartbeatInterval(Duration.ofMillis(100))
            .build();
    worker.launchAsync();
    warnings.start();
    dashboardLog.addAppender(warnings);
    dashboard =
        Dashboard.builder(server)
            .token(TOKEN)
            .port(0)
            .sampleInterval(Duration.ofMillis(100))
            .build()
            .start();
  }

  @AfterEach
  void close() throws Exception {
    dashboardLog.detachAppender(warnings);
    for (AutoCloseable c : new AutoCloseable[] {dashboard, worker, server, backend, broker}) {
      if (c != null) {
        c.close();
      }
    }
    PubSubProjects.delete(project);
  }

  /**
   * The overview answers 200 with the queues known without counting (the default queue, the
   * worker's queue) and null sizes; a queue page lists the waiting tasks and the dead letters with
   * {@code "counted": false} stats; the delayed tab, which Pub/Sub cannot list, answers 501 in the
   * dashboard's words with the broker's reason; the sampler samples the workers without asking for
   * counts, and logs nothing.
   */
  @Test
  void theOverviewAndQueuePagesShowWhatPubSubCanAndSayWhatItDoesNotCount() throws Exception {
    HttpProbe http = new HttpProbe(dashboard.address().getPort());
    String uuid = server.sendTask(Signature.create("add")).taskUuid();

    HttpProbe.Response first = http.get("/api/overview");
    assertThat(first.status()).as(new String(first.body(), StandardCharsets.UTF_8)).isEqualTo(200);
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              JsonNode o = http.json("/api/overview");
              assertThat(o.path("countsQueues").asBoolean(true)).isFalse();
              assertThat(o.path("canInspectQueues").asBoolean()).isTrue();
              assertThat(o.path("countsReason").asText())
                  .contains("keeps no counts")
                  .contains("not counted by this broker");
              assertThat(texts(o.path("queues"), "queue")).containsExactly(queue, otherQueue);
              for (JsonNode q : o.path("queues")) {
                assertThat(q.path("pending").isNull()).as("pending of %s", q).isTrue();
                assertThat(q.path("deadLettered").isNull()).isTrue();
                assertThat(q.path("counted").asBoolean(true)).isFalse();
              }
              assertThat(o.path("totals").path("queues").asInt()).isEqualTo(2);
              assertThat(o.path("totals").path("pending").isNull()).isTrue();
              assertThat(o.path("workers").asInt()).isEqualTo(1);
              JsonNode samples = o.path("samples");
              assertThat(samples.size()).isGreaterThanOrEqualTo(2);
              assertThat(samples.get(samples.size() - 1).path("pending").isNull()).isTrue();
            });

    JsonNode pending = http.json("/api/queue?name=" + queue + "&tab=pending");
    assertThat(pending.path("stats").path("counted").asBoolean(true)).isFalse();
    assertThat(pending.path("stats").path("pending").isNull()).isTrue();
    assertThat(texts(pending.path("items"), "uuid")).containsExactly(uuid);
    JsonNode dead = http.json("/api/queue?name=" + queue + "&tab=dead");
    assertThat(dead.path("items").isArray()).isTrue();

    HttpProbe.Response delayed = http.get("/api/queue?name=" + queue + "&tab=delayed");
    assertThat(delayed.status()).isEqualTo(501);
    assertThat(HttpProbe.JSON.readTree(delayed.body()).path("error").asText())
        .startsWith("Listing the delayed tasks of queue " + queue + " is not possible here")
        .contains("this broker's inspector cannot do it")
        .contains("Pub/Sub cannot list delayed tasks");

    assertThat(warnings.list)
        .as("the sampler asked for counts the broker does not keep")
        .noneMatch(e -> e.getLevel().isGreaterOrEqual(Level.WARN));
  }

  /**
   * A dead letter on Pub/Sub is listed on its queue's dead tab, but no number anywhere says it is
   * there: the dead letters of every queue share one subscription, the broker's inspector keeps no
   * counts, and the overview, the queue's stats and the sampler's samples all send null (the core
   * Inspector has no way to give dead letters a number without pending and delayed ones). Reading
   * the page does not take the dead letter away: it is still listed after the sampler ran.
   */
  @Test
  void aDeadLetterIsListedButNotCounted() throws Exception {
    HttpProbe http = new HttpProbe(dashboard.address().getPort());
    String uuid = server.sendTask(Signature.create("ghost")).taskUuid();
    try (Worker deadLettering =
        server.workerBuilder("dash-ps-dead").queue(queue).maxUnregisteredRequeues(1).build()) {
      deadLettering.launchAsync();
      await()
          .atMost(Duration.ofSeconds(45))
          .until(
              () -> http.json("/api/queue?name=" + queue + "&tab=dead").path("items"),
              items -> texts(items, "uuid").equals(List.of(uuid)));
    }
    int samplesBefore = http.json("/api/overview").path("samples").size();
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> http.json("/api/overview").path("samples").size() > samplesBefore + 2);

    JsonNode overview = http.json("/api/overview");
    assertThat(overview.path("countsQueues").asBoolean(true)).isFalse();
    JsonNode row =
        StreamSupport.stream(overview.path("queues").spliterator(), false)
            .filter(q -> q.path("queue").asText().equals(queue))
            .findFirst()
            .orElseThrow();
    assertThat(row.path("deadLettered").isNull()).as("the queue's row: %s", row).isTrue();
    assertThat(overview.path("totals").path("deadLettered").isNull()).isTrue();
    for (JsonNode sample : overview.path("samples")) {
      assertThat(sample.path("deadLettered").isNull()).as("sample %s", sample).isTrue();
      assertThat(sample.path("newDeadLetters").isNull()).isTrue();
    }
    JsonNode dead = http.json("/api/queue?name=" + queue + "&tab=dead");
    assertThat(dead.path("stats").path("counted").asBoolean(true)).isFalse();
    assertThat(dead.path("stats").path("deadLettered").isNull()).isTrue();
    assertThat(texts(dead.path("items"), "uuid")).containsExactly(uuid);
  }

  /**
   * The page shows the missing numbers as "not counted by this broker", and a tab it cannot list.
   */
  @Test
  void thePageSaysNotCountedByThisBroker() throws Exception {
    String page = "http://127.0.0.1:" + dashboard.address().getPort() + "/";
    try (Browser browser = Browser.start(1280, 900)) {
      browser.open(page);
      browser.waitForText(
          By.cssSelector(".card[data-card='pending'] .value"), "not counted by this broker");
      browser.waitForText(
          By.cssSelector("#queues tr[data-queue='" + otherQueue + "'] td:nth-child(2)"),
          "not counted by this broker");
      assertThat(browser.waitFor(By.id("no-counts")).getText()).contains("keeps no counts");
      browser.waitForText(
          By.id("chart-uncounted"), "pending and dead letters: not counted by this broker");
      browser.open(page + "#/queue/" + queue + "/delayed");
      assertThat(browser.waitFor(By.id("tab-unavailable")).getText())
          .contains("Pub/Sub cannot list delayed tasks");
      browser.waitForText(By.cssSelector(".tabs a[data-tab='pending']"), "Pending");
    }
  }

  /** A field of each element of a JSON array. */
  private static List<String> texts(JsonNode array, String field) {
    return StreamSupport.stream(array.spliterator(), false)
        .map(n -> n.path(field).asText())
        .toList();
  }
}
