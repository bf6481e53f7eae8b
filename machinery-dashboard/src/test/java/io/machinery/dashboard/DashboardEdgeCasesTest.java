package io.machinery.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Broker;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Hostile input and edge cases of the API over real HTTP on the memory broker. */
class DashboardEdgeCasesTest extends MemoryServerFixture {

  /**
   * A message's headers and callback lists are as untrusted as its arguments: a producer's 100,000
   * character expiry or saga header, or 150 callbacks, reached the task page whole (up to the 16
   * MiB a message may have, on every 2 s poll). They are cut like the arguments, with the download.
   */
  @Test
  void aTasksHeadersAndCallbackListsAreCutOnItsPage() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    String huge = "h".repeat(100_000);
    String uuid = "task_" + UUID.randomUUID();
    StringBuilder callbacks = new StringBuilder();
    for (int i = 0; i < 150; i++) {
      callbacks
          .append(i == 0 ? "" : ",")
          .append("{\"UUID\":\"task_")
          .append(UUID.randomUUID())
          .append("\",\"Name\":\"notify\"}");
    }
    String raw =
        "{\"UUID\":\"%s\",\"Name\":\"t\",\"Headers\":{\"machinery_expires\":\"%s\",\"machinery_saga_undoes\":\"%s\"},\"OnSuccess\":[%s],\"OnError\":[%s]}"
            .formatted(uuid, huge, huge, callbacks, callbacks);
    ((MemoryBroker) server.broker())
        .pushRaw(server.config().defaultQueue(), raw.getBytes(StandardCharsets.UTF_8));

    HttpProbe.Response response = http.get("/api/task?uuid=" + uuid);
    assertThat(response.status()).isEqualTo(200);
    JsonNode t = HttpProbe.JSON.readTree(response.body());
    assertThat(t.path("location").asText()).isEqualTo("PENDING");
    JsonNode links = t.path("links");
    assertThat(links.path("expires").asText())
        .hasSizeLessThan(Views.MAX_STRING + 100)
        .contains("more characters");
    assertThat(links.path("undoes").asText())
        .hasSizeLessThan(Views.MAX_STRING + 100)
        .contains("more characters");
    assertThat(links.path("onSuccess")).hasSize(Views.MAX_ITEMS);
    assertThat(links.path("onError")).hasSize(Views.MAX_ITEMS);
    assertThat(t.path("truncated").asBoolean()).as("the page offers the download").isTrue();
    JsonNode whole = HttpProbe.JSON.readTree(http.get("/api/task/raw?uuid=" + uuid).body());
    assertThat(whole.path("message").path("Headers").path("machinery_expires").asText())
        .isEqualTo(huge);
  }

  /**
   * With {@code keepFailedTasks}, a dead letter's reason quotes the task's error, which may quote
   * its arguments: the dead-letter tab cut it and the task page cut the stored error, but the task
   * page showed the reason whole.
   */
  @Test
  void aDeadLettersReasonIsCutOnTheTaskPageLikeTheError() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    server.registerTask(
        "echo_fails",
        TaskFunction.of(
            String.class,
            a -> {
              throw new IllegalStateException(a);
            }));
    Worker worker = server.workerBuilder("kept").keepFailedTasks(true).build();
    closeables.add(worker::quit);
    worker.launchAsync();
    String uuid =
        server
            .sendTask(Signature.create("echo_fails", Arg.of("e".repeat(100_000))))
            .signature()
            .uuid();
    await()
        .atMost(10, TimeUnit.SECONDS)
        .until(() -> http.json("/api/task?uuid=" + uuid).path("deadLetter").isObject());

    JsonNode t = http.json("/api/task?uuid=" + uuid);
    assertThat(t.path("location").asText()).isEqualTo("DEAD_LETTERED");
    assertThat(t.path("state").path("error").asText()).hasSizeLessThan(Views.MAX_STRING + 100);
    assertThat(t.path("deadLetter").path("reason").asText())
        .startsWith("failed, kept to run again")
        .hasSizeLessThan(Views.MAX_STRING + 100)
        .contains("more characters");
    assertThat(t.path("truncated").asBoolean()).isTrue();
  }

  /**
   * An authenticator is asked about cancel with the queue the request names, but the action
   * cancelled the UUID wherever it was: a user allowed to cancel in "public" cancelled a task
   * waiting in "payments" by naming "public". Now the task must be found waiting or running there.
   */
  @Test
  void cancelActsOnlyOnATaskOfTheQueueTheAuthenticatorWasAskedAbout() throws Exception {
    HttpProbe http =
        start(
            Dashboard.builder(server)
                .authenticator(
                    (action, queue, header) -> action.equals("cancel") && queue.equals("public")));
    String payments =
        server.sendTask(Signature.builder("charge").routingKey("payments").build()).taskUuid();
    String mine =
        server.sendTask(Signature.builder("resize").routingKey("public").build()).taskUuid();

    HttpProbe.Response forged =
        http.post("/api/action/cancel", "{\"queue\":\"public\",\"uuid\":\"" + payments + "\"}");
    assertThat(forged.status()).isEqualTo(409);
    assertThat(new String(forged.body(), StandardCharsets.UTF_8))
        .contains("not waiting or running in queue public");
    assertThat(server.controlPlane().orElseThrow().revoked()).doesNotContain(payments);
    assertThat(server.backend().getState(payments).orElseThrow().error()).isEmpty();
    assertThat(
            http.post(
                    "/api/action/cancel", "{\"queue\":\"payments\",\"uuid\":\"" + payments + "\"}")
                .status())
        .as("asked about payments")
        .isEqualTo(401);

    HttpProbe.Response allowed =
        http.post("/api/action/cancel", "{\"queue\":\"public\",\"uuid\":\"" + mine + "\"}");
    assertThat(allowed.status()).isEqualTo(200);
    assertThat(server.controlPlane().orElseThrow().revoked()).contains(mine);
  }

  /**
   * On Redis a queue is a raw key, and the dashboard passed any name a request gave to the
   * inspector: {@code TriggerChordMutex}, the delayed-task key, a task's UUID or a {@code
   * {queue}:...} key were read, purged or requeued like a queue. Each is refused with 400 and the
   * rule it breaks, on every read and action that takes a queue, before an authenticator is asked.
   */
  @Test
  void aQueueNameThatNamesAKeyOtherThanAQueueIsRefusedEverywhere() throws Exception {
    List<String> asked = new ArrayList<>();
    HttpProbe http =
        start(
            Dashboard.builder(server)
                .authenticator(
                    (action, queue, header) -> {
                      asked.add(action + " " + queue);
                      return true;
                    }));
    String uuid = server.sendTask(Signature.create("add")).taskUuid();
    String delayedKey = server.config().redis().delayedTasksKey();
    for (String name :
        List.of(
            "TriggerChordMutex",
            delayedKey,
            uuid,
            "{" + server.config().defaultQueue() + "}:processing:worker-1")) {
      String q = URLEncoder.encode(name, StandardCharsets.UTF_8);
      List<HttpProbe.Response> answers = new ArrayList<>();
      answers.add(http.get("/api/queue?tab=pending&name=" + q));
      answers.add(http.get("/api/queue?tab=dead&name=" + q));
      answers.add(http.get("/api/task?uuid=" + uuid + "&queue=" + q));
      answers.add(http.get("/api/task/raw?uuid=" + uuid + "&queue=" + q));
      answers.add(http.get("/api/deadletter/raw?id=1&queue=" + q));
      String json = HttpProbe.JSON.writeValueAsString(name);
      for (String action : List.of("purge", "pause", "resume")) {
        answers.add(http.post("/api/action/" + action, "{\"queue\":" + json + "}"));
      }
      for (String action : List.of("requeue", "delete")) {
        answers.add(http.post("/api/action/" + action, "{\"queue\":" + json + ",\"all\":true}"));
      }
      answers.add(
          http.post("/api/action/cancel", "{\"queue\":" + json + ",\"uuid\":\"" + uuid + "\"}"));
      assertThat(answers)
          .as(name)
          .allSatisfy(
              r -> {
                assertThat(r.status()).isEqualTo(400);
                assertThat(HttpProbe.JSON.readTree(r.body()).path("error").asText())
                    .contains("names a reserved key, not a queue");
              });
    }
    assertThat(asked).as("the authenticator sees only queue names").isEmpty();
    assertThat(server.broker().inspector().orElseThrow().queue("").pending()).isEqualTo(1);
    assertThat(http.json("/api/queue?tab=pending").path("items")).hasSize(1);
    assertThat(http.post("/api/action/pause", "{\"queue\":\"\"}").status()).isEqualTo(200);
    assertThat(asked).containsExactly("pause " + server.config().defaultQueue());
  }

  /**
   * On Redis a task's UUID is the raw key of its state, and the dashboard read the key of whatever
   * UUID a request gave: {@code TriggerChordMutex}, the delayed-task key, a queue or a {@code
   * {queue}:...} key. Each is refused with 400 by the rules a worker applies to a message's UUID
   * (relaxed ids), on the task page, its download and Cancel; an id of a user's own passes.
   */
  @Test
  void aTaskUuidThatNamesAKeyOtherThanATaskStateIsRefused() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    String waiting = server.sendTask(Signature.create("add")).taskUuid();
    String queue = server.config().defaultQueue();
    List<String> notTaskIds =
        List.of(
            "TriggerChordMutex",
            server.config().redis().delayedTasksKey(),
            queue,
            "{" + queue + "}:processing:worker-1",
            "group_" + UUID.randomUUID(),
            "two words",
            "bell\u0007",
            "x".repeat(257));
    for (String uuid : notTaskIds) {
      String q = URLEncoder.encode(uuid, StandardCharsets.UTF_8);
      List<HttpProbe.Response> answers = new ArrayList<>();
      answers.add(http.get("/api/task?uuid=" + q));
      answers.add(http.get("/api/task/raw?uuid=" + q));
      answers.add(
          http.post(
              "/api/action/cancel",
              "{\"uuid\":" + HttpProbe.JSON.writeValueAsString(uuid) + "}",
              Dashboard.TOKEN_HEADER,
              TOKEN));
      assertThat(answers)
          .as(uuid)
          .allSatisfy(
              r -> {
                assertThat(r.status()).isEqualTo(400);
                assertThat(error(r)).contains("UUID").hasSizeLessThan(400);
              });
    }
    assertThat(server.controlPlane().orElseThrow().revoked()).isEmpty();
    assertThat(http.json("/api/task?uuid=" + waiting).path("location").asText())
        .isEqualTo("PENDING");
    assertThat(http.json("/api/task?uuid=order-42-charge").path("location").asText())
        .as("an id of a user's own (strict_uuids: false)")
        .isEqualTo("NOT_FOUND");
  }

  /**
   * A 400 carried the raw message of the {@link IllegalArgumentException} behind it: Jackson's
   * parser internals, core's duration parser's, or a 256 KiB field whole. It says in the
   * dashboard's words what to fix, quoting at most a short escaped part of the request.
   */
  @Test
  void aBadRequestIsAnsweredInTheDashboardsOwnWords() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).token(TOKEN));
    record Bad(HttpProbe.Response response, String says, String mustNotSay) {}
    String huge = "t".repeat(5_000); // within a query's limit (a longer one is a 414)
    List<Bad> bad =
        List.of(
            new Bad(
                http.post("/api/action/pause", "{nope", Dashboard.TOKEN_HEADER, TOKEN),
                "the request body is not JSON (line 1, column",
                "Unexpected character"),
            new Bad(http.get("/api/queue?tab=" + huge), "tab must be pending", huge),
            new Bad(http.get("/api/queue?limit=" + huge), "limit must be a number", huge),
            new Bad(
                http.post(
                    "/api/action/open-breaker",
                    "{\"key\":\"charge\",\"openFor\":\"soon\"}",
                    Dashboard.TOKEN_HEADER,
                    TOKEN),
                "openFor must be a Go duration",
                "time: "),
            new Bad(
                http.post(
                    "/api/action/pause",
                    "{\"queue\":[\"" + huge + "\"]}",
                    Dashboard.TOKEN_HEADER,
                    TOKEN),
                "\"queue\" must be a string",
                huge));
    assertThat(bad)
        .allSatisfy(
            b -> {
              assertThat(b.response().status()).as(b.says()).isEqualTo(400);
              assertThat(error(b.response()))
                  .contains(b.says())
                  .doesNotContain(b.mustNotSay())
                  .hasSizeLessThan(300);
            });
  }

  /**
   * Any {@link IllegalArgumentException} was answered 400 with its message, one from a client
   * library inside the broker too, which can quote a broker URI with its password. Only the
   * dashboard's own checks answer 400; this is a 500 with an error id, like any failure.
   */
  @Test
  void anIllegalArgumentFromInsideIsA500WithoutItsMessage() throws Exception {
    HttpProbe.Response r =
        overviewWhenListingFails(secret -> new IllegalArgumentException("invalid URI " + secret));
    assertThat(r.status()).isEqualTo(500);
    assertThat(HttpProbe.JSON.readTree(r.body()).path("errorId").asText()).isNotBlank();
  }

  /**
   * A broker, backend or control plane that failed (core's {@link io.machinery.MachineryException}:
   * a timeout, a refused connection) answered like a bug of the dashboard, 500 "the dashboard
   * failed". It is a 503 that says which part failed and that the page tries again, with an error
   * id and without the exception's message.
   */
  @Test
  void aFailureOfTheBrokerIsA503WithoutItsMessage() throws Exception {
    HttpProbe.Response r =
        overviewWhenListingFails(
            secret -> new io.machinery.MachineryException("timed out waiting for " + secret));
    assertThat(r.status()).isEqualTo(503);
    JsonNode body = HttpProbe.JSON.readTree(r.body());
    assertThat(body.path("error").asText())
        .contains("the broker, the result backend or the control plane failed")
        .contains(body.path("errorId").asText());
  }

  /** A broker URI with a password and an internal host, as a client library's message may quote. */
  private static final String SECRET = "redis://admin:hunter2@10.1.2.3:6379";

  /**
   * Replaces {@link #server} with one whose broker fails each listing of its queues with {@code
   * failure} given {@link #SECRET} (a fake failure: no real server fails on demand with a password
   * in its message), starts a dashboard on it and reads the overview, which must quote neither the
   * password nor the host.
   */
  private HttpProbe.Response overviewWhenListingFails(
      java.util.function.Function<String, RuntimeException> failure) throws Exception {
    server.close();
    Broker failing =
        beforeListing(
            MemoryBroker.create(Config.DEFAULT, Clock.systemUTC()),
            () -> {
              throw failure.apply(SECRET);
            });
    server = Server.builder().broker(failing).build();
    HttpProbe.Response r = start(Dashboard.builder(server)).get("/api/overview");
    assertThat(r.text()).doesNotContain("hunter2").doesNotContain("10.1.2.3");
    return r;
  }

  private static String error(HttpProbe.Response r) throws java.io.IOException {
    return HttpProbe.JSON.readTree(r.body()).path("error").asText();
  }

  /**
   * The overview listed every queue the broker knows (thousands on a shared RabbitMQ, every 2 s).
   * It lists {@link Dashboard#DEFAULT_MAX_OVERVIEW_QUEUES}, says how many it left out, and its
   * totals still count them all.
   */
  @Test
  void theOverviewListsABoundedNumberOfQueuesAndSaysHowManyItLeftOut() throws Exception {
    HttpProbe http = start(Dashboard.builder(server));
    int queues = Dashboard.DEFAULT_MAX_OVERVIEW_QUEUES + 5;
    for (int i = 0; i < queues; i++) {
      server.sendTask(Signature.builder("add").routingKey("many_" + i).build());
    }
    JsonNode o = http.json("/api/overview");
    JsonNode listed = o.path("queues");
    assertThat(listed.size()).isEqualTo(Dashboard.DEFAULT_MAX_OVERVIEW_QUEUES);
    JsonNode totals = o.path("totals");
    assertThat(totals.path("queues").asInt())
        .isEqualTo(listed.size() + o.path("queuesLeftOut").asInt())
        .isGreaterThanOrEqualTo(queues);
    assertThat(totals.path("pending").asLong()).isEqualTo(queues);
  }

  // new API: not in the control run (see the report)
  /**
   * Over the cap the overview keeps the default queue, the paused ones, then the fullest, in the
   * broker's order.
   */
  @Test
  void overTheCapTheOverviewKeepsTheDefaultQueueThePausedOnesThenTheFullest() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).maxOverviewQueues(3));
    server.sendTask(Signature.create("add")); // the default queue
    Map.of("quiet", 1, "busy", 5, "middling", 3, "held", 1)
        .forEach(
            (queue, tasks) -> {
              for (int i = 0; i < tasks; i++) {
                server.sendTask(Signature.builder("add").routingKey(queue).build());
              }
            });
    io.machinery.Inspection.of(server).pause("held");
    JsonNode o = http.json("/api/overview");
    assertThat(o.path("queues"))
        .extracting(q -> q.path("queue").asText())
        .containsExactlyInAnyOrder(server.config().defaultQueue(), "held", "busy");
    assertThat(o.path("queuesLeftOut").asInt()).isEqualTo(2);
    assertThat(o.path("totals").path("pending").asLong()).isEqualTo(11);
    assertThatThrownBy(() -> Dashboard.builder(server).maxOverviewQueues(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1..10000");
  }

  // end of new API

  /**
   * The read timeout and the reads running at once are settings (DashboardBrokerDownIT shows them
   * at work): zero, negative or absurd values are refused where they are set, saying the range.
   */
  @Test
  void theReadBoundsRefuseZeroNegativeAndAbsurdValues() {
    Dashboard.Builder builder = Dashboard.builder(server);
    for (Duration wrong :
        List.of(
            Duration.ZERO, Duration.ofSeconds(-1), Duration.ofNanos(999), Duration.ofHours(2))) {
      assertThatThrownBy(() -> builder.readTimeout(wrong))
          .as(wrong.toString())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "readTimeout must be from 1ms to 1h (how long a read waits for the broker), was "
                  + wrong);
    }
    for (int wrong : new int[] {0, -1, 10_001}) {
      assertThatThrownBy(() -> builder.maxConcurrentReads(wrong))
          .as("%d", wrong)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("maxConcurrentReads must be 1..10000 (reads running at once), was " + wrong);
    }
    builder.readTimeout(Duration.ofMillis(1)).readTimeout(Duration.ofHours(1));
    builder.maxConcurrentReads(1).maxConcurrentReads(10_000).build().close();
  }

  /**
   * A failure answered 500 with the exception's message, which can name internal hosts or carry a
   * broker URI with its password. It answers a generic message with an error id, and logs the
   * exception once with that id.
   */
  @Test
  void aFailureAnswersAGenericMessageWithAnIdAndIsLoggedOnceWithIt() throws Exception {
    ListAppender<ILoggingEvent> logged = recordDashboardLog();
    HttpProbe.Response r =
        overviewWhenListingFails(
            secret -> new IllegalStateException("cannot connect to " + secret));
    assertThat(r.status()).isEqualTo(500);
    String id = HttpProbe.JSON.readTree(r.body()).path("errorId").asText();
    assertThat(id).isNotBlank();
    assertThat(HttpProbe.JSON.readTree(r.body()).path("error").asText()).contains(id);
    List<ILoggingEvent> withId =
        List.copyOf(logged.list).stream()
            .filter(e -> e.getFormattedMessage().contains(id))
            .toList();
    assertThat(withId).hasSize(1);
    assertThat(withId.get(0).getThrowableProxy().getMessage()).contains(SECRET);
  }

  /**
   * Bound beyond loopback, reads needed no token: anyone on the network read task arguments, which
   * can hold personal data. With a token, reads need it too (the page and its script do not: they
   * hold no data, and the page asks for the token); an authenticator is asked about reads as {@code
   * read} with no queue.
   */
  @Test
  void boundBeyondLoopbackReadsNeedTheTokenToo() throws Exception {
    HttpProbe http = start(Dashboard.builder(server).bindAddress("0.0.0.0").token(TOKEN));
    String uuid = server.sendTask(Signature.create("add")).taskUuid();
    List<String> reads =
        List.of(
            "/api/overview",
            "/api/queue?tab=pending",
            "/api/task?uuid=" + uuid,
            "/api/task/raw?uuid=" + uuid,
            "/api/deadletter/raw?id=1",
            "/api/workers",
            "/api/periodic",
            "/api/limits",
            "/api/breakers");
    for (String path : reads) {
      HttpProbe.Response none = http.get(path);
      assertThat(none.status()).as(path).isEqualTo(401);
      assertThat(none.text()).as(path).doesNotContain(uuid).contains("needs its token to read");
      assertThat(http.get(path, Dashboard.TOKEN_HEADER, "wrong-token").status())
          .as(path)
          .isEqualTo(401);
    }
    HttpProbe.Response withToken = http.get("/api/overview", Dashboard.TOKEN_HEADER, TOKEN);
    assertThat(withToken.status()).isEqualTo(200);
    assertThat(HttpProbe.JSON.readTree(withToken.body()).path("readsNeedToken").asBoolean())
        .isTrue();
    assertThat(http.get("/api/task?uuid=" + uuid, Dashboard.TOKEN_HEADER, TOKEN).text())
        .contains(uuid);
    assertThat(http.get("/").status()).as("the page").isEqualTo(200);
    assertThat(http.get("/app.js").status()).as("its script").isEqualTo(200);
  }

  // new API: not in the control run (see the report)
  /**
   * Beyond loopback an authenticator is asked about each read as {@code read} with no queue; with
   * {@code openReads(true)} reads are open while actions still need the token; and a dashboard with
   * nothing to guard its reads is refused when built.
   */
  @Test
  void beyondLoopbackAnAuthenticatorDecidesReadsOpenReadsOpensThemAndNoGuardIsRefused()
      throws Exception {
    List<String> asked = new ArrayList<>();
    HttpProbe guarded =
        start(
            Dashboard.builder(server)
                .bindAddress("0.0.0.0")
                .authenticator(
                    (action, queue, header) -> {
                      asked.add(action + "[" + queue + "]");
                      return "alice".equals(header.apply("X-Reader"));
                    }));
    assertThat(guarded.get("/api/overview").status()).isEqualTo(401);
    assertThat(guarded.get("/api/overview", "X-Reader", "alice").status()).isEqualTo(200);
    assertThat(asked).containsExactly("read[]", "read[]");

    HttpProbe open =
        start(Dashboard.builder(server).bindAddress("0.0.0.0").token(TOKEN).openReads(true));
    JsonNode o = open.json("/api/overview");
    assertThat(o.path("readsNeedToken").asBoolean()).isFalse();
    assertThat(o.path("actions").asBoolean()).isTrue();
    assertThat(open.post("/api/action/pause", "{}").status()).isEqualTo(401);
    assertThat(open.post("/api/action/pause", "{}", Dashboard.TOKEN_HEADER, TOKEN).status())
        .isEqualTo(200);

    HttpProbe loopback = start(Dashboard.builder(server).token(TOKEN));
    assertThat(loopback.json("/api/overview").path("readsNeedToken").asBoolean())
        .as("on loopback the Host check guards reads")
        .isFalse();

    assertThatThrownBy(() -> Dashboard.builder(server).bindAddress("0.0.0.0").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("0.0.0.0")
        .hasMessageContaining("openReads(true)");
    Dashboard readable = Dashboard.builder(server).bindAddress("0.0.0.0").openReads(true).build();
    readable.close();
  }
  // end of new API
}
