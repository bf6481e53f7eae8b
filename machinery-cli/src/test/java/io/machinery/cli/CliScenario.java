package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Server;
import io.machinery.TaskBreaker;
import io.machinery.TaskFunction;
import io.machinery.TaskLimit;
import io.machinery.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.function.UnaryOperator;
import java.util.stream.StreamSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The command end to end on one deployment: every step runs {@code machinery ...} as a user would
 * (in this JVM, output captured) and reads its {@code --json} back; a worker in this JVM plays the
 * deployment's worker. One subclass per deployment (memory, Redis, RabbitMQ), as the library's
 * contract kits.
 */
abstract class CliScenario {
  static final Duration PATIENCE = Duration.ofSeconds(45);

  final String queue = "cli_" + UUID.randomUUID().toString().substring(0, 8);
  private final List<AutoCloseable> closing = new ArrayList<>();
  private final CountDownLatch release = new CountDownLatch(1);

  /**
   * A runner whose environment names this deployment (BROKER, RESULT_BACKEND, DEFAULT_QUEUE =
   * {@link #queue}).
   */
  abstract CliRunner cli();

  /** A server on the same deployment, for the worker; the scenario closes it. */
  abstract Server workerServer();

  /** Whether workers are listed and queues paused (the deployment has a control plane). */
  abstract boolean hasControlPlane();

  /**
   * Whether the deployment's result backend keeps uniqueness keys (the AMQP backend keeps none).
   */
  boolean keepsUniqueKeys() {
    return true;
  }

  /**
   * Whether the deployment's result backend reads states without consuming them, so {@code tasks
   * show} shows them (the AMQP backend's reads consume).
   */
  boolean readsStates() {
    return true;
  }

  /** The worker's heartbeat interval (its status lives three of them). */
  Duration heartbeat() {
    return Duration.ofMillis(100);
  }

  @AfterEach
  void closeWorkers() throws Exception {
    release.countDown();
    for (AutoCloseable c : closing.reversed()) {
      c.close();
    }
  }

  /** Closes {@code resource} after the test, once its workers and servers are closed. */
  void closeAfterWorkers(AutoCloseable resource) {
    closing.addFirst(resource);
  }

  private @Nullable Server workerSide;

  Worker launchWorker(int maxUnregisteredRequeues) {
    return launchWorker(maxUnregisteredRequeues, UnaryOperator.identity());
  }

  /** A worker of {@link #queue} with what {@code more} adds to its builder (a breaker, say). */
  Worker launchWorker(int maxUnregisteredRequeues, UnaryOperator<Worker.Builder> more) {
    Server server = workerServer();
    closing.add(server);
    workerSide = server;
    server.registerTask("add", TaskFunction.varargs(long[].class, n -> n[0] + n[1]));
    server.registerTask(
        "block",
        TaskFunction.of(
            () -> {
              release.await();
              return "released";
            }));
    server.registerTask(
        "fail",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("failed on purpose");
            }));
    Worker worker =
        more.apply(
                server
                    .workerBuilder("cli-it")
                    .queue(queue)
                    .concurrency(2)
                    .heartbeatInterval(heartbeat())
                    .maxUnregisteredRequeues(maxUnregisteredRequeues))
            .build();
    worker.launchAsync();
    return worker;
  }

  String send(String... args) {
    List<String> line = new ArrayList<>(List.of("send", "--json", "--queue", queue));
    line.addAll(List.of(args));
    return cli().ok(line.toArray(String[]::new)).json().path("uuid").asText();
  }

  JsonNode queueStats() {
    return cli().ok("queues", "--queue", queue, "--json").json().get(0);
  }

  @Test
  void sentTasksAreCountedListedShownAndPurged() {
    List<String> uuids =
        List.of(
            send("add", "int64:1", "int64:2", "--expires", "2030-01-01T00:00:00Z"),
            send("add", "int64:3", "int64:4"),
            send("add", "int64:5", "int64:6"));

    assertThat(queueStats().path("pending").asLong()).isEqualTo(3);
    assertThat(cli().ok("queues", "--queue", queue).out())
        .containsPattern(queue + "\\s+3\\s+0\\s+0");
    JsonNode page = cli().ok("tasks", "list", "--queue", queue, "--json").json();
    assertThat(CliRunner.texts(page, "uuid")).containsExactlyElementsOf(uuids);
    assertThat(page.get(0).path("args").get(0).path("type").asText()).isEqualTo("int64");
    assertThat(
            CliRunner.texts(
                cli()
                    .ok(
                        "tasks",
                        "list",
                        "--queue",
                        queue,
                        "--offset",
                        "1",
                        "--limit",
                        "1",
                        "--json")
                    .json(),
                "uuid"))
        .containsExactly(uuids.get(1));
    assertThat(cli().ok("tasks", "list", "--queue", queue).out())
        .contains(uuids.get(2))
        .contains("int64:5 int64:6");

    JsonNode shown = cli().ok("tasks", "show", uuids.get(0), "--json").json();
    assertThat(shown.path("location").asText()).isEqualTo("PENDING");
    assertThat(shown.path("task").path("name").asText()).isEqualTo("add");
    assertThat(shown.path("task").path("expires").asText()).isEqualTo("2030-01-01T00:00:00Z");
    assertThat(cli().ok("tasks", "show", uuids.get(0)).out())
        .contains("pending")
        .contains("int64:1 int64:2")
        .containsPattern("expires +2030-01-01T00:00:00Z");

    String delayed = send("add", "int64:7", "int64:8", "--eta", "1h");
    // Awaited: RabbitMQ's delay queues are found through the management API, whose statistics lag
    // by up to 5 s (AmqpInspector's notes), so a just-created delay queue may not be listed yet.
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(
                        CliRunner.texts(
                            cli()
                                .ok(
                                    "tasks", "list", "--state", "delayed", "--queue", queue,
                                    "--json")
                                .json(),
                            "uuid"))
                    .containsExactly(delayed));

    assertThat(cli().ok("purge", queue, "--json").json().path("count").asLong()).isEqualTo(3);
    assertThat(queueStats().path("pending").asLong()).isZero();
  }

  @Test
  void sendWaitPrintsTheResultAndAFailedTaskExitsFive() {
    launchWorker(3);
    JsonNode done =
        cli().ok("send", "add", "int64:40", "int64:2", "--queue", queue, "--wait", "--json").json();
    assertThat(done.path("state").path("state").asText()).isEqualTo("SUCCESS");
    assertThat(done.path("state").path("results").get(0).path("value").asLong()).isEqualTo(42);
    assertThat(cli().ok("send", "add", "int64:1", "int64:1", "--queue", queue, "--wait").out())
        .contains("SUCCESS int64:2");

    CliRunner.Result failed = cli().run("send", "fail", "--queue", queue, "--wait");
    assertThat(failed.code()).isEqualTo(MachineryCli.EXIT_TASK_FAILED);
    assertThat(failed.err()).contains("failed on purpose");

    CliRunner.Result expired =
        cli()
            .run(
                "send",
                "add",
                "int64:1",
                "int64:1",
                "--queue",
                queue,
                "--expires",
                "2020-01-01T00:00:00Z",
                "--wait");
    assertThat(expired.code()).isEqualTo(MachineryCli.EXIT_TASK_FAILED);
    assertThat(expired.err()).contains("expired: not started by 2020-01-01T00:00:00Z");
    assertThat(
            cli()
                .ok(
                    "send",
                    "add",
                    "int64:2",
                    "int64:2",
                    "--queue",
                    queue,
                    "--expires",
                    "1h",
                    "--wait")
                .out())
        .contains("SUCCESS int64:4");
    CliRunner.Result never =
        cli().run("send", "add", "int64:1", "int64:1", "--eta", "1h", "--expires", "1m");
    assertThat(never.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(never.err()).contains("before its ETA").contains("it could never run");
    CliRunner.Result bad = cli().run("send", "add", "int64:1", "int64:1", "--expires", "soon");
    assertThat(bad.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(bad.err())
        .contains("--expires 'soon' is neither an ISO-8601 time nor a Go duration");
  }

  @Test
  void aUniqueSendGoesOutOnceUntilItsTaskHasRun() {
    if (!keepsUniqueKeys()) {
      CliRunner.Result refused =
          cli().run("send", "--queue", queue, "add", "int64:7", "int64:8", "--unique", "1m");
      assertThat(refused.code()).isEqualTo(MachineryCli.EXIT_UNSUPPORTED);
      assertThat(refused.err()).contains("cannot keep uniqueness keys");
      return;
    }
    String first = send("add", "int64:7", "int64:8", "--unique", "1m");
    JsonNode again =
        cli()
            .ok("send", "--json", "--queue", queue, "add", "int64:7", "int64:8", "--unique", "1m")
            .json();
    assertThat(again.path("uuid").asText()).isEqualTo(first);
    assertThat(again.path("duplicate").asBoolean()).isTrue();
    assertThat(
            cli().ok("send", "--queue", queue, "add", "int64:7", "int64:8", "--unique", "1m").out())
        .contains("add already sent as " + first);
    assertThat(send("add", "int64:1", "int64:2", "--unique", "1m"))
        .as("other arguments, another key")
        .isNotEqualTo(first);
    String key = "report-" + queue;
    String keyed = send("add", "int64:1", "int64:1", "--unique", "1m", "--unique-key", key);
    assertThat(send("add", "int64:2", "int64:2", "--unique", "1m", "--unique-key", key))
        .as("other arguments, the same key")
        .isEqualTo(keyed);
    assertThat(queueStats().path("pending").asLong()).isEqualTo(3);

    launchWorker(3);
    assertThat(
            cli()
                .ok(
                    "send",
                    "--queue",
                    queue,
                    "add",
                    "int64:7",
                    "int64:8",
                    "--unique",
                    "1m",
                    "--wait")
                .out())
        .as("a duplicate waits for the first one's result")
        .contains("SUCCESS int64:15");
    // the worker released the key when the task finished: the same send goes out again
    await()
        .atMost(PATIENCE)
        .until(() -> !send("add", "int64:7", "int64:8", "--unique", "1m").equals(first));

    CliRunner.Result keyAlone =
        cli().run("send", "--queue", queue, "add", "int64:1", "int64:1", "--unique-key", key);
    assertThat(keyAlone.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(keyAlone.err()).contains("--unique-key needs --unique DURATION");
  }

  @Test
  void aCancelledTaskIsStoredAsCancelledNeverRunsAndGivesItsUniqueKeyUp() {
    assertThat(cli().run("cancel").code()).as("no UUID").isEqualTo(MachineryCli.EXIT_USAGE);
    String waiting = send("add", "int64:1", "int64:2");
    JsonNode cancelled = cli().ok("cancel", "--json", waiting, waiting).json();
    assertThat(cancelled.path("count").asInt()).as("a UUID given twice counts once").isEqualTo(1);
    assertThat(cancelled.path("storedFailure").asInt()).isEqualTo(1);
    assertThat(cancelled.path("uuids").get(0).asText()).isEqualTo(waiting);
    if (keepsUniqueKeys()) {
      String unique = send("add", "int64:3", "int64:4", "--unique", "1h");
      assertThat(send("add", "int64:3", "int64:4", "--unique", "1h")).isEqualTo(unique);
      assertThat(cli().ok("cancel", unique).out())
          .isEqualTo("cancelled 1 task: 1 stored as FAILURE cancelled%n".formatted());
      assertThat(send("add", "int64:3", "int64:4", "--unique", "1h"))
          .as("the cancelled holder gave its key up")
          .isNotEqualTo(unique);
    }

    launchWorker(3);
    String ran = send("add", "int64:2", "int64:2");
    assertThat(cli().ok("send", "--queue", queue, "add", "int64:5", "int64:5", "--wait").out())
        .contains("SUCCESS int64:10");
    if (!readsStates()) {
      return; // the AMQP backend's states are not read here; AmqpAmqpControlIT covers its cancels
    }
    // once the worker has taken and settled it (no longer waiting or running), its state shows
    // whether it ran: a run would have stored SUCCESS int64:3
    await()
        .atMost(PATIENCE)
        .until(
            () -> {
              String location =
                  cli().ok("tasks", "show", waiting, "--json").json().path("location").asText();
              return !location.equals("PENDING") && !location.equals("RUNNING");
            });
    JsonNode state = cli().ok("tasks", "show", waiting, "--json").json().path("state");
    assertThat(state.path("state").asText())
        .as("cancelled while waiting: the worker skipped it")
        .isEqualTo("FAILURE");
    assertThat(state.path("error").asText()).isEqualTo(Server.CANCELLED_ERROR);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                cli()
                    .ok("tasks", "show", ran, "--json")
                    .json()
                    .path("state")
                    .path("state")
                    .asText()
                    .equals("SUCCESS"));
    assertThat(cli().ok("cancel", ran, waiting).out())
        .isEqualTo(
            "cancelled 2 tasks: 0 stored as FAILURE cancelled, 2 had finished already%n"
                .formatted());
  }

  @Test
  void aRunningWorkerIsListedAndFollowsPauseAndResume() {
    Assumptions.assumeTrue(hasControlPlane(), "this deployment has no control plane");
    Worker worker = launchWorker(3, b -> b.limit("block", TaskLimit.maxConcurrent(5)));
    String blocked = send("block");
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              JsonNode workers = cli().ok("workers", "--queue", queue, "--json").json();
              assertThat(CliRunner.texts(workers, "id"))
                  .containsExactly(worker.controlPlaneId().orElseThrow());
              assertThat(CliRunner.texts(workers.get(0).path("running"), "uuid"))
                  .containsExactly(blocked);
              assertThat(workers.get(0).path("broker").asText())
                  .as("the broker it takes tasks from, without credentials")
                  .contains("://")
                  .doesNotContain("@");
              assertThat(workers.get(0).path("resultBackend").asText())
                  .as("where it stores results, without credentials")
                  .contains("://")
                  .doesNotContain("@");
              JsonNode own = workers.get(0).path("limits").path("block");
              assertThat(own.path("maxConcurrent").asInt())
                  .as("the worker's own limit")
                  .isEqualTo(5);
              assertThat(own.path("ratePermits").asInt()).isZero();
              assertThat(own.path("perKey").asBoolean()).isFalse();
              assertThat(own.path("fromControlPlane").asBoolean()).isFalse();
            });
    // Awaited, not asserted once: RabbitMQ's control plane reads a status by taking it and handing
    // it back, so a
    // read right after another (or during a heartbeat) may miss it for a moment.
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(
                        CliRunner.texts(
                            cli()
                                .ok(
                                    "tasks", "list", "--state", "running", "--queue", queue,
                                    "--json")
                                .json(),
                            "uuid"))
                    .containsExactly(blocked));
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(
                        cli().ok("tasks", "show", blocked, "--json").json().path("worker").asText())
                    .isEqualTo(worker.controlPlaneId().orElseThrow()));
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(cli().ok("workers").out())
                    .contains("RESULTS")
                    .contains("LIMITS")
                    .contains("STATE")
                    .contains("consuming")
                    .contains(worker.controlPlaneId().orElseThrow())
                    .contains("1/2")
                    .contains("block max 5"));

    cli().ok("pause", queue);
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                cli()
                    .ok("workers", "--queue", queue, "--json")
                    .json()
                    .path(0)
                    .path("paused")
                    .asBoolean());
    assertThat(queueStats().path("paused").asBoolean()).isTrue();
    String waiting = send("add", "int64:2", "int64:3");
    await()
        .during(Duration.ofMillis(500))
        .atMost(PATIENCE)
        .until(
            () ->
                cli()
                    .ok("tasks", "show", waiting, "--json")
                    .json()
                    .path("location")
                    .asText()
                    .equals("PENDING"));

    cli().ok("resume", queue);
    // Read through the worker's server: an AMQP backend's state can be read once only, so not by
    // `tasks show`.
    assertThat(workerSide.asyncResult(waiting).getValue(PATIENCE)).isEqualTo(5L);
    assertThat(queueStats().path("paused").asBoolean()).isFalse();
  }

  @Test
  void aTaskLimitIsSetListedAndClearedAndTheWorkerFollowsIt() {
    String task = queue + "_limited"; // the control plane's limits are global: a name of our own
    Worker worker =
        launchWorker(
            3,
            b -> b.limit("fail", TaskLimit.builder().maxConcurrent(4).key(s -> "failing").build()));
    assertThat(cli().ok("limit", task, "--rate", "10/s", "--max-concurrent", "2").out())
        .contains("limited " + task + " to 10 per 1s, burst 10, at most 2 at once");

    JsonNode listed =
        java.util.stream.StreamSupport.stream(
                cli().ok("limits", "--json").json().spliterator(), false)
            .filter(limit -> limit.path("task").asText().equals(task))
            .findFirst()
            .orElseThrow();
    assertThat(listed.path("ratePermits").asInt()).isEqualTo(10);
    assertThat(listed.path("ratePeriod").asText()).isEqualTo("1s");
    assertThat(listed.path("burst").asInt()).as("the rate's permits by default").isEqualTo(10);
    assertThat(listed.path("maxConcurrent").asInt()).isEqualTo(2);
    assertThat(cli().ok("limits").out()).containsPattern(task + " +10/1s +10 +2");
    await().atMost(PATIENCE).until(() -> worker.limits().containsKey(task));
    assertThat(worker.limits().get(task).interval()).isEqualTo(Duration.ofMillis(100));
    // every worker's heartbeat tells the limits it enforces, and which an operator set
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> {
              JsonNode limits =
                  cli().ok("workers", "--queue", queue, "--json").json().path(0).path("limits");
              JsonNode set = limits.path(task);
              assertThat(set.path("ratePermits").asInt()).isEqualTo(10);
              assertThat(set.path("ratePeriodMillis").asLong()).isEqualTo(1000);
              assertThat(set.path("burst").asInt()).isEqualTo(10);
              assertThat(set.path("maxConcurrent").asInt()).isEqualTo(2);
              assertThat(set.path("perKey").asBoolean()).isFalse();
              assertThat(set.path("fromControlPlane").asBoolean()).isTrue();
              JsonNode own = limits.path("fail");
              assertThat(own.path("maxConcurrent").asInt()).isEqualTo(4);
              assertThat(own.path("perKey").asBoolean()).as("a key function of its own").isTrue();
              assertThat(own.path("fromControlPlane").asBoolean()).isFalse();
            });
    assertThat(cli().ok("workers", "--queue", queue).out())
        .containsPattern("LIMITS +RUNNING")
        .contains(task + " 10/1s max 2 (set)")
        .contains("fail max 4 per key");

    cli().ok("limit", task, "--rate", "1/500ms", "--burst", "1");
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                worker.limits().containsKey(task)
                    && worker.limits().get(task).interval().equals(Duration.ofMillis(500)));
    assertThat(worker.limits().get(task).maxConcurrent()).as("replaced, not merged").isZero();
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(cli().ok("workers", "--queue", queue).out())
                    .as("a burst equal to the permits is not repeated")
                    .contains(task + " 1/500ms (set)"));

    assertThat(cli().ok("limit", task, "--clear", "--json").json().path("action").asText())
        .isEqualTo("cleared");
    await().atMost(PATIENCE).until(() -> !worker.limits().containsKey(task));
    assertThat(cli().ok("limits").out()).doesNotContain(task);
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(cli().ok("workers", "--queue", queue).out())
                    .doesNotContain(task)
                    .contains("fail max 4 per key"));

    for (String[] bad :
        new String[][] {
          {"limit", task},
          {"limit", task, "--rate", "ten/s"},
          {"limit", task, "--rate", "10/fortnight"},
          {"limit", task, "--rate", "10"},
          {"limit", task, "--burst", "3", "--max-concurrent", "1"},
          {"limit", task, "--clear", "--rate", "1/s"}
        }) {
      CliRunner.Result refused = cli().run(bad);
      assertThat(refused.code()).as(String.join(" ", bad)).isEqualTo(MachineryCli.EXIT_USAGE);
    }
    assertThat(cli().run("limit", task).err()).contains("limit needs --rate N/PERIOD");
  }

  @Test
  void aBreakerIsOpenedListedReplacedAndClosed() {
    String key = queue + "_charge"; // the control plane's openings are global: a key of our own
    assertThat(cli().ok("breaker", key, "--open", "10m").out())
        .startsWith("opened breaker " + key + " for 10m0s, until ")
        .contains("(workers with a breaker of that key park its tasks within a heartbeat)");

    JsonNode listed = listedOpening(key);
    assertThat(listed.path("reason").asText()).isEqualTo("opened from the command line");
    assertThat(listed.path("openedBy").asText()).startsWith("cli:").contains("@");
    assertThat(listed.path("trial").isBoolean()).isTrue();
    assertThat(listed.path("trial").asBoolean()).as("an operator's, not a trial's").isFalse();
    assertThat(listed.path("leftMillis").asLong()).isPositive().isLessThanOrEqualTo(600_000);
    assertThat(java.time.Instant.parse(listed.path("until").asText())).isNotNull();
    String firstId = listed.path("id").asText();
    assertThat(firstId).isNotEmpty();
    assertThat(cli().ok("breakers").out())
        .containsPattern("KEY +UNTIL +LEFT +BY +REASON")
        .containsPattern(
            key
                + " +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ +(9m\\d+s|10m0s) +cli:\\S+ +opened"
                + " from the command line");
    JsonNode again =
        cli().ok("breaker", key, "--open", "1h30m", "--reason", "provider outage", "--json").json();
    assertThat(again.path("action").asText()).isEqualTo("opened");
    assertThat(again.path("key").asText()).isEqualTo(key);
    assertThat(again.path("reason").asText()).isEqualTo("provider outage");
    assertThat(again.path("openedBy").asText()).startsWith("cli:");
    assertThat(again.path("id").asText()).as("a new opening replaces it").isNotEqualTo(firstId);
    JsonNode replaced = listedOpening(key);
    assertThat(replaced.path("id").asText()).isEqualTo(again.path("id").asText());
    assertThat(replaced.path("reason").asText()).isEqualTo("provider outage");
    assertThat(replaced.path("leftMillis").asLong()).isGreaterThan(600_000);

    assertThat(cli().ok("breaker", key, "--close").out())
        .isEqualTo(
            "closed breaker "
                + key
                + " (workers whose breaker it opened close it within a heartbeat)"
                + System.lineSeparator());
    assertThat(cli().ok("breakers").out()).doesNotContain(key);
    JsonNode closed = cli().ok("breaker", key, "--close", "--json").json();
    assertThat(closed.path("action").asText()).as("idempotent").isEqualTo("closed");
    assertThat(closed.path("key").asText()).isEqualTo(key);

    for (String[] bad :
        new String[][] {
          {"breaker", key},
          {"breaker", key, "--open", "10m", "--close"},
          {"breaker", key, "--open", "ten minutes"},
          {"breaker", key, "--open", "10"},
          {"breaker", key, "--open", "0s"},
          {"breaker", key, "--open", "169h"},
          {"breaker", key, "--close", "--reason", "why"},
          {"breaker", "", "--open", "10m"},
          {"breaker", "k".repeat(TaskBreaker.MAX_KEY_LENGTH + 1), "--open", "10m"}
        }) {
      CliRunner.Result refused = cli().run(bad);
      assertThat(refused.code()).as(String.join(" ", bad)).isEqualTo(MachineryCli.EXIT_USAGE);
      assertThat(refused.err()).as(String.join(" ", bad)).doesNotContain("\tat ");
    }
    assertThat(cli().run("breaker", key).err())
        .contains("breaker needs --open DURATION or --close");
    assertThat(cli().run("breaker", key, "--open", "169h").err()).contains("168h0m0s");
    assertThat(cli().run("breaker", "", "--open", "10m").err()).contains("breaker key");
    assertThat(cli().ok("breakers", "--json").json().toString()).doesNotContain(key);
  }

  @Test
  void aWorkerFollowsTheBreakerOpeningsOfItsKeys() {
    String key = queue + "_refund"; // the control plane's openings are global: a key of our own
    // The breaker's key is its task's name (the default), so opening that name opens it.
    Worker worker = launchWorker(3, b -> b.breaker(key, TaskBreaker.builder().build()));
    closing.add(() -> cli().run("breaker", key, "--close")); // not left open when this fails
    cli().ok("breaker", key, "--open", "10m");
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> assertThat(worker.breakerStates()).containsEntry(key, TaskBreaker.State.OPEN));
    cli().ok("breaker", key, "--close");
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () -> assertThat(worker.breakerStates()).containsEntry(key, TaskBreaker.State.CLOSED));
  }

  /** The opening of {@code key} as {@code breakers --json} lists it. */
  private JsonNode listedOpening(String key) {
    return StreamSupport.stream(cli().ok("breakers", "--json").json().spliterator(), false)
        .filter(opening -> opening.path("key").asText().equals(key))
        .findFirst()
        .orElseThrow(() -> new AssertionError(key + " is not among the breaker openings"));
  }

  @Test
  void deadLettersAreListedRequeuedAndDeleted() {
    Worker worker = launchWorker(1);
    String first = send("ghost", "string:one");
    String second = send("ghost", "string:two");
    String other = send("phantom");
    JsonNode dead =
        await()
            .atMost(PATIENCE)
            .until(
                () ->
                    cli().ok("tasks", "list", "--state", "dead", "--queue", queue, "--json").json(),
                d -> d.size() == 3);
    worker.quit();
    assertThat(dead.get(0).path("reason").asText()).contains("not registered");
    assertThat(cli().ok("tasks", "show", first, "--json").json().path("location").asText())
        .isEqualTo("DEAD_LETTERED");
    String firstId =
        dead.findValues("id").stream()
            .map(JsonNode::asText)
            .filter(id -> deadIdOf(dead, first).equals(id))
            .findFirst()
            .orElseThrow();

    assertThat(
            cli().ok("requeue", firstId, "--queue", queue, "--json").json().path("count").asInt())
        .isEqualTo(1);
    assertThat(
            CliRunner.texts(cli().ok("tasks", "list", "--queue", queue, "--json").json(), "uuid"))
        .containsExactly(first);
    CliRunner.Result missing = cli().run("requeue", firstId, "--queue", queue);
    assertThat(missing.code()).isEqualTo(MachineryCli.EXIT_NOT_FOUND);

    assertThat(
            cli()
                .ok("delete", "--task", "phantom", "--queue", queue, "--json")
                .json()
                .path("count")
                .asInt())
        .isEqualTo(1);
    // a misspelt task name matches nothing: exit 2 as for a missing id, not "0 requeued" and 0
    for (String verb : List.of("requeue", "delete")) {
      CliRunner.Result typo = cli().run(verb, "--task", "gohst", "--queue", queue, "--json");
      assertThat(typo.code()).as(verb).isEqualTo(MachineryCli.EXIT_NOT_FOUND);
      assertThat(typo.json().path("count").asInt()).as(verb).isZero();
      assertThat(typo.err())
          .as(verb)
          .contains("no dead letter of task gohst among the dead letters of " + queue);
    }
    assertThat(
            cli().ok("requeue", "--all", "--queue", queue, "--json").json().path("count").asInt())
        .isEqualTo(1);
    assertThat(
            CliRunner.texts(cli().ok("tasks", "list", "--queue", queue, "--json").json(), "uuid"))
        .containsExactly(first, second);
    assertThat(queueStats().path("deadLettered").asLong()).isZero();
    // --all names no dead letter in particular: none left is done
    assertThat(cli().ok("requeue", "--all", "--queue", queue).out())
        .contains("requeued 0 dead letters of " + queue);
    assertThat(other).isNotEmpty();
  }

  private static String deadIdOf(JsonNode dead, String uuid) {
    for (JsonNode entry : dead) {
      if (entry.path("task").path("uuid").asText().equals(uuid)) {
        return entry.path("id").asText();
      }
    }
    throw new AssertionError(uuid + " is not among the dead letters " + dead);
  }

  @Test
  void mistakesExitWithTheirCodes() {
    CliRunner.Result unknown = cli().run("tasks", "show", "task_does-not-exist", "--queue", queue);
    assertThat(unknown.code()).isEqualTo(MachineryCli.EXIT_NOT_FOUND);
    assertThat(unknown.err()).contains("not found");
    CliRunner.Result badArg = cli().run("send", "add", "int64:abc");
    assertThat(badArg.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(badArg.err()).contains("'abc' is not a int64");
    assertThat(cli().run("send", "add", "int8:300").err()).contains("int8");
    assertThat(cli().run("tasks", "list", "--state", "sleeping").code())
        .isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(cli().run("frobnicate").code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(cli().run("requeue", "--queue", queue).code()).isEqualTo(MachineryCli.EXIT_USAGE);
    for (CliRunner.Result r : List.of(unknown, badArg)) {
      assertThat(r.err()).doesNotContain("\tat ");
    }
  }
}
