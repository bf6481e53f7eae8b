package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Batched task functions ({@link TaskFunction#batched}) on the memory broker and backend with a
 * real worker: a batch runs when full or due, each task ends with its own result or error, and a
 * task cancelled while its batch waits leaves it. The contract on every broker is in the test kit's
 * {@code AcceptanceSuite}.
 */
class BatchedTaskTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  /** Longer than any test: a batch with this delay runs only when it is full. */
  private static final Duration NEVER = Duration.ofMinutes(10);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());

  /** The UUIDs of the runs the worker finished. */
  private final java.util.Set<String> finished = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** The batch calls the listener heard of, in order. */
  private final List<BatchRun> runs = Collections.synchronizedList(new ArrayList<>());

  /**
   * What the listener heard before and after each call (the tasks' arguments), and on which thread.
   */
  private final List<String> reports = Collections.synchronizedList(new ArrayList<>());

  /** The thread of each call of the batch function. */
  private final List<Long> callThreads = Collections.synchronizedList(new ArrayList<>());

  private final Server server =
      Server.builder()
          .config(config)
          .broker(broker)
          .backend(backend)
          .listener(
              new TaskListener() {
                @Override
                public void finished(TaskOutcome outcome) {
                  finished.add(outcome.signature().uuid());
                }

                @Override
                public void batchStarting(String key, List<Signature> tasks) {
                  reports.add(
                      "starting "
                          + tasks.stream().map(t -> t.args().get(0).value()).toList()
                          + " on "
                          + Thread.currentThread().threadId());
                }

                @Override
                public void batchRan(BatchRun run) {
                  runs.add(run);
                  reports.add("ran " + run.size() + " on " + Thread.currentThread().threadId());
                }
              })
          .build();

  /** The arguments of each batch the function received, in call order. */
  private final List<List<Long>> batches = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    backend.close();
  }

  private void registerDouble(BatchPolicy policy) {
    server.registerTask(
        "double",
        TaskFunction.batched(
            Long.class,
            policy,
            args -> {
              batches.add(List.copyOf(args));
              callThreads.add(Thread.currentThread().threadId());
              return args.stream().map(a -> a * 2).toList();
            }));
  }

  private void startWorker() {
    server
        .workerBuilder("batch")
        .concurrency(10)
        .heartbeatInterval(Duration.ofMillis(100))
        .build()
        .launchAsync();
  }

  private List<AsyncResult> send(String task, long... args) {
    return server.sendTasks(
        LongStream.of(args).mapToObj(a -> Signature.create(task, Arg.of(a))).toList());
  }

  @Test
  void aFullBatchRunsAtOnceAndEachTaskEndsWithItsOwnResult() {
    registerDouble(BatchPolicy.of(5, NEVER));
    startWorker();

    List<AsyncResult> results = send("double", 1, 2, 3, 4, 5);

    for (int i = 0; i < 5; i++) {
      assertThat(results.get(i).get(PATIENCE)).containsExactly(2L * (i + 1));
    }
    assertThat(batches).hasSize(1);
    assertThat(batches.get(0)).containsExactlyInAnyOrder(1L, 2L, 3L, 4L, 5L);
    // told before the tasks take their results, so already here
    assertThat(runs)
        .singleElement()
        .satisfies(
            run -> {
              assertThat(run.task()).isEqualTo("double");
              assertThat(run.key()).isEmpty();
              assertThat(run.size()).isEqualTo(5);
              assertThat(run.runTime()).isGreaterThanOrEqualTo(Duration.ZERO);
              assertThat(run.error()).isNull();
            });
    // told of the tasks before the call, in the function's order, on the thread that calls it
    assertThat(reports)
        .containsExactly(
            "starting " + batches.get(0) + " on " + callThreads.get(0),
            "ran 5 on " + callThreads.get(0));
  }

  @Test
  void aBatchThatDoesNotFillRunsOnceItsFirstTaskWaitedMaxDelay() {
    registerDouble(BatchPolicy.of(100, Duration.ofMillis(100)));
    startWorker();

    List<AsyncResult> results = send("double", 7, 8, 9);

    assertThat(results.get(0).get(PATIENCE)).containsExactly(14L);
    assertThat(results.get(1).get(PATIENCE)).containsExactly(16L);
    assertThat(results.get(2).get(PATIENCE)).containsExactly(18L);
    assertThat(batches.stream().flatMap(List::stream)).containsExactlyInAnyOrder(7L, 8L, 9L);
  }

  @Test
  void aThrowableInATasksPlaceFailsThatTaskAloneAndTheOthersSucceed() {
    server.registerTask(
        "picky",
        TaskFunction.batched(
            Long.class,
            BatchPolicy.of(3, NEVER),
            args ->
                args.stream()
                    .map(a -> a == 2 ? new IllegalArgumentException("no twos") : (Object) (a * 10))
                    .toList()));
    startWorker();

    List<AsyncResult> results = send("picky", 1, 2, 3);

    assertThat(results.get(0).get(PATIENCE)).containsExactly(10L);
    assertThatThrownBy(() -> results.get(1).get(PATIENCE))
        .isInstanceOf(TaskFailedException.class)
        .hasMessage("no twos");
    assertThat(results.get(2).get(PATIENCE)).containsExactly(30L);
  }

  @Test
  void aRetryLaterInATasksPlaceRunsThatTaskAgainInALaterBatch() {
    List<Integer> attempts = Collections.synchronizedList(new ArrayList<>());
    server.registerTask(
        "later",
        TaskFunction.batchedWithContext(
            List.of(Long.class),
            false,
            BatchPolicy.of(1, NEVER),
            items ->
                items.stream()
                    .map(
                        item -> {
                          attempts.add(item.context().attempt());
                          return item.context().attempt() == 1
                              ? new RetryTaskLaterException("not yet", Duration.ofMillis(10))
                              : (Object) "done";
                        })
                    .toList()));
    startWorker();

    assertThat(send("later", 1).get(0).get(PATIENCE)).containsExactly("done");
    assertThat(attempts).containsExactly(1, 2);
  }

  @Test
  void whatTheBatchFunctionThrowsFailsEveryTaskOfTheBatch() {
    server.registerTask(
        "down",
        TaskFunction.batched(
            Long.class,
            BatchPolicy.of(3, NEVER),
            args -> {
              throw new IllegalStateException("the bulk API is down");
            }));
    startWorker();

    for (AsyncResult result : send("down", 1, 2, 3)) {
      assertThatThrownBy(() -> result.get(PATIENCE))
          .isInstanceOf(TaskFailedException.class)
          .hasMessage("the bulk API is down");
    }
    assertThat(runs)
        .singleElement()
        .satisfies(
            run -> {
              assertThat(run.size()).isEqualTo(3);
              assertThat(run.error()).hasMessage("the bulk API is down");
            });
  }

  @Test
  void aWrongNumberOfResultsFailsEveryTaskOfTheBatchWithTheReason() {
    server.registerTask(
        "short", TaskFunction.batched(Long.class, BatchPolicy.of(2, NEVER), args -> List.of(1L)));
    startWorker();

    for (AsyncResult result : send("short", 1, 2)) {
      assertThatThrownBy(() -> result.get(PATIENCE))
          .isInstanceOf(TaskFailedException.class)
          .hasMessage(
              "the batch function returned 1 results for 2 tasks: it must return one per task,"
                  + " in their order");
    }
    assertThat(runs)
        .singleElement()
        .satisfies(run -> assertThat(run.error()).isInstanceOf(IllegalStateException.class));
  }

  @Test
  void aTaskCancelledWhileItsBatchWaitsLeavesItAndTheBatchRunsWithoutIt() {
    registerDouble(BatchPolicy.of(3, NEVER));
    startWorker();
    AsyncResult cancelled = send("double", 100).get(0);
    await().atMost(PATIENCE).until(() -> cancelled.state() == State.STARTED);

    server.cancel(List.of(cancelled.taskUuid()));
    assertThatThrownBy(() -> cancelled.get(PATIENCE))
        .isInstanceOf(TaskFailedException.class)
        .hasMessage(Server.CANCELLED_ERROR);
    // the client stored FAILURE; the worker's run ends once it learnt of the revocation
    await().atMost(PATIENCE).until(() -> finished.contains(cancelled.taskUuid()));
    List<AsyncResult> others = send("double", 1, 2, 3);

    for (int i = 0; i < 3; i++) {
      assertThat(others.get(i).get(PATIENCE)).containsExactly(2L * (i + 1));
    }
    assertThat(batches).hasSize(1);
    assertThat(batches.get(0)).containsExactlyInAnyOrder(1L, 2L, 3L);
  }

  @Test
  void eachItemCarriesItsTasksContextAndArguments() {
    List<String> seen = Collections.synchronizedList(new ArrayList<>());
    server.registerTask(
        "pair",
        TaskFunction.batchedWithContext(
            List.of(String.class, Long.class),
            false,
            BatchPolicy.of(2, NEVER),
            items ->
                items.stream()
                    .map(
                        item -> {
                          seen.add(item.context().signature().uuid());
                          return item.args().get(0) + "=" + item.args().get(1);
                        })
                    .toList()));
    startWorker();

    List<AsyncResult> results =
        server.sendTasks(
            List.of(
                Signature.create("pair", Arg.of("a"), Arg.of(1L)),
                Signature.create("pair", Arg.of("b"), Arg.of(2L))));

    assertThat(results.get(0).get(PATIENCE)).containsExactly("a=1");
    assertThat(results.get(1).get(PATIENCE)).containsExactly("b=2");
    assertThat(seen)
        .containsExactlyInAnyOrder(results.get(0).taskUuid(), results.get(1).taskUuid());
  }

  /** Stands in for a search engine's bulk API in the README's example. */
  static final class FakeSearchIndex {
    final List<Integer> calls = Collections.synchronizedList(new ArrayList<>());

    List<String> bulkIndex(List<String> ids) {
      calls.add(ids.size());
      return ids.stream().map(id -> "indexed " + id).toList();
    }
  }

  @Test
  void theReadmeExample() {
    FakeSearchIndex searchIndex = new FakeSearchIndex();
    // README:batched-tasks:begin
    server.registerTask(
        "index_document",
        TaskFunction.batched(
            String.class,
            BatchPolicy.of(100, Duration.ofMillis(200)), // up to 100 a call, none waits over 200 ms
            ids -> searchIndex.bulkIndex(ids))); // a List: one result per id, in their order
    // README:batched-tasks:end
    startWorker();

    List<AsyncResult> results =
        server.sendTasks(
            List.of(
                Signature.create("index_document", Arg.of("doc-1")),
                Signature.create("index_document", Arg.of("doc-2"))));

    assertThat(results.get(0).get(PATIENCE)).containsExactly("indexed doc-1");
    assertThat(results.get(1).get(PATIENCE)).containsExactly("indexed doc-2");
    assertThat(searchIndex.calls.stream().mapToInt(Integer::intValue).sum()).isEqualTo(2);
  }

  @Test
  void withAKeyABatchHoldsTasksOfOneKeyAndEachKeyFillsItsOwn() {
    List<List<String>> keyed = Collections.synchronizedList(new ArrayList<>());
    server.registerTask(
        "digest",
        TaskFunction.batchedWithContext(
            List.of(String.class, Long.class),
            false,
            BatchPolicy.of(4, NEVER),
            item -> (String) item.args().get(0),
            items -> {
              keyed.add(items.stream().map(i -> i.args().get(0) + "" + i.args().get(1)).toList());
              return items.stream().map(i -> items.size()).toList();
            }));
    startWorker(); // 10 slots for 12 tasks of 3 keys: some key always has 4 waiting

    List<Signature> tasks = new ArrayList<>();
    for (long n = 1; n <= 4; n++) {
      for (String key : List.of("a", "b", "c")) {
        tasks.add(Signature.create("digest", Arg.of(key), Arg.of(n))); // keys interleaved
      }
    }
    List<AsyncResult> results = server.sendTasks(tasks);

    for (AsyncResult result : results) {
      assertThat(result.get(PATIENCE)).containsExactly(4L);
    }
    // without keys, 12 tasks fall into batches of 4 by arrival: 1 chance in 5,775 to sort them
    assertThat(keyed)
        .hasSize(3)
        .anySatisfy(batch -> assertThat(batch).containsExactlyInAnyOrder("a1", "a2", "a3", "a4"))
        .anySatisfy(batch -> assertThat(batch).containsExactlyInAnyOrder("b1", "b2", "b3", "b4"))
        .anySatisfy(batch -> assertThat(batch).containsExactlyInAnyOrder("c1", "c2", "c3", "c4"));
    assertThat(runs)
        .extracting(run -> run.key() + ":" + run.size())
        .containsExactlyInAnyOrder("a:4", "b:4", "c:4");
  }

  @Test
  void aTaskWhoseKeyIsNullFailsWithTheReason() {
    server.registerTask(
        "keyless",
        TaskFunction.batchedWithContext(
            List.of(Long.class), false, BatchPolicy.of(1, NEVER), item -> null, items -> null));
    startWorker();

    assertThatThrownBy(() -> send("keyless", 1).get(0).get(PATIENCE))
        .isInstanceOf(TaskFailedException.class)
        .hasMessage("the batch key of a task must not be null");
  }

  @Test
  void aPolicyNeedsAtLeastOneTaskAndAPositiveDelay() {
    assertThatThrownBy(() -> BatchPolicy.of(0, NEVER))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("a batch holds at least one task, not 0");
    assertThatThrownBy(() -> BatchPolicy.of(1, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("a batch's maxDelay must be positive, was PT0S");
    assertThat(BatchPolicy.of(2, NEVER)).isEqualTo(BatchPolicy.of(2, NEVER));
  }
}
