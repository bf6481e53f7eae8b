package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.Worker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceTasks;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Go sends, Java works: the real Go Machinery v2 client ({@code machinery-interop send}) publishes
 * Go's integration scenarios, a Java worker runs them, and the Go client reads the results Java
 * stored, through Go's own backend code ({@code tasks.ReflectTaskResults}). Subclass it for a
 * broker × backend pair.
 *
 * <p>The Java worker (concurrency 10) consumes this class's own queue for the whole class; its
 * pre-task handler records which tasks it ran, so each test also proves that Java, not some other
 * worker, did the work.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
abstract class GoSendsJavaWorksSuite {
  private static final Logger log = LoggerFactory.getLogger(GoSendsJavaWorksSuite.class);
  private static final Duration SEND_TIMEOUT = Duration.ofSeconds(90);

  InteropQueue queues;
  Broker broker;
  private Backend backend;
  private Server server;
  AcceptanceTasks tasks;

  /** Task UUID → how often the Java worker started it. */
  final Map<String, Integer> javaRuns = new ConcurrentHashMap<>();

  private final List<GoHarness.GoWorker> goWorkers = new ArrayList<>();

  protected abstract Pair pair();

  @BeforeAll
  void startJavaWorker() {
    GoHarness.binary(); // build (or skip/fail) before touching any server
    queues = InteropQueue.create(pair(), "go2java");
    broker = pair().createBroker(queues.javaConfig());
    backend = pair().createBackend(queues.javaConfig());
    server = Server.builder().config(queues.javaConfig()).broker(broker).backend(backend).build();
    tasks = InteropTasks.registerWith(server);
    Worker worker =
        server
            .workerBuilder("interop-java")
            .concurrency(10)
            .preTaskHandler(s -> javaRuns.merge(s.uuid(), 1, Integer::sum))
            .build();
    worker.launchAsync();
  }

  @AfterEach
  void stopGoWorkers() {
    goWorkers.forEach(GoHarness.GoWorker::close);
    goWorkers.clear();
  }

  @AfterAll
  void stopEverything() throws Exception {
    try {
      stopGoWorkers();
      if (server != null) {
        server.close();
      }
      if (broker != null) {
        broker.close();
      }
      if (backend != null) {
        backend.close();
      }
    } finally {
      if (queues != null) {
        queues.close();
      }
    }
  }

  // -----------------------------------------------------------------------------------------------
  // helpers

  /**
   * Runs {@code send -scenario <scenario>} and returns its JSON line, asserting Go judged it ok.
   */
  JsonNode goSend(String scenario, String... extra) {
    List<String> args = new ArrayList<>(queues.goArgs());
    args.addAll(List.of("-scenario", scenario, "-timeout", "30s"));
    args.addAll(List.of(extra));
    GoHarness.Run run = GoHarness.run(SEND_TIMEOUT, "send", args);
    JsonNode out = run.single();
    assertThat(out.path("ok").asBoolean())
        .as("Go's verdict on scenario %s: %s%nGo's log: %s", scenario, summary(out), run.log())
        .isTrue();
    return out;
  }

  /** Go's output without the per-task details, plus each task's final state. */
  private static String summary(JsonNode out) {
    StringBuilder states = new StringBuilder();
    out.path("tasks")
        .forEach(
            t ->
                states
                    .append(' ')
                    .append(t.path("uuid").asText())
                    .append('=')
                    .append(
                        t.path("state").asText().isEmpty() ? "(none)" : t.path("state").asText()));
    JsonNode brief = out.deepCopy();
    ((com.fasterxml.jackson.databind.node.ObjectNode) brief).remove(List.of("tasks", "uuids"));
    return brief + "; task states:" + states;
  }

  JsonNode goSendNoWait(String queue, String scenario) {
    List<String> args = new ArrayList<>(queues.goArgs(queue));
    args.addAll(List.of("-scenario", scenario, "-no-wait"));
    GoHarness.Run run = GoHarness.run(SEND_TIMEOUT, "send", args);
    assertThat(run.exitCode()).as(run.describe()).isZero();
    return run.single();
  }

  static List<String> uuids(JsonNode out) {
    List<String> uuids = new ArrayList<>();
    out.path("uuids").forEach(n -> uuids.add(n.asText()));
    return uuids;
  }

  private void assertRanOnJava(JsonNode out) {
    assertThat(javaRuns.keySet()).as("tasks the Java worker ran").containsAll(uuids(out));
  }

  static JsonNode json(String text) {
    try {
      return GoHarness.JSON.readTree(text);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  // ------------------------------------------------------------------------------------------------- tests

  @Test
  void singleTasks() {
    assertThat(goSend("task").path("results")).isEqualTo(json("[2]"));
    assertThat(goSend("sum").path("results")).isEqualTo(json("[3]"));
    JsonNode multi = goSend("multi");
    assertThat(multi.path("results")).isEqualTo(json("[\"foo\",\"bar\"]"));
    assertRanOnJava(multi);
  }

  @Test
  void errorsAndPanics() {
    JsonNode error = goSend("error");
    assertThat(error.path("error").asText()).isEqualTo("Test error");
    assertThat(error.path("tasks").get(0).path("state").asText()).isEqualTo("FAILURE");
    JsonNode panic = goSend("panic");
    assertThat(panic.path("error").asText()).isEqualTo("oops");
    assertRanOnJava(error);
    assertRanOnJava(panic);
  }

  /**
   * A Go producer's task with the header {@code machinery_expires} in the past: the Java worker
   * records FAILURE {@code expired: ...} without running it, and Go's client reads that error.
   */
  @Test
  void anExpiredTaskFromGoFailsAsExpiredWithoutRunning() {
    JsonNode out = goSend("expired");
    assertThat(out.path("error").asText()).startsWith("expired: not started by ");
    assertThat(out.path("tasks").get(0).path("state").asText()).isEqualTo("FAILURE");
    assertThat(javaRuns.keySet())
        .as("tasks the Java worker ran")
        .doesNotContainAnyElementsOf(uuids(out));
  }

  @Test
  void group() {
    JsonNode out = goSend("group");
    assertThat(out.path("results")).isEqualTo(json("[2,4,11]"));
    assertRanOnJava(out);
  }

  /** Go sends four tasks of a Java batched task function: each gets its own result. */
  @Test
  void batchedTasks() {
    JsonNode out = goSend("batched");
    assertThat(out.path("results")).isEqualTo(json("[4,9,16,25]"));
    assertRanOnJava(out);
    assertThat(tasks.batchSizes().stream().mapToInt(Integer::intValue).sum()).isEqualTo(4);
  }

  /**
   * A chain of 300 tasks from Go: its first message nests the whole chain (two JSON levels a link),
   * which Go's decoder admits (10,000 levels); the Java worker runs every link in order, each given
   * the result before it, as a Go worker does (the control, Go workers alone: {@code
   * interop/go/smoke.sh} runs {@code long_chain} among its scenarios).
   */
  @Test
  void aLongChain() {
    JsonNode out = goSend("long_chain", "-chain-length", "300");
    assertThat(out.path("results")).isEqualTo(json("[301]"));
    assertRanOnJava(out);
  }

  @Test
  void chord() {
    JsonNode out = goSend("chord");
    assertThat(out.path("results")).isEqualTo(json("[88]"));
    assertThat(out.path("callback_uuid").asText()).startsWith("chord_");
    assertRanOnJava(out); // the group members and the callback
  }

  /**
   * {@link #chordSharedByGoAndJavaWorkers} {@code -Dinterop.chordRepeats=N} times in a row (none by
   * default): the soak that shows a chord shared by Go and Java workers never loses its callback
   * (F22 on the AMQP backend).
   */
  @TestFactory
  @Timeout(value = 6, unit = TimeUnit.HOURS)
  Stream<DynamicTest> chordSharedByGoAndJavaWorkersRepeatedly() {
    return IntStream.rangeClosed(1, Integer.getInteger("interop.chordRepeats", 0))
        .mapToObj(
            i ->
                DynamicTest.dynamicTest(
                    "shared chord " + i,
                    () -> {
                      try {
                        chordSharedByGoAndJavaWorkers();
                      } finally {
                        stopGoWorkers(); // @AfterEach runs once per factory, not per dynamic test
                      }
                    }));
  }

  @Test
  void chordSharedByGoAndJavaWorkers() {
    goWorkers.add(
        GoHarness.startWorker(
            concat(
                queues.goArgs(),
                "-concurrency",
                "10",
                "-prefetch",
                "10",
                "-tag",
                "interop-go-chord")));
    JsonNode out =
        goSend(
            "wide_chord",
            "-group-size",
            Integer.toString(InteropTasks.WIDE_CHORD_SIZE),
            "-member-delay-ms",
            Long.toString(InteropTasks.MEMBER_DELAY_MS));
    assertThat(out.path("results")).isEqualTo(json("[" + InteropTasks.wideChordResult() + "]"));
    List<String> members = uuids(out).subList(0, InteropTasks.WIDE_CHORD_SIZE);
    long onJava = members.stream().filter(javaRuns::containsKey).count();
    log.info(
        "{} shared chord sent by Go: Java ran {} of {} members", pair(), onJava, members.size());
    assertThat(onJava)
        .as("group members the Java worker ran (the Go worker ran the others)")
        .isPositive()
        .isLessThan(InteropTasks.WIDE_CHORD_SIZE);
  }

  @Test
  void chain() {
    JsonNode out = goSend("chain");
    assertThat(out.path("results")).isEqualTo(json("[60]"));
    assertRanOnJava(out);
  }

  @Test
  void eta() {
    JsonNode out = goSend("eta");
    long etaNs = out.path("eta_ns").asLong();
    assertThat(out.path("results").get(0).asLong())
        .as("ran at (ns), not before the ETA")
        .isGreaterThanOrEqualTo(etaNs);
    assertRanOnJava(out);
  }

  @Test
  void automaticRetryRepublishesWithGoCountersAndDelays() throws Exception {
    try (InteropQueue.Probe probe = queues.probe()) {
      Instant sentAt = Instant.now();
      JsonNode sent = goSendNoWait(queues.queue, "retry");
      String uuid = uuids(sent).get(0);
      List<InteropQueue.Seen> seen = InteropTasks.awaitRetries(probe, uuid);
      InteropTasks.assertGoRetrySchedule(seen, sentAt);
      JsonNode result = goResult(uuid);
      assertThat(result.path("values")).isEqualTo(json("[\"ok\"]"));
      assertThat(tasks.calls(sent.path("key").asText())).as("runs on Java").isEqualTo(3);
      assertThat(javaRuns.get(uuid)).isEqualTo(3);
    }
  }

  @Test
  void retryLater() {
    JsonNode out = goSend("retry_later");
    assertThat(out.path("results")).isEqualTo(json("[\"done\"]"));
    assertThat(tasks.calls(out.path("key").asText())).isEqualTo(2);
    assertThat(javaRuns.get(uuids(out).get(0))).isEqualTo(2);
  }

  @Test
  void onErrorCallbackGetsTheErrorString() {
    JsonNode out = goSend("on_error");
    assertThat(out.path("error").asText()).isEqualTo("boom");
    assertThat(out.path("results"))
        .as("record_error's result: the error string it was given")
        .isEqualTo(json("[\"boom\"]"));
    assertRanOnJava(out); // the failing task and its callback
  }

  @Test
  void bytesAndLargeIntegers() {
    JsonNode out = goSend("types");
    // []byte travels as base64; uint64 2^64-1 and int64 2^53+1 keep every digit
    assertThat(out.path("results").get(0).asText()).isEqualTo("AAEC/w==");
    assertThat(out.path("results").get(1).bigIntegerValue())
        .isEqualTo(new BigInteger("18446744073709551615"));
    assertThat(out.path("results").get(2).asLong()).isEqualTo(9007199254740993L);
    JsonNode tasksOut = out.path("tasks");
    assertThat(tasksOut.get(0).path("results").get(0).path("Type").asText()).isEqualTo("[]uint8");
    assertThat(tasksOut.get(1).path("results").get(0).path("Type").asText()).isEqualTo("uint64");
    assertThat(tasksOut.get(2).path("results").get(0).path("Type").asText()).isEqualTo("int64");
    assertRanOnJava(out);
  }

  @Test
  void javaInspectsPendingTasksGoSent() {
    String idle = queues.extraQueue("pending");
    JsonNode task = goSendNoWait(idle, "task");
    JsonNode group = goSendNoWait(idle, "group");
    JsonNode types = goSendNoWait(idle, "types");
    List<String> expected = new ArrayList<>();
    for (JsonNode out : List.of(task, group, types)) {
      expected.addAll(uuids(out));
    }

    List<Signature> pending = broker.pendingTasks(idle);
    assertThat(pending).extracting(Signature::uuid).containsExactlyInAnyOrderElementsOf(expected);
    Map<String, Signature> byUuid =
        pending.stream().collect(Collectors.toMap(Signature::uuid, s -> s));

    Signature add = byUuid.get(uuids(task).get(0));
    assertThat(add.name()).isEqualTo("add");
    assertThat(add.routingKey()).isEqualTo(idle);
    assertThat(add.args())
        .extracting(a -> a.type() + "=" + a.typedValue())
        .containsExactly("int64=1", "int64=1");
    for (String member : uuids(group)) {
      Signature s = byUuid.get(member);
      assertThat(s.groupUuid()).isEqualTo(group.path("group_uuid").asText());
      assertThat(s.groupTaskCount()).isEqualTo(3);
    }
    Signature bytes = byUuid.get(uuids(types).get(0));
    assertThat(bytes.args().get(0).type()).isEqualTo("[]byte");
    assertThat((byte[]) bytes.args().get(0).typedValue()).containsExactly(0, 1, 2, 255);
    assertThat(byUuid.get(uuids(types).get(1)).args().get(0).typedValue())
        .isEqualTo(new BigInteger("18446744073709551615"));
    assertThat(byUuid.get(uuids(types).get(2)).args().get(0).typedValue())
        .isEqualTo(9007199254740993L);

    // inspecting takes nothing away
    assertThat(broker.pendingTasks(idle)).hasSize(expected.size());
  }

  private JsonNode goResult(String uuid) {
    return GoHarness.result(queues.goArgs(), uuid);
  }

  static List<String> concat(List<String> base, String... more) {
    List<String> all = new ArrayList<>(base);
    all.addAll(List.of(more));
    return all;
  }
}
