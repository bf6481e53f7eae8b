package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFailedException;
import io.machinery.TaskFunction;
import io.machinery.TaskLimit;
import io.machinery.TaskListener;
import io.machinery.TaskProgress;
import io.machinery.Worker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The control features of Machinery for Java (issue #17) beside the real Go Machinery v2 on one
 * queue: Go workers take tasks a Java worker handed back for its limit, Go clients read a cancelled
 * task's state, Go workers ignore revocations (a cancelled task they take runs), and progress
 * stored beside a state leaves Go's reads of it unchanged. Subclass it for a broker × backend pair
 * whose server has a control plane (a Redis broker or backend) and whose backend keeps progress.
 *
 * <p>Each test uses a queue of its own and starts the workers it needs: a Go worker with {@code
 * -print-starts}, so every task it starts is one JSON line ({@link GoHarness.GoWorker#output()}),
 * and Java workers whose handlers record what they start, so runs are counted on both sides.
 *
 * <p>Size: about 400 lines, one scenario per control feature and the worker set-up they share; the
 * scenarios read best beside each other, as {@code AcceptanceSuite}'s do.
 */
@Timeout(180)
abstract class ControlInteropSuite {
  static final Duration TIMEOUT = Duration.ofSeconds(30);
  private static final String LIMITED_HEADER = "machinery_limited";

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private @Nullable InteropQueue queues;

  /**
   * Whether the pair's backend takes a state away when it is read (AMQP): then Go and Java must not
   * both read one task's result.
   */
  private boolean readsConsume;

  protected abstract Pair pair();

  @BeforeAll
  static void buildHarness() {
    GoHarness.binary(); // build (or skip/fail) before touching any server
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    closeables.clear();
    if (queues != null) {
      queues.close();
    }
  }

  InteropQueue queues(String direction) {
    queues = InteropQueue.create(pair(), direction);
    return queues;
  }

  /** A Java server on {@code on}'s queue, with the interop tasks and {@code listener}, if any. */
  Server javaServer(InteropQueue on, @Nullable TaskListener listener) {
    Broker broker = pair().createBroker(on.javaConfig());
    Backend backend = pair().createBackend(on.javaConfig());
    Server.Builder builder =
        Server.builder().config(on.javaConfig()).broker(broker).backend(backend);
    if (listener != null) {
      builder.listener(listener);
    }
    Server server = builder.build();
    readsConsume = backend.consumesStatesOnRead();
    closeables.add(0, broker);
    closeables.add(0, backend);
    closeables.add(0, server);
    InteropTasks.registerWith(server);
    return server;
  }

  GoHarness.GoWorker goWorker(InteropQueue on, String concurrency) {
    GoHarness.GoWorker go =
        GoHarness.startWorker(
            GoSendsJavaWorksSuite.concat(
                on.goArgs(),
                "-concurrency",
                concurrency,
                "-print-starts",
                "-tag",
                "interop-go-control"));
    closeables.add(0, go);
    return go;
  }

  /** The tasks named {@code name} the Go worker started, one line per run. */
  static List<JsonNode> goStarts(GoHarness.GoWorker go, String name) {
    return go.output().stream().filter(n -> n.path("name").asText().equals(name)).toList();
  }

  static Set<String> uuids(List<JsonNode> starts) {
    return starts.stream().map(n -> n.path("started").asText()).collect(Collectors.toSet());
  }

  static Signature add(long a, long b) {
    return Signature.create("add", Arg.of(a), Arg.of(b));
  }

  // ------------------------------------------------------------------------------ limits

  /**
   * A Java worker holds the only slot of a concurrency cap and hands every {@code slow_add} it
   * takes back to the broker ({@code Delivery.requeue(delay, replacement)}, header {@value
   * #LIMITED_HEADER}); a Go worker on the same queue takes such replacements and runs them. Every
   * task runs exactly once across the pool, and both languages read the results.
   */
  @Test
  void tasksAJavaWorkerHandsBackForItsLimitRunOnceEachAcrossGoAndJavaWorkers() {
    InteropQueue q = queues("limits");
    Server server = javaServer(q, null);
    CountDownLatch release = new CountDownLatch(1);
    closeables.add(0, release::countDown); // a failed test must not leave hold blocking the close
    // "hold" keeps the gate's one slot taken until the test releases it (that is its work)
    server.registerTask(
        "hold",
        TaskFunction.of(
            () -> {
              release.await();
              return "held";
            }));
    String gate = "interop-gate-" + q.queue;
    TaskLimit oneAtATime = TaskLimit.builder().maxConcurrent(1).key(s -> gate).build();
    List<Signature> javaStarts = new CopyOnWriteArrayList<>();
    server
        .workerBuilder("interop-java-limits")
        .concurrency(4)
        .maxLimitDelay(Duration.ofMillis(500))
        .limit("hold", oneAtATime)
        .limit("slow_add", oneAtATime)
        .preTaskHandler(javaStarts::add)
        .build()
        .launchAsync();
    AsyncResult hold = server.sendTask(Signature.create("hold"));
    await("hold started on the Java worker")
        .atMost(TIMEOUT)
        .until(() -> javaStarts.stream().anyMatch(s -> s.uuid().equals(hold.taskUuid())));

    int n = 12;
    List<AsyncResult> sent = new ArrayList<>();
    for (long i = 1; i <= n; i++) {
      sent.add(server.sendTask(Signature.create("slow_add", Arg.of(50L), Arg.of(i), Arg.of(i))));
    }
    Set<String> sentUuids = sent.stream().map(AsyncResult::taskUuid).collect(Collectors.toSet());
    GoHarness.GoWorker go = goWorker(q, "2");
    // the Java worker can run no slow_add while hold has the slot: what it takes comes back
    // limited, and the Go worker runs it
    await("a Go run of a task the Java worker handed back")
        .atMost(TIMEOUT)
        .until(
            () ->
                goStarts(go, "slow_add").stream()
                    .anyMatch(s -> s.path("headers").path(LIMITED_HEADER).asInt(0) > 0));
    release.countDown();
    String limitedUuid =
        goStarts(go, "slow_add").stream()
            .filter(s -> s.path("headers").path(LIMITED_HEADER).asInt(0) > 0)
            .findFirst()
            .orElseThrow()
            .path("started")
            .asText();

    // Go reads one replacement it ran and the task Java ran, Java reads the rest (on a backend
    // whose reads consume, each result has one reader)
    JsonNode goRead = GoHarness.result(q.goArgs(), limitedUuid);
    assertThat(goRead.path("state").asText()).isEqualTo("SUCCESS");
    assertThat(goRead.path("values").get(0).asLong())
        .isEqualTo(2L * (indexOf(sent, limitedUuid) + 1));
    JsonNode holdRead = GoHarness.result(q.goArgs(), hold.taskUuid());
    assertThat(holdRead.path("values").get(0).asText())
        .as("Go reads what Java stored")
        .isEqualTo("held");
    for (int i = 0; i < n; i++) {
      if (!readsConsume || !sent.get(i).taskUuid().equals(limitedUuid)) {
        assertThat(sent.get(i).get(TIMEOUT)).containsExactly(2L * (i + 1));
      }
    }
    if (!readsConsume) {
      assertThat(hold.get(TIMEOUT)).containsExactly("held");
    }
    // none lost, none twice: one run per task, and it stays so while any copy could come back
    // (a handed-back task is away at most 1.25 x maxLimitDelay plus the broker's delay resolution)
    Supplier<List<String>> runs =
        () -> {
          List<String> all = new ArrayList<>();
          javaStarts.stream().map(Signature::uuid).filter(sentUuids::contains).forEach(all::add);
          goStarts(go, "slow_add").forEach(s -> all.add(s.path("started").asText()));
          return all;
        };
    await("one run per task")
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(10))
        .until(() -> runs.get().size() == n);
    assertThat(new HashSet<>(runs.get())).isEqualTo(sentUuids);
  }

  private static int indexOf(List<AsyncResult> results, String uuid) {
    for (int i = 0; i < results.size(); i++) {
      if (results.get(i).taskUuid().equals(uuid)) {
        return i;
      }
    }
    throw new AssertionError(uuid + " was not sent by this test");
  }

  // ------------------------------------------------------------------------------ cancel

  /**
   * {@code Server.cancel} stores FAILURE {@code cancelled}, which Go's client reads like any
   * failure; a Go worker does not know revocations: it keeps running other tasks, and when it takes
   * the cancelled task it runs it, its SUCCESS replacing the FAILURE.
   */
  @Test
  void goReadsACancelledTaskAsFailedAndGoWorkersIgnoreRevocations() {
    InteropQueue q = queues("cancel");
    Server server = javaServer(q, null);
    AsyncResult cancelled = server.sendTask(add(1, 2)); // no worker consumes the queue yet
    String uuid = cancelled.taskUuid();
    assertThat(server.cancel(List.of(uuid))).isEqualTo(1);
    assertThatThrownBy(() -> cancelled.get(TIMEOUT))
        .isInstanceOf(TaskFailedException.class)
        .hasMessageContaining(Server.CANCELLED_ERROR);
    JsonNode goRead = GoHarness.result(q.goArgs(), uuid);
    assertThat(goRead.path("state").asText()).isEqualTo("FAILURE");
    assertThat(goRead.path("error").asText()).isEqualTo(Server.CANCELLED_ERROR);
    assertThat(goRead.has("reflect_error")).isFalse();

    GoHarness.GoWorker go = goWorker(q, "2");
    assertThat(server.sendTask(add(5, 6)).get(TIMEOUT)).containsExactly(11L);
    await("the Go worker runs the cancelled task")
        .atMost(TIMEOUT)
        .until(() -> uuids(goStarts(go, "add")).contains(uuid));
    await("its SUCCESS replaces FAILURE cancelled")
        .atMost(TIMEOUT)
        .until(() -> server.asyncResult(uuid).state() == State.SUCCESS);
    assertThat(server.asyncResult(uuid).get(TIMEOUT)).containsExactly(3L);
    assertThat(GoHarness.result(q.goArgs(), uuid).path("values").get(0).asLong()).isEqualTo(3L);
  }

  /**
   * Cancelled tasks in a queue that a Java and a Go worker share: each is taken once; the Java
   * worker skips what it takes (FAILURE {@code cancelled} stays), the Go worker runs what it takes
   * (SUCCESS), and the tasks that were not cancelled all run. Cancelled tasks alternate with slow
   * ones and each worker runs one task at a time, so both workers take some of each.
   */
  @Test
  void aMixedPoolSkipsCancelledTasksOnJavaAndRunsThemOnGo() {
    InteropQueue q = queues("cancelmix");
    Set<String> javaTook = ConcurrentHashMap.newKeySet();
    Set<String> javaRan = ConcurrentHashMap.newKeySet();
    Server server =
        javaServer(
            q,
            new TaskListener() {
              @Override
              public void received(Signature signature, String queue) {
                javaTook.add(signature.uuid());
              }

              @Override
              public void started(Signature signature) {
                javaRan.add(signature.uuid());
              }
            });
    List<AsyncResult> kept = new ArrayList<>();
    List<AsyncResult> cancelled = new ArrayList<>();
    for (long i = 0; i < 10; i++) {
      kept.add(server.sendTask(Signature.create("slow_add", Arg.of(300L), Arg.of(i), Arg.of(1L))));
      cancelled.add(server.sendTask(add(i, 100)));
    }
    List<String> cancelledUuids = cancelled.stream().map(AsyncResult::taskUuid).toList();
    assertThat(server.cancel(cancelledUuids)).isEqualTo(cancelled.size());
    GoHarness.GoWorker go = goWorker(q, "1");
    server.workerBuilder("interop-java-cancel").concurrency(1).build().launchAsync();

    for (int i = 0; i < kept.size(); i++) {
      assertThat(kept.get(i).get(TIMEOUT)).containsExactly(i + 1L);
    }
    await("every cancelled task taken by one worker")
        .atMost(TIMEOUT)
        .until(
            () -> {
              Set<String> onGo = uuids(goStarts(go, "add"));
              return cancelledUuids.stream()
                  .allMatch(u -> javaTook.contains(u) || onGo.contains(u));
            });
    Set<String> onGo = uuids(goStarts(go, "add"));
    assertThat(javaRan)
        .as("cancelled tasks the Java worker ran")
        .doesNotContainAnyElementsOf(cancelledUuids);
    assertThat(onGo).as("cancelled tasks taken by Go").isNotEmpty();
    assertThat(javaTook).as("cancelled tasks taken by Java").containsAnyElementsOf(cancelledUuids);
    for (int i = 0; i < cancelled.size(); i++) {
      String uuid = cancelledUuids.get(i);
      assertThat(javaTook.contains(uuid) && onGo.contains(uuid))
          .as("%s taken by both", uuid)
          .isFalse();
      assertCancelledTaskEnded(server, uuid, onGo.contains(uuid), i + 100L);
    }
  }

  /**
   * Checks how a cancelled task of the mixed pool ended: SUCCESS {@code value} when a Go worker ran
   * it, FAILURE {@code cancelled} when the Java worker skipped it. Reads as a client does; a pair
   * whose reads take states away reads otherwise.
   */
  void assertCancelledTaskEnded(Server server, String uuid, boolean ranOnGo, long value) {
    AsyncResult fresh = server.asyncResult(uuid);
    if (ranOnGo) {
      await().atMost(TIMEOUT).until(() -> fresh.state() == State.SUCCESS);
      assertThat(fresh.get(TIMEOUT)).containsExactly(value);
    } else {
      assertThatThrownBy(() -> fresh.get(TIMEOUT))
          .isInstanceOf(TaskFailedException.class)
          .hasMessageContaining(Server.CANCELLED_ERROR);
    }
  }

  // ------------------------------------------------------------------------------ progress

  /**
   * A Java worker's task reports progress; Go reads that task's state as Go's JSON, exactly Go's
   * keys (progress is stored beside it); a task a Go worker ran has no progress, and asking for it
   * is no error.
   */
  @Test
  void progressOfAJavaTaskLeavesGoReadsUnchangedAndGoTasksHaveNone() throws IOException {
    InteropQueue q = queues("progress");
    Server server = javaServer(q, null);
    server.registerTask(
        "progress_add",
        TaskFunction.withContext(
            List.of(Long.class, Long.class),
            false,
            (context, args) -> {
              context.reportProgress(1, 2, "half way");
              return (Long) args[0] + (Long) args[1];
            }));
    Worker javaWorker = server.workerBuilder("interop-java-progress").concurrency(1).build();
    closeables.add(0, javaWorker);
    javaWorker.launchAsync();
    AsyncResult onJava = server.sendTask(Signature.create("progress_add", Arg.of(40L), Arg.of(2L)));
    // Go reads first: on a backend whose reads consume, Go's read is the only one
    JsonNode goRead = GoHarness.result(q.goArgs(), onJava.taskUuid());
    assertThat(goRead.path("state").asText()).isEqualTo("SUCCESS");
    assertThat(goRead.path("values").get(0).asLong()).isEqualTo(42L);
    assertThat(goRead.has("reflect_error")).isFalse();
    if (readsConsume) {
      // Go took every state message of the task: exactly the states, none about progress
      assertThat(goRead.path("trace").toString())
          .isEqualTo("[\"PENDING\",\"RECEIVED\",\"STARTED\",\"SUCCESS\"]");
    } else {
      assertThat(onJava.get(TIMEOUT)).containsExactly(42L);
    }
    if (pair().backend == Pair.Kind.REDIS) {
      // the stored state has exactly the keys Go's Redis backend writes
      JsonNode goState =
          GoHarness.JSON.readTree(
              Files.readString(GoHarness.goDir().resolve("captured/redis-state-add-success.json")));
      JsonNode javaState = GoHarness.JSON.readTree(q.redis().get(onJava.taskUuid()));
      assertThat(fieldNames(javaState)).isEqualTo(fieldNames(goState));
    }
    TaskProgress progress = onJava.progress().orElseThrow();
    assertThat(progress.percent()).isEqualTo(50.0);
    assertThat(progress.message()).isEqualTo("half way");

    javaWorker.close(); // from here on only the Go worker consumes
    GoHarness.GoWorker go = goWorker(q, "2");
    AsyncResult onGo = server.sendTask(add(1, 1));
    assertThat(onGo.get(TIMEOUT)).containsExactly(2L);
    // Go prints the start line before it runs the task, but the line reaches this JVM on the
    // reader thread, which may come after the result it stored (seen on a loaded CI machine)
    await("the Go worker's start line for the task it ran")
        .atMost(TIMEOUT)
        .until(() -> uuids(goStarts(go, "add")).contains(onGo.taskUuid()));
    assertThat(onGo.progress()).isEmpty();
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      names.add(it.next());
    }
    return names;
  }
}
