package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.MigratingBroker;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskBreaker;
import io.machinery.TaskFunction;
import io.machinery.TaskLimit;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Broker;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The JSON API over real HTTP on the in-JVM memory broker: reads, actions, and every refusal. */
class DashboardApiTest extends MemoryServerFixture {

  private Signature send(String name, Arg... args) {
    return server.sendTask(Signature.create(name, args)).signature();
  }

  @Test
  void overviewListsQueuesWithTheirSizesAndSamplesTheChart() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    for (int i = 0; i < 3; i++) {
      send("add", Arg.of((long) i), Arg.of(1L));
    }
    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(
            () -> {
              JsonNode o = http.json("/api/overview");
              assertThat(o.path("queues")).hasSize(1);
              assertThat(o.path("queues").get(0).path("queue").asText())
                  .isEqualTo(server.config().defaultQueue());
              assertThat(o.path("queues").get(0).path("pending").asLong()).isEqualTo(3);
              assertThat(o.path("samples").size()).isGreaterThanOrEqualTo(2);
              assertThat(
                      o.path("samples").get(o.path("samples").size() - 1).path("pending").asLong())
                  .isEqualTo(3);
            });
    JsonNode o = http.json("/api/overview");
    assertThat(o.path("actions").asBoolean()).as("no token: actions off").isFalse();
    assertThat(o.path("canInspectQueues").asBoolean()).isTrue();
    assertThat(o.path("countsQueues").asBoolean()).isTrue();
    assertThat(o.path("countsReason").isNull()).isTrue();
    assertThat(o.path("queues").get(0).path("counted").asBoolean()).isTrue();
    assertThat(o.path("migration").isNull()).as("no move between brokers").isTrue();
  }

  /**
   * During a move between brokers the overview's queues are the sums of both, and the migration
   * shows each broker's queues apart with what the old one still holds.
   */
  @Test
  void duringAMoveTheOverviewShowsEachBrokersQueuesAndWhatTheOldOneStillHolds() throws Exception {
    server.close();
    MemoryBroker old = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    MemoryBroker fresh = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
    server = Server.builder().broker(MigratingBroker.of(old, fresh)).build();
    closeables.add(server.broker()); // the migrating broker closes both
    try (Server notYetMoved = Server.builder().broker(old).build()) {
      notYetMoved.sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)));
      notYetMoved.sendTask(Signature.create("add", Arg.of(3L), Arg.of(4L)));
    }
    send("add", Arg.of(5L), Arg.of(6L)); // a moved process sends to the new broker
    HttpProbe http = start(Dashboard.builder(server));

    JsonNode o = http.json("/api/overview");
    assertThat(o.path("queues").get(0).path("pending").asLong()).isEqualTo(3);
    JsonNode migration = o.path("migration");
    assertThat(migration.path("old").get(0).path("pending").asLong()).isEqualTo(2);
    assertThat(migration.path("new").get(0).path("pending").asLong()).isEqualTo(1);
    assertThat(migration.path("oldWaiting").asLong()).isEqualTo(2);
    assertThat(migration.path("oldDeadLettered").asLong()).isZero();
  }

  /**
   * During a move the overview reads each broker's queues once, for the sums and for each broker's
   * rows alike (it read both again for the sums, four listings per poll).
   */
  @Test
  void duringAMoveTheOverviewListsEachBrokersQueuesOnce() throws Exception {
    server.close();
    AtomicInteger listings = new AtomicInteger();
    Broker old =
        beforeListing(
            MemoryBroker.create(Config.DEFAULT, Clock.systemUTC()), listings::incrementAndGet);
    Broker fresh =
        beforeListing(
            MemoryBroker.create(Config.DEFAULT, Clock.systemUTC()), listings::incrementAndGet);
    server = Server.builder().broker(MigratingBroker.of(old, fresh)).build();
    closeables.add(server.broker());
    send("add", Arg.of(5L), Arg.of(6L));
    Dashboard dashboard =
        Dashboard.builder(server).port(0).sampleInterval(Duration.ofHours(1)).build().start();
    closeables.add(dashboard);
    HttpProbe http = new HttpProbe(dashboard.address().getPort());
    // the chart's first sample (one summed listing) is taken at start, then not for an hour
    await()
        .atMost(5, TimeUnit.SECONDS)
        .until(() -> http.json("/api/overview").path("samples").size() == 1);

    int before = listings.get();
    JsonNode o = http.json("/api/overview");
    assertThat(listings.get() - before).as("one listing per broker").isEqualTo(2);
    assertThat(o.path("queues").get(0).path("pending").asLong()).isEqualTo(1);
    assertThat(o.path("migration").path("new").get(0).path("pending").asLong()).isEqualTo(1);
  }

  /**
   * The "lanes" tab: fairness keys with waiting tasks, in turn order, with their weights, paged and
   * searchable.
   */
  @Test
  void theLanesTabListsFairnessKeysWithTheirBacklogs() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    for (String key : List.of("acme", "globex", "globex", "initech")) {
      server.sendTask(Signature.builder("add").fairnessKey(key).build());
    }
    io.machinery.Inspection.of(server).setFairnessWeight("", "globex", 4);
    JsonNode all = http.json("/api/queue?tab=lanes");
    assertThat(all.path("items"))
        .extracting(
            n ->
                n.path("key").asText()
                    + "="
                    + n.path("pending").asLong()
                    + "x"
                    + n.path("weight").asInt())
        .containsExactly("acme=1x1", "globex=2x4", "initech=1x1");
    JsonNode second = http.json("/api/queue?tab=lanes&offset=1&limit=1");
    assertThat(second.path("items"))
        .extracting(n -> n.path("key").asText())
        .containsExactly("globex");
    assertThat(second.path("hasMore").asBoolean()).isTrue();
    assertThat(http.json("/api/queue?tab=lanes&q=INIT").path("items"))
        .extracting(n -> n.path("key").asText())
        .containsExactly("initech");
  }

  @Test
  void queuePagesAreBoundedAndSearchableByNameOrUuid() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    List<Signature> sent = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      sent.add(send(i % 2 == 0 ? "resize_image" : "send_mail", Arg.of((long) i)));
    }
    JsonNode first = http.json("/api/queue?tab=pending&limit=2");
    assertThat(first.path("items")).hasSize(2);
    assertThat(first.path("hasMore").asBoolean()).isTrue();
    assertThat(first.path("stats").path("pending").asLong()).isEqualTo(5);
    assertThat(first.path("items").get(0).path("uuid").asText()).isEqualTo(sent.get(0).uuid());
    JsonNode last = http.json("/api/queue?tab=pending&limit=2&offset=4");
    assertThat(last.path("items")).hasSize(1);
    assertThat(last.path("hasMore").asBoolean()).isFalse();

    JsonNode byName = http.json("/api/queue?tab=pending&q=MAIL");
    assertThat(byName.path("items"))
        .extracting(n -> n.path("name").asText())
        .containsExactly("send_mail", "send_mail");
    assertThat(byName.path("scanComplete").asBoolean()).isTrue();
    JsonNode byUuid = http.json("/api/queue?tab=pending&q=" + sent.get(3).uuid());
    assertThat(byUuid.path("items"))
        .extracting(n -> n.path("uuid").asText())
        .containsExactly(sent.get(3).uuid());

    assertThat(http.get("/api/queue?tab=nonsense").status()).isEqualTo(400);
    assertThat(http.get("/api/queue?limit=100000").status()).isEqualTo(400);
  }

  /**
   * A DAG task's page lists the whole DAG from its message: each task's name, what it depends on
   * and its stored state (none for the tasks a worker has not sent yet).
   */
  @Test
  void aDagTaskShowsItsDagWithEachTasksState() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    io.machinery.Dag dag =
        io.machinery.Dag.builder()
            .task("fetch", Signature.create("fetch"))
            .task("words", Signature.create("words"), "fetch")
            .task("links", Signature.create("links"), "fetch")
            .task("report", Signature.create("report"), "words", "links")
            .build();
    server.sendDag(dag); // no worker: the root waits, the others are not sent yet

    JsonNode t = http.json("/api/task?uuid=" + dag.task("fetch").uuid());
    assertThat(t.path("dag"))
        .extracting(
            n ->
                n.path("name").asText()
                    + "<"
                    + n.path("dependsOn").toString()
                    + ":"
                    + n.path("state").asText("none"))
        .containsExactly(
            "fetch<[]:PENDING",
            "words<[\"fetch\"]:none",
            "links<[\"fetch\"]:none",
            "report<[\"words\",\"links\"]:none");
    assertThat(t.path("dag").get(3).path("uuid").asText()).isEqualTo(dag.task("report").uuid());
  }

  /**
   * A saga step's page links the compensation that runs when it fails, and that compensation's page
   * links the step it undoes.
   */
  @Test
  void aSagaStepLinksItsCompensationsAndACompensationTheStepItUndoes() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    io.machinery.Saga saga =
        io.machinery.Saga.builder()
            .step(Signature.create("reserve"), Signature.create("cancel"))
            .step(Signature.create("charge"))
            .build();
    Signature compensation = saga.compensationsAfterFailureOf(1).get(0);
    server.sendTask(saga.steps().get(1)); // as the first step's worker sends it
    server.sendTask(compensation); // as the charge's worker sends it when the charge fails

    JsonNode charge = http.json("/api/task?uuid=" + saga.steps().get(1).uuid());
    assertThat(charge.path("links").path("onError").get(0).path("uuid").asText())
        .isEqualTo(compensation.uuid());
    JsonNode cancel = http.json("/api/task?uuid=" + compensation.uuid());
    assertThat(cancel.path("links").path("undoes").asText()).isEqualTo(saga.steps().get(0).uuid());
  }

  @Test
  void aTaskShowsItsMessageAndALargeArgumentIsCutWithADownload() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    String big = "x".repeat(50_000);
    Signature callback = Signature.create("notify");
    Signature task =
        server
            .sendTask(
                Signature.builder("upload")
                    .args(Arg.of(big))
                    .onSuccess(callback)
                    .expiresAt(java.time.Instant.parse("2030-01-01T00:00:00Z"))
                    .build())
            .signature();

    JsonNode t = http.json("/api/task?uuid=" + task.uuid());
    assertThat(t.path("location").asText()).isEqualTo("PENDING");
    assertThat(t.path("name").asText()).isEqualTo("upload");
    assertThat(t.path("attempts").asInt()).isEqualTo(1);
    assertThat(t.path("truncated").asBoolean()).isTrue();
    String shown = t.path("message").path("Args").get(0).path("Value").asText();
    assertThat(shown).hasSizeLessThan(Views.MAX_STRING + 100).contains("more characters");
    assertThat(t.path("links").path("onSuccess").get(0).path("name").asText()).isEqualTo("notify");
    assertThat(t.path("links").path("expires").asText()).isEqualTo("2030-01-01T00:00:00Z");

    HttpProbe.Response raw = http.get("/api/task/raw?uuid=" + task.uuid());
    assertThat(raw.status()).isEqualTo(200);
    assertThat(raw.header("Content-Disposition")).startsWith("attachment;");
    assertThat(
            HttpProbe.JSON
                .readTree(raw.body())
                .path("message")
                .path("Args")
                .get(0)
                .path("Value")
                .asText())
        .isEqualTo(big);

    assertThat(t.path("dag").isNull()).as("no DAG in its message").isTrue();
    assertThat(t.path("links").path("undoes").isNull()).as("no saga compensation").isTrue();
    assertThat(
            http.json("/api/task?uuid=" + callback.uuid())
                .path("links")
                .path("expires")
                .isMissingNode())
        .as("a task without an expiry: the field is absent, not the task's own")
        .isTrue();
    assertThat(http.get("/api/task").status()).as("uuid is required").isEqualTo(400);
    assertThat(http.json("/api/task?uuid=no-such-task").path("location").asText())
        .isEqualTo("NOT_FOUND");
  }

  @Test
  void workersInFlightAndPeriodicEntriesAreListed() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    CountDownLatch release = new CountDownLatch(1);
    server.registerTask(
        "slow",
        TaskFunction.varargs(
            long[].class,
            n -> {
              release.await();
              return 0L;
            }));
    server.registerPeriodicTask(
        "*/5 * * * *", "nightly-report", Signature.create("slow", Arg.of(1L)));
    server.registerTask(
        "refused",
        TaskFunction.of(
            () -> {
              throw new java.io.IOException("connection refused");
            }));
    Worker worker =
        server
            .workerBuilder("api-worker")
            .concurrency(3)
            .heartbeatInterval(Duration.ofMillis(100))
            .breaker(
                "refused", TaskBreaker.builder().window(1).openFor(Duration.ofHours(1)).build())
            .limit("slow", TaskLimit.builder().maxConcurrent(5).key(s -> "slow-lane").build())
            .build();
    closeables.add(worker::quit);
    closeables.add(release::countDown);
    worker.launchAsync();
    Signature running = send("slow", Arg.of(1L));

    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(
            () -> {
              JsonNode w = http.json("/api/workers");
              assertThat(w).hasSize(1);
              assertThat(w.get(0).path("consumerTag").asText()).isEqualTo("api-worker");
              assertThat(w.get(0).path("concurrency").asInt()).isEqualTo(3);
              assertThat(w.get(0).path("busy").asInt()).isEqualTo(1);
              assertThat(w.get(0).path("starting").isBoolean()).as("starting is told").isTrue();
              assertThat(w.get(0).path("starting").asBoolean()).as("it consumes").isFalse();
              assertThat(w.get(0).path("running").get(0).path("uuid").asText())
                  .isEqualTo(running.uuid());
            });
    JsonNode inFlight = http.json("/api/queue?tab=inflight");
    assertThat(inFlight.path("items"))
        .extracting(n -> n.path("uuid").asText())
        .containsExactly(running.uuid());
    assertThat(http.json("/api/task?uuid=" + running.uuid()).path("location").asText())
        .isEqualTo("RUNNING");
    JsonNode periodic = http.json("/api/periodic");
    assertThat(periodic).extracting(n -> n.path("name").asText()).contains("nightly-report");
    assertThat(periodic.get(0).path("spec").asText()).isEqualTo("*/5 * * * *");
    assertThat(periodic.get(0).path("nextFire").isTextual()).isTrue();

    send("refused");
    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(
            () ->
                assertThat(
                        http.json("/api/workers").get(0).path("breakers").path("refused").asText())
                    .isEqualTo("OPEN"));

    io.machinery.Inspection.of(server)
        .setTaskLimit(
            "charge",
            io.machinery.spi.ControlPlane.TaskLimitSetting.rate(10, Duration.ofSeconds(1))
                .withMaxConcurrent(2));
    await()
        .atMost(5, TimeUnit.SECONDS)
        .untilAsserted(
            () -> {
              JsonNode limits = http.json("/api/workers").get(0).path("limits");
              JsonNode set = limits.path("charge");
              assertThat(set.path("fromControlPlane").asBoolean()).isTrue();
              assertThat(set.path("perKey").asBoolean()).isFalse();
              assertThat(set.path("ratePermits").asInt()).isEqualTo(10);
              assertThat(set.path("ratePeriodMillis").asLong()).isEqualTo(1000);
              assertThat(set.path("burst").asInt()).isEqualTo(10);
              assertThat(set.path("maxConcurrent").asInt()).isEqualTo(2);
              assertThat(set.path("describe").asText())
                  .isEqualTo("10 per 1s, burst 10, at most 2 at once");
              JsonNode own = limits.path("slow");
              assertThat(own.path("fromControlPlane").asBoolean()).isFalse();
              assertThat(own.path("describe").asText()).isEqualTo("at most 5 at once, per key");
            });
  }

  @Test
  void theTaskLimitsSetAtRunTimeAreListed() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    assertThat(http.json("/api/limits").path("limits")).isEmpty();
    io.machinery.Inspection.of(server)
        .setTaskLimit(
            "charge",
            io.machinery.spi.ControlPlane.TaskLimitSetting.rate(10, Duration.ofSeconds(1))
                .withMaxConcurrent(2));

    JsonNode limits = http.json("/api/limits");
    assertThat(limits.path("supported").asBoolean()).isTrue();
    assertThat(limits.path("limits")).hasSize(1);
    JsonNode charge = limits.path("limits").get(0);
    assertThat(charge.path("task").asText()).isEqualTo("charge");
    assertThat(charge.path("ratePermits").asInt()).isEqualTo(10);
    assertThat(charge.path("ratePeriodMillis").asLong()).isEqualTo(1000);
    assertThat(charge.path("maxConcurrent").asInt()).isEqualTo(2);
    assertThat(charge.path("describe").asText())
        .isEqualTo("10 per 1s, burst 10, at most 2 at once");
  }

  /**
   * Breaker openings: listed by key with the time left, opened from the page with a Go duration
   * (again: a new opening replaces the old, with a new id), closed; only with the token.
   */
  @Test
  void breakersAreOpenedOnEveryWorkerListedReplacedAndClosedWithTheToken() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    JsonNode none = http.json("/api/breakers");
    assertThat(none.path("supported").asBoolean()).isTrue();
    assertThat(none.path("breakers")).isEmpty();
    io.machinery.Inspection.of(server)
        .openBreaker("acme_api", Duration.ofMinutes(1), "5 of the last 10 runs failed", "worker-1");

    String open = "{\"key\":\"charge\",\"openFor\":\"10m\",\"reason\":\"PSP maintenance\"}";
    assertThat(http.post("/api/action/open-breaker", open).status()).as("no token").isEqualTo(401);
    assertThat(server.controlPlane().orElseThrow().openBreakers()).doesNotContainKey("charge");
    HttpProbe.Response opened =
        http.post("/api/action/open-breaker", open, "X-Machinery-Token", TOKEN);
    assertThat(opened.status()).isEqualTo(200);
    JsonNode first = HttpProbe.JSON.readTree(opened.body());
    assertThat(first.path("key").asText()).isEqualTo("charge");
    assertThat(first.path("openedBy").asText()).isEqualTo("dashboard:127.0.0.1");

    JsonNode listed = http.json("/api/breakers").path("breakers");
    assertThat(listed)
        .extracting(n -> n.path("key").asText())
        .containsExactly("acme_api", "charge");
    JsonNode charge = listed.get(1);
    assertThat(charge.path("id").asText()).isEqualTo(first.path("id").asText());
    assertThat(charge.path("reason").asText()).isEqualTo("PSP maintenance");
    assertThat(charge.path("openedBy").asText()).isEqualTo("dashboard:127.0.0.1");
    assertThat(charge.path("trial").isBoolean()).isTrue();
    assertThat(charge.path("trial").asBoolean()).as("an operator's, not a trial's").isFalse();
    assertThat(charge.path("leftMillis").asLong()).isBetween(9 * 60_000L, 10 * 60_000L);
    assertThat(java.time.Instant.parse(charge.path("until").asText()))
        .isEqualTo(server.controlPlane().orElseThrow().openBreakers().get("charge").until());
    assertThat(listed.get(0).path("openedBy").asText()).isEqualTo("worker-1");

    HttpProbe.Response again =
        http.post(
            "/api/action/open-breaker",
            "{\"key\":\"charge\",\"openFor\":\"1m30s\"}",
            "X-Machinery-Token",
            TOKEN);
    assertThat(again.status()).isEqualTo(200);
    JsonNode replaced = http.json("/api/breakers").path("breakers").get(1);
    assertThat(replaced.path("id").asText())
        .isEqualTo(HttpProbe.JSON.readTree(again.body()).path("id").asText())
        .isNotEqualTo(first.path("id").asText());
    assertThat(replaced.path("leftMillis").asLong()).isBetween(1L, 90_000L);
    assertThat(replaced.path("reason").asText()).isEqualTo(Api.DEFAULT_REASON);

    String close = "{\"key\":\"charge\"}";
    assertThat(http.post("/api/action/close-breaker", close).status())
        .as("no token")
        .isEqualTo(401);
    assertThat(http.post("/api/action/close-breaker", close, "X-Machinery-Token", TOKEN).status())
        .isEqualTo(200);
    assertThat(http.json("/api/breakers").path("breakers"))
        .extracting(n -> n.path("key").asText())
        .containsExactly("acme_api");
    assertThat(http.post("/api/action/close-breaker", close, "X-Machinery-Token", TOKEN).status())
        .as("idempotent")
        .isEqualTo(200);
  }

  @Test
  void aBreakerOpeningWithABadKeyOrDurationIsRefusedWithWhatToFix() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    record Bad(String body, String message) {}
    for (Bad bad :
        List.of(
            new Bad("{\"key\":\"charge\",\"openFor\":\"ten minutes\"}", "a Go duration"),
            new Bad("{\"key\":\"charge\",\"openFor\":\"10\"}", "with a unit"),
            new Bad("{\"key\":\"charge\",\"openFor\":\"0s\"}", "1ms to 168h0m0s"),
            new Bad("{\"key\":\"charge\",\"openFor\":\"-5m\"}", "1ms to 168h0m0s"),
            new Bad("{\"key\":\"charge\",\"openFor\":\"169h\"}", "1ms to 168h0m0s"),
            new Bad("{\"key\":\"charge\"}", "say how long"),
            new Bad("{\"key\":\"charge\",\"openFor\":600}", "must be a string"),
            new Bad("{\"openFor\":\"10m\"}", "name the breaker"),
            new Bad(
                "{\"key\":\""
                    + "k".repeat(TaskBreaker.MAX_KEY_LENGTH + 1)
                    + "\",\"openFor\":\"1m\"}",
                "a breaker key must have"))) {
      HttpProbe.Response refused =
          http.post("/api/action/open-breaker", bad.body(), "X-Machinery-Token", TOKEN);
      assertThat(refused.status()).as(bad.body()).isEqualTo(400);
      assertThat(new String(refused.body(), StandardCharsets.UTF_8))
          .as(bad.body())
          .contains(bad.message());
    }
    assertThat(http.post("/api/action/close-breaker", "{}", "X-Machinery-Token", TOKEN).status())
        .isEqualTo(400);
    assertThat(server.controlPlane().orElseThrow().openBreakers()).isEmpty();
  }

  /**
   * A control plane that keeps no breaker openings (one of a user's own): the listing says why, and
   * the actions are refused with the status of the other unsupported actions.
   */
  @Test
  void whereTheControlPlaneKeepsNoBreakerOpeningsTheListingSaysWhyAndActionsAreRefused()
      throws Exception {
    try (Server amqpLike =
        Server.builder()
            .broker(io.machinery.embedded.EagerBroker.create())
            .backend(io.machinery.embedded.NullBackend.create())
            .controlPlane(new PlaneWithoutBreakers())
            .build()) {
      HttpProbe http = start(Dashboard.builder(amqpLike).token(TOKEN));
      JsonNode breakers = http.json("/api/breakers");
      assertThat(breakers.path("supported").asBoolean()).isFalse();
      assertThat(breakers.path("reason").asText()).contains("keeps no breaker openings");
      HttpProbe.Response open =
          http.post(
              "/api/action/open-breaker",
              "{\"key\":\"charge\",\"openFor\":\"10m\"}",
              "X-Machinery-Token",
              TOKEN);
      assertThat(open.status()).isEqualTo(501);
      assertThat(new String(open.body(), StandardCharsets.UTF_8))
          .contains("keeps no breaker openings");
      assertThat(
              http.post(
                      "/api/action/close-breaker",
                      "{\"key\":\"charge\"}",
                      "X-Machinery-Token",
                      TOKEN)
                  .status())
          .isEqualTo(501);
    }
    try (Server eager =
        Server.builder()
            .broker(io.machinery.embedded.EagerBroker.create())
            .backend(io.machinery.embedded.NullBackend.create())
            .build()) {
      JsonNode breakers = start(Dashboard.builder(eager)).json("/api/breakers");
      assertThat(breakers.path("supported").asBoolean()).isFalse();
      assertThat(breakers.path("reason").asText()).contains("no control plane");
    }
  }

  /** A control plane with only what every one keeps: workers and pauses. */
  private static final class PlaneWithoutBreakers implements io.machinery.spi.ControlPlane {
    @Override
    public void announce(io.machinery.spi.WorkerStatus status, Duration ttl) {}

    @Override
    public void withdraw(String workerId) {}

    @Override
    public List<io.machinery.spi.WorkerStatus> workers() {
      return List.of();
    }

    @Override
    public void pause(String queue) {}

    @Override
    public void resume(String queue) {}

    @Override
    public java.util.Set<String> pausedQueues() {
      return java.util.Set.of();
    }
  }

  @Test
  void actionsChangeTheQueueWithTheToken() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    send("a");
    send("b");
    HttpProbe.Response purged =
        http.post("/api/action/purge", "{\"queue\":\"\"}", "X-Machinery-Token", TOKEN);
    assertThat(purged.status()).isEqualTo(200);
    assertThat(HttpProbe.JSON.readTree(purged.body()).path("count").asLong()).isEqualTo(2);
    assertThat(server.broker().inspector().orElseThrow().queue("").pending()).isZero();

    assertThat(
            http.post("/api/action/pause", "{\"queue\":\"\"}", "X-Machinery-Token", TOKEN).status())
        .isEqualTo(200);
    assertThat(http.json("/api/overview").path("actions").asBoolean()).isTrue();
    assertThat(server.controlPlane().orElseThrow().pausedQueues())
        .containsExactly(server.config().defaultQueue());
    assertThat(http.post("/api/action/resume", "{}", "X-Machinery-Token", TOKEN).status())
        .isEqualTo(200);
    assertThat(server.controlPlane().orElseThrow().pausedQueues()).isEmpty();
  }

  @Test
  void deadLettersAreListedRequeuedAndDeletedById() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    String queue = "dl_queue";
    Worker worker =
        server.workerBuilder("dl-worker").queue(queue).maxUnregisteredRequeues(1).build();
    worker.launchAsync();
    Signature one =
        server.sendTask(Signature.builder("nobody_knows").routingKey(queue).build()).signature();
    Signature two =
        server.sendTask(Signature.builder("nobody_knows").routingKey(queue).build()).signature();
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> http.json("/api/queue?tab=dead&name=" + queue).path("items").size() == 2);
    worker.quit();
    JsonNode dead = http.json("/api/queue?tab=dead&name=" + queue);
    JsonNode first = dead.path("items").get(0);
    assertThat(
            List.of(first.path("uuid").asText(), dead.path("items").get(1).path("uuid").asText()))
        .containsExactlyInAnyOrder(one.uuid(), two.uuid());
    assertThat(first.path("reason").asText()).contains("not registered");
    assertThat(
            http.json("/api/task?queue=" + queue + "&uuid=" + one.uuid()).path("location").asText())
        .isEqualTo("DEAD_LETTERED");
    HttpProbe.Response raw =
        http.get("/api/deadletter/raw?queue=" + queue + "&id=" + first.path("id").asText());
    assertThat(raw.header("Content-Disposition")).startsWith("attachment;");
    assertThat(new String(raw.body(), StandardCharsets.UTF_8))
        .contains(first.path("uuid").asText());

    String body = "{\"queue\":\"" + queue + "\",\"ids\":[\"" + first.path("id").asText() + "\"]}";
    assertThat(
            HttpProbe.JSON
                .readTree(http.post("/api/action/requeue", body, "X-Machinery-Token", TOKEN).body())
                .path("count")
                .asInt())
        .isEqualTo(1);
    JsonNode after = http.json("/api/queue?tab=pending&name=" + queue);
    assertThat(after.path("items"))
        .extracting(n -> n.path("uuid").asText())
        .containsExactly(first.path("uuid").asText());
    assertThat(after.path("stats").path("deadLettered").asLong()).isEqualTo(1);
    assertThat(
            http.post(
                    "/api/action/delete",
                    "{\"queue\":\"" + queue + "\"}",
                    "X-Machinery-Token",
                    TOKEN)
                .status())
        .as("no ids and no all: refused")
        .isEqualTo(400);
    assertThat(
            HttpProbe.JSON
                .readTree(
                    http.post(
                            "/api/action/delete",
                            "{\"queue\":\"" + queue + "\",\"all\":true}",
                            "X-Machinery-Token",
                            TOKEN)
                        .body())
                .path("count")
                .asInt())
        .isEqualTo(1);
    assertThat(server.broker().inspector().orElseThrow().queue(queue).deadLettered()).isZero();
  }

  @Test
  void actionsAreRefusedWithoutTheRightTokenFromElsewhereOrInTheWrongForm() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    send("keep_me");
    String body = "{\"queue\":\"\"}";
    assertThat(http.post("/api/action/purge", body).status()).as("no token").isEqualTo(401);
    assertThat(http.post("/api/action/purge", body, "X-Machinery-Token", "wrong-token").status())
        .isEqualTo(401);
    assertThat(
            http.post(
                    "/api/action/purge",
                    body,
                    "X-Machinery-Token",
                    TOKEN,
                    "Origin",
                    "http://evil.example")
                .status())
        .as("cross-origin")
        .isEqualTo(403);
    assertThat(
            http.post(
                    "/api/action/purge",
                    body,
                    "X-Machinery-Token",
                    TOKEN,
                    "Sec-Fetch-Site",
                    "cross-site")
                .status())
        .as("cross-site")
        .isEqualTo(403);
    assertThat(
            http.postTyped("/api/action/purge", "text/plain", body, "X-Machinery-Token", TOKEN)
                .status())
        .as("a form post")
        .isEqualTo(415);
    assertThat(http.get("/api/action/purge").status()).as("GET").isEqualTo(405);
    assertThat(http.post("/api/action/drop_tables", body, "X-Machinery-Token", TOKEN).status())
        .isEqualTo(404);
    assertThat(server.broker().inspector().orElseThrow().queue("").pending())
        .as("nothing was purged")
        .isEqualTo(1);

    String sameOrigin = "http://127.0.0.1:" + http.port();
    assertThat(
            http.post(
                    "/api/action/purge",
                    body,
                    "X-Machinery-Token",
                    TOKEN,
                    "Origin",
                    sameOrigin,
                    "Sec-Fetch-Site",
                    "same-origin")
                .status())
        .as("the page itself")
        .isEqualTo(200);
  }

  @Test
  void withoutATokenOrInReadOnlyModeEveryActionIsRefused() throws Exception {
    HttpProbe noToken = start(Dashboard.builder(server));
    HttpProbe readOnly = start(Dashboard.builder(server).token(TOKEN).readOnly(true));
    send("keep_me");
    String body = "{\"all\":true,\"key\":\"charge\",\"openFor\":\"10m\"}";
    for (String action :
        List.of(
            "purge",
            "pause",
            "resume",
            "requeue",
            "delete",
            "cancel",
            "open-breaker",
            "close-breaker")) {
      HttpProbe.Response refused =
          noToken.post("/api/action/" + action, body, "X-Machinery-Token", TOKEN);
      assertThat(refused.status()).isEqualTo(403);
      assertThat(new String(refused.body(), StandardCharsets.UTF_8)).contains("no token");
      HttpProbe.Response ro =
          readOnly.post("/api/action/" + action, body, "X-Machinery-Token", TOKEN);
      assertThat(ro.status()).isEqualTo(403);
      assertThat(new String(ro.body(), StandardCharsets.UTF_8)).contains("read-only");
    }
    assertThat(readOnly.json("/api/overview").path("readOnly").asBoolean()).isTrue();
    assertThat(server.broker().inspector().orElseThrow().queue("").pending()).isEqualTo(1);
    assertThat(server.controlPlane().orElseThrow().pausedQueues()).isEmpty();
    assertThat(server.controlPlane().orElseThrow().openBreakers()).isEmpty();
  }

  @Test
  void aPluggableAuthenticatorDecidesPerActionAndQueue() throws Exception {
    HttpProbe http =
        start(
            Dashboard.builder(server)
                .authenticator(
                    (action, queue, header) ->
                        (action.equals("pause")
                                || action.equals("open-breaker") && queue.equals("charge"))
                            && "ops".equals(header.apply("X-Role"))));
    assertThat(http.post("/api/action/pause", "{}", "X-Role", "ops").status()).isEqualTo(200);
    assertThat(http.post("/api/action/purge", "{}", "X-Role", "ops").status()).isEqualTo(401);
    assertThat(http.post("/api/action/pause", "{}", "X-Role", "guest").status()).isEqualTo(401);
    String open = "{\"key\":\"%s\",\"openFor\":\"1m\"}";
    assertThat(
            http.post("/api/action/open-breaker", open.formatted("charge"), "X-Role", "ops")
                .status())
        .as("a breaker action is asked about with its key")
        .isEqualTo(200);
    assertThat(
            http.post("/api/action/open-breaker", open.formatted("refund"), "X-Role", "ops")
                .status())
        .isEqualTo(401);
  }

  @Test
  void everyResponseCarriesTheSecurityHeadersAndOnlyLoopbackHostsAreAnswered() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    for (String path : List.of("/", "/app.js", "/api/overview", "/api/nothing", "/etc/passwd")) {
      HttpProbe.Response r = http.get(path);
      assertThat(r.header("Content-Security-Policy"))
          .as(path)
          .contains("script-src 'self'")
          .contains("frame-ancestors 'none'")
          .doesNotContain("unsafe-inline");
      assertThat(r.header("X-Content-Type-Options")).isEqualTo("nosniff");
    }
    assertThat(http.get("/").header("Content-Type")).startsWith("text/html");
    assertThat(http.get("/../pom.xml").status()).isEqualTo(404);
    assertThat(
            http.rawStatus(
                "GET /api/overview HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"))
        .as("DNS rebinding")
        .isEqualTo(421);
    assertThat(
            http.rawStatus(
                "GET /api/overview HTTP/1.1\r\nHost: localhost:"
                    + http.port()
                    + "\r\nConnection: close\r\n\r\n"))
        .isEqualTo(200);
  }

  @Test
  void theBuilderValidatesAndTheDashboardBindsLoopbackByDefault() {
    assertThatThrownBy(() -> Dashboard.builder(server).token("short"))
        .hasMessageContaining("at least 8");
    assertThatThrownBy(() -> Dashboard.builder(server).port(70000))
        .hasMessageContaining("0..65535");
    assertThatThrownBy(() -> Dashboard.builder(server).sampleInterval(Duration.ofMillis(1)))
        .hasMessageContaining("100ms");
    try (Dashboard d = Dashboard.builder(server).port(0).build().start()) {
      assertThat(d.address().getAddress().isLoopbackAddress()).isTrue();
      assertThatThrownBy(d::start).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void closingStopsServingAndLeavesTheServerOpen() throws Exception {
    Dashboard dashboard = Dashboard.builder(server).port(0).build().start();
    HttpProbe http = new HttpProbe(dashboard.address().getPort());
    assertThat(http.get("/api/overview").status()).isEqualTo(200);
    dashboard.close();
    dashboard.close();
    assertThatThrownBy(() -> http.get("/api/overview")).isInstanceOf(java.io.IOException.class);
    assertThat(server.sendTask(Signature.create("still_open")).signature().uuid()).isNotEmpty();
    assertThat(server.broker()).isInstanceOf(MemoryBroker.class);
  }

  @Test
  void aTaskShowsItsHistoryAndAWaitingTaskIsCancelledWithTheToken() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
    Worker worker = server.workerBuilder("history").taskEvents(true).build();
    closeables.add(worker::quit);
    worker.launchAsync();
    String done = send("add", Arg.of(1L), Arg.of(2L)).uuid();
    await()
        .atMost(5, TimeUnit.SECONDS)
        .until(() -> http.json("/api/task?uuid=" + done).path("history").size() == 3);
    JsonNode task = http.json("/api/task?uuid=" + done);
    assertThat(task.path("history").findValuesAsText("kind"))
        .containsExactly("RECEIVED", "STARTED", "SUCCESS");
    assertThat(task.path("history").get(2).path("workerId").asText())
        .isEqualTo(worker.controlPlaneId().orElseThrow());
    assertThat(task.path("cancellable").asBoolean()).as("finished").isFalse();
    worker.quit();

    String waiting = send("add", Arg.of(1L), Arg.of(2L)).uuid();
    JsonNode overview = http.json("/api/overview");
    assertThat(overview.path("canCancel").asBoolean()).isTrue();
    assertThat(overview.path("keepsTaskHistory").asBoolean()).isTrue();
    assertThat(http.json("/api/task?uuid=" + waiting).path("cancellable").asBoolean()).isTrue();
    assertThat(http.post("/api/action/cancel", "{\"uuid\":\"" + waiting + "\"}").status())
        .as("no token")
        .isEqualTo(401);
    assertThat(http.post("/api/action/cancel", "{}", "X-Machinery-Token", TOKEN).status())
        .as("no uuid")
        .isEqualTo(400);
    HttpProbe.Response cancelled =
        http.post(
            "/api/action/cancel", "{\"uuid\":\"" + waiting + "\"}", "X-Machinery-Token", TOKEN);
    assertThat(cancelled.status()).isEqualTo(200);
    assertThat(HttpProbe.JSON.readTree(cancelled.body()).path("count").asInt()).isEqualTo(1);
    assertThat(server.backend().getState(waiting).orElseThrow().error()).isEqualTo("cancelled");
    assertThat(server.controlPlane().orElseThrow().revoked()).contains(waiting);
    assertThat(http.json("/api/task?uuid=" + waiting).path("cancellable").asBoolean()).isFalse();
  }

  @Test
  void withoutAControlPlaneCancelIsRefusedWithTheReasonAndThereIsNoHistory() throws Exception {
    try (Server eager =
        Server.builder()
            .broker(io.machinery.embedded.EagerBroker.create())
            .backend(io.machinery.embedded.NullBackend.create())
            .build()) {
      HttpProbe http = start(Dashboard.builder(eager).token(TOKEN));
      JsonNode overview = http.json("/api/overview");
      assertThat(overview.path("canCancel").asBoolean()).isFalse();
      assertThat(overview.path("cancelReason").asText()).contains("needs a control plane");
      assertThat(overview.path("keepsTaskHistory").asBoolean()).isFalse();
      assertThat(http.json("/api/task?uuid=task_x").path("history").isNull()).isTrue();
      HttpProbe.Response refused =
          http.post("/api/action/cancel", "{\"uuid\":\"task_x\"}", "X-Machinery-Token", TOKEN);
      assertThat(refused.status()).isEqualTo(501);
      assertThat(new String(refused.body(), StandardCharsets.UTF_8))
          .contains("needs a control plane");
    }
  }
}
