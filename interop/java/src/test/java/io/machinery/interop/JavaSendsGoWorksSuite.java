package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Dag;
import io.machinery.DagAsyncResult;
import io.machinery.Group;
import io.machinery.Saga;
import io.machinery.SagaFailedException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFailedException;
import io.machinery.Worker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.AcceptanceTasks;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Java sends, Go works: a Java {@link Server} publishes Go's integration scenarios, a worker of the
 * real Go Machinery v2 ({@code machinery-interop worker}) runs them, and Java reads the results Go
 * stored. Subclass it for a broker × backend pair.
 *
 * <p>One Go worker (concurrency 10) consumes this class's own queue for the whole class; no Java
 * worker does, except the one the shared-chord test adds.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
abstract class JavaSendsGoWorksSuite {
  private static final Logger log = LoggerFactory.getLogger(JavaSendsGoWorksSuite.class);
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  InteropQueue queues;
  Broker broker;
  private Backend backend;
  Server server;
  private GoHarness.GoWorker goWorker;
  private AcceptanceTasks javaTasks;

  protected abstract Pair pair();

  @BeforeAll
  void startGoWorker() {
    GoHarness.binary(); // build (or skip/fail) before touching any server
    queues = InteropQueue.create(pair(), "java2go");
    broker = pair().createBroker(queues.javaConfig());
    backend = pair().createBackend(queues.javaConfig());
    server = Server.builder().config(queues.javaConfig()).broker(broker).backend(backend).build();
    javaTasks = InteropTasks.registerWith(server); // for the Java workers of some tests
    goWorker =
        GoHarness.startWorker(
            GoSendsJavaWorksSuite.concat(
                queues.goArgs(), "-concurrency", "10", "-prefetch", "10", "-tag", "interop-go"));
  }

  @AfterAll
  void stopEverything() throws Exception {
    try {
      if (goWorker != null) {
        goWorker.close();
      }
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

  private static Signature add(long a, long b) {
    return Signature.create("add", Arg.of(a), Arg.of(b));
  }

  List<Object> send(Signature signature) {
    return server.sendTask(signature).get(TIMEOUT);
  }

  // ------------------------------------------------------------------------------------------------- tests

  @Test
  void singleTasks() {
    assertThat(send(add(1, 1))).containsExactly(2L);
    assertThat(send(Signature.create("sum", Arg.of("[]int64", List.of(1L, 2L)))))
        .containsExactly(3L);
    assertThat(
            send(
                Signature.create(
                    "return_multiple_values", Arg.of("foo"), Arg.of("bar"), Arg.of(false))))
        .containsExactly("foo", "bar");
    assertThat(send(Signature.create("return_just_error", Arg.of(""), Arg.of(false)))).isEmpty();
  }

  @Test
  void errorsAndPanics() {
    assertThatThrownBy(
            () -> send(Signature.create("return_just_error", Arg.of("Test error"), Arg.of(true))))
        .isInstanceOf(TaskFailedException.class)
        .hasMessage("Test error");
    assertThatThrownBy(() -> send(Signature.create("panic")))
        .isInstanceOf(TaskFailedException.class)
        .hasMessage("oops");
  }

  @Test
  void group() {
    List<AsyncResult> results = server.sendGroup(Group.of(add(1, 1), add(2, 2), add(5, 6)), 0);
    List<Object> values = new ArrayList<>();
    for (AsyncResult r : results) {
      values.addAll(r.get(TIMEOUT));
    }
    assertThat(values).containsExactly(2L, 4L, 11L);
  }

  @Test
  void chord() {
    Chord chord =
        Chord.of(
            Group.of(add(1, 1), add(2, 2), add(5, 6)),
            Signature.emptyBuilder().name("multiply").build());
    assertThat(server.sendChord(chord, 10).get(TIMEOUT)).containsExactly(88L);
  }

  /**
   * The control features' headers ({@code machinery_chord_error_callback} on a chord callback,
   * {@code machinery_unique_key} on a unique task, {@code machinery_expires}) do not disturb Go
   * workers: they run the tasks (an expired one too), complete the chord and store results Java
   * reads. A unique task a Go worker ran keeps its key (Go releases nothing) until the next unique
   * send finds it finished.
   */
  @Test
  void goWorkersRunTasksCarryingTheControlHeaders() {
    Chord chord =
        Chord.of(
                Group.of(add(1, 1), add(2, 2), add(5, 6)),
                Signature.emptyBuilder().name("multiply").build())
            .withErrorCallback(Signature.create("add"));
    assertThat(server.sendChord(chord, 10).get(TIMEOUT)).containsExactly(88L);
    Signature expired = add(20, 22).toBuilder().expiresAt(Instant.now().minusSeconds(1)).build();
    assertThat(server.sendTask(expired).get(TIMEOUT))
        .as("Go workers ignore machinery_expires: they run the task whenever it arrives")
        .containsExactly(42L);
    String key = "interop-" + UUID.randomUUID();
    AsyncResult unique;
    try {
      unique = server.sendTaskUnique(add(40, 2), key, Duration.ofMinutes(1));
    } catch (UnsupportedOperationException e) {
      return; // this pair's backend keeps no uniqueness keys (the AMQP backend)
    }
    assertThat(unique.get(TIMEOUT)).containsExactly(42L);
    AsyncResult again = server.sendTaskUnique(add(40, 2), key, Duration.ofMinutes(1));
    assertThat(again.taskUuid())
        .as(
            "the Go worker kept the key (it releases nothing); the next sender frees it from the"
                + " finished task and sends")
        .isNotEqualTo(unique.taskUuid());
    assertThat(again.get(TIMEOUT)).containsExactly(42L);
  }

  /**
   * A DAG's header ({@code machinery_dag}) does not disturb a Go worker either: it runs a DAG task
   * and stores its result. It cannot start the task's dependents, which live only in that header:
   * why every task of a DAG must run on a Java worker (the README says so). The dependent's missing
   * state is read after the Go worker ran a later task too, a snapshot rather than a proof: Go's
   * code has no way to send it.
   */
  @Test
  void aGoWorkerRunsADagTaskButDoesNotStartItsDependents() {
    Dag dag =
        Dag.builder()
            .task("a", add(1, 2))
            .task("b", Signature.create("add", Arg.of(10L)), "a")
            .build();
    if (backend.consumesStatesOnRead()) {
      assertThatThrownBy(() -> server.sendDag(dag))
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    DagAsyncResult result = server.sendDag(dag);
    assertThat(result.asyncResult("a").get(TIMEOUT)).containsExactly(3L);
    assertThat(send(add(2, 2))).containsExactly(4L);
    assertThat(result.asyncResult("b").taskState()).isEmpty();
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
            i -> DynamicTest.dynamicTest("shared chord " + i, this::chordSharedByGoAndJavaWorkers));
  }

  /**
   * The control for that soak: the same chord on two Go workers and no Java worker, {@code
   * -Dinterop.goControlRepeats=N} times (none by default). A loss here is Go's own.
   */
  @TestFactory
  @Timeout(value = 6, unit = TimeUnit.HOURS)
  Stream<DynamicTest> chordOnTwoGoWorkersRepeatedly() {
    int runs = Integer.getInteger("interop.goControlRepeats", 0);
    if (runs == 0) {
      return Stream.empty();
    }
    GoHarness.GoWorker second =
        GoHarness.startWorker(
            GoSendsJavaWorksSuite.concat(
                queues.goArgs(), "-concurrency", "10", "-prefetch", "10", "-tag", "interop-go-2"));
    return IntStream.rangeClosed(1, runs)
        .mapToObj(
            i ->
                DynamicTest.dynamicTest(
                    "Go-only chord " + i,
                    () -> {
                      try {
                        assertThat(server.sendChord(wideChord(), 0).get(TIMEOUT))
                            .containsExactly(InteropTasks.wideChordResult());
                      } finally {
                        if (i == runs) {
                          second.close();
                        }
                      }
                    }));
  }

  private static Chord wideChord() {
    List<Signature> members = new ArrayList<>();
    for (long i = 1; i <= InteropTasks.WIDE_CHORD_SIZE; i++) {
      members.add(
          Signature.create("slow_add", Arg.of(InteropTasks.MEMBER_DELAY_MS), Arg.of(i), Arg.of(i)));
    }
    return Chord.of(Group.of(members), Signature.emptyBuilder().name("add").build());
  }

  @Test
  void chordSharedByGoAndJavaWorkers() {
    Set<String> onJava = ConcurrentHashMap.newKeySet();
    Worker javaWorker =
        server
            .workerBuilder("interop-java-chord")
            .concurrency(10)
            .preTaskHandler(
                s -> {
                  if (s.name().equals("slow_add")) {
                    onJava.add(s.uuid());
                  }
                })
            .build();
    javaWorker.launchAsync();
    try {
      Chord chord = wideChord();
      List<Signature> members = chord.group().tasks();
      assertThat(server.sendChord(chord, 0).get(TIMEOUT))
          .containsExactly(InteropTasks.wideChordResult());
      log.info(
          "{} shared chord sent by Java: Java ran {} of {} members",
          pair(),
          onJava.size(),
          members.size());
      assertThat(onJava)
          .as("group members the Java worker ran (the Go worker ran the others)")
          .isNotEmpty()
          .hasSizeLessThan(InteropTasks.WIDE_CHORD_SIZE);
    } finally {
      javaWorker.quit();
    }
  }

  @Test
  void chain() {
    Chain chain = Chain.of(add(2, 2), add(5, 6), Signature.create("multiply", Arg.of(4L)));
    assertThat(server.sendChain(chain).get(TIMEOUT)).containsExactly(60L);
  }

  /**
   * A chain of 300 tasks from Java (its first message nests the whole chain, two JSON levels a
   * link): Go's worker runs every link and passes each result on.
   */
  @Test
  void aLongChain() {
    List<Signature> links = new ArrayList<>(List.of(add(1, 1)));
    while (links.size() < 300) {
      links.add(Signature.create("add", Arg.of(1L)));
    }
    assertThat(server.sendChain(Chain.of(links)).get(TIMEOUT)).containsExactly(301L);
  }

  @Test
  void etaInUtcAndWithAnOffset() {
    OffsetDateTime utc = OffsetDateTime.now(ZoneOffset.UTC).plusSeconds(1);
    OffsetDateTime india =
        OffsetDateTime.now(ZoneOffset.ofHoursMinutes(5, 30)).plusSeconds(1); // "+05:30" on the wire
    AsyncResult first = server.sendTask(Signature.builder("delay_test").eta(utc).build());
    AsyncResult second = server.sendTask(Signature.builder("delay_test").eta(india).build());
    for (var sent : List.of(Map.entry(first, utc), Map.entry(second, india))) {
      List<Object> result = sent.getKey().get(TIMEOUT);
      Instant eta = sent.getValue().toInstant();
      assertThat(result).hasSize(1);
      assertThat((Long) result.get(0))
          .as("ran at (ns), not before the ETA %s", sent.getValue())
          .isGreaterThanOrEqualTo(eta.getEpochSecond() * 1_000_000_000L + eta.getNano());
    }
  }

  @Test
  void automaticRetryRepublishesWithGoCountersAndDelays() throws Exception {
    String key = "retry-" + UUID.randomUUID();
    Signature task =
        Signature.builder("fail_n_times").args(Arg.of(key), Arg.of(2L)).retryCount(2).build();
    try (InteropQueue.Probe probe = queues.probe()) {
      Instant sentAt = Instant.now();
      AsyncResult result = server.sendTask(task);
      List<InteropQueue.Seen> seen = InteropTasks.awaitRetries(probe, task.uuid());
      InteropTasks.assertGoRetrySchedule(seen, sentAt);
      assertThat(result.get(TIMEOUT)).containsExactly("ok");
    }
  }

  @Test
  void retryLater() {
    String key = "later-" + UUID.randomUUID();
    Instant sentAt = Instant.now();
    assertThat(send(Signature.create("retry_later", Arg.of(key)))).containsExactly("done");
    // Go's retry_later asks for 1 s
    assertThat(Duration.between(sentAt, Instant.now()))
        .isGreaterThanOrEqualTo(Duration.ofMillis(950));
  }

  /**
   * A saga whose steps run on the Go worker: the step that fails there sends the compensations (Go
   * puts its error text before the first one's arguments, as for every error callback), and a Java
   * worker on a queue of its own runs them, last step first, with the results Go stored for the
   * steps they undo.
   */
  @Test
  void aSagaRunsItsStepsOnGoAndItsCompensationsOnAJavaWorker() {
    String javaQueue = queues.extraQueue("saga");
    String key = UUID.randomUUID().toString();
    Saga saga =
        Saga.builder()
            .step(add(1, 2), undo(key, "a", javaQueue))
            .step(
                Signature.builder("add").args(Arg.of(10L)).immutable(true).build(),
                undo(key, "b", javaQueue))
            .step(Signature.create("return_just_error", Arg.of("failed on Go"), Arg.of(true)))
            .build();
    if (backend.consumesStatesOnRead()) {
      assertThatThrownBy(() -> server.sendSaga(saga))
          .isInstanceOf(UnsupportedOperationException.class);
      return;
    }
    Worker javaWorker =
        server.workerBuilder("interop-java-saga").queue(javaQueue).concurrency(2).build();
    javaWorker.launchAsync();
    try {
      assertThatThrownBy(() -> server.sendSaga(saga).get(TIMEOUT))
          .isInstanceOfSatisfying(
              SagaFailedException.class,
              e -> {
                assertThat(e.error()).isEqualTo("failed on Go");
                assertThat(e.compensated()).isTrue();
              });
      assertThat(javaTasks.undone(key)).containsExactly("b:13", "a:3");
    } finally {
      javaWorker.quit();
    }
  }

  private static Signature undo(String key, String label, String queue) {
    return Signature.builder("undo").args(Arg.of(key), Arg.of(label)).routingKey(queue).build();
  }

  @Test
  void onErrorCallbackGetsTheErrorString() {
    Signature callback = Signature.builder("record_error").build();
    Signature failing =
        Signature.builder("return_just_error")
            .args(Arg.of("boom"), Arg.of(true))
            .onError(callback)
            .build();
    assertThatThrownBy(() -> send(failing))
        .isInstanceOf(TaskFailedException.class)
        .hasMessage("boom");
    assertThat(server.asyncResult(callback.uuid()).get(TIMEOUT)).containsExactly("boom");
  }

  @Test
  void bytesAndLargeIntegers() {
    List<Object> bytes =
        send(Signature.create("echo_bytes", Arg.of(new byte[] {0, 1, 2, (byte) 255})));
    assertThat(bytes).hasSize(1);
    assertThat((byte[]) bytes.get(0)).containsExactly(0, 1, 2, 255);
    BigInteger max = new BigInteger("18446744073709551615");
    assertThat(send(Signature.create("echo_uint64", Arg.of("uint64", max)))).containsExactly(max);
    assertThat(send(Signature.create("echo_int64", Arg.of(9007199254740993L))))
        .containsExactly(9007199254740993L);
  }

  @Test
  void goInspectsPendingTasksJavaSent() {
    String idle = queues.extraQueue("pending");
    Signature single = add(1, 1).toBuilder().routingKey(idle).build();
    Group group =
        Group.of(
            add(1, 1).toBuilder().routingKey(idle).build(),
            add(2, 2).toBuilder().routingKey(idle).build());
    Signature bytes =
        Signature.builder("echo_bytes")
            .routingKey(idle)
            .args(Arg.of(new byte[] {0, 1, 2, (byte) 255}))
            .build();
    Signature big =
        Signature.builder("echo_uint64")
            .routingKey(idle)
            .args(Arg.of("uint64", new BigInteger("18446744073709551615")))
            .build();
    server.sendTask(single);
    server.sendGroup(group, 0);
    server.sendTask(bytes);
    server.sendTask(big);

    GoHarness.Run run = GoHarness.run(Duration.ofSeconds(60), "pending", queues.goArgs(idle));
    assertThat(run.exitCode()).as(run.describe()).isZero();
    JsonNode pending = run.single();
    Map<String, JsonNode> byUuid = new HashMap<>();
    pending.forEach(s -> byUuid.put(s.path("UUID").asText(), s));
    List<String> expected = new ArrayList<>(List.of(single.uuid(), bytes.uuid(), big.uuid()));
    expected.addAll(group.taskUuids());
    assertThat(byUuid.keySet()).as(run.describe()).containsExactlyInAnyOrderElementsOf(expected);

    JsonNode add = byUuid.get(single.uuid());
    assertThat(add.path("Name").asText()).isEqualTo("add");
    assertThat(add.path("RoutingKey").asText()).isEqualTo(idle);
    assertThat(add.path("Args").toString())
        .isEqualTo(
            "[{\"Name\":\"\",\"Type\":\"int64\",\"Value\":1},{\"Name\":\"\",\"Type\":\"int64\",\"Value\":1}]");
    for (String member : group.taskUuids()) {
      assertThat(byUuid.get(member).path("GroupUUID").asText()).isEqualTo(group.groupUuid());
      assertThat(byUuid.get(member).path("GroupTaskCount").asInt()).isEqualTo(2);
    }
    assertThat(byUuid.get(bytes.uuid()).path("Args").get(0).path("Value").asText())
        .isEqualTo("AAEC/w==");
    assertThat(byUuid.get(big.uuid()).path("Args").get(0).path("Value").bigIntegerValue())
        .isEqualTo(new BigInteger("18446744073709551615"));
  }
}
