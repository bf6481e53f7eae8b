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
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Workflow semantics on the memory broker and backend with a real worker: what a chain, a group or
 * a chord does at its edges. The contract on every broker and backend is in the test kit's {@code
 * AcceptanceSuite}, {@code ControlSuite} and {@code FaultSuite}.
 */
class WorkflowEdgeCasesTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();

  WorkflowEdgeCasesTest() {
    server.registerTask(
        "add", TaskFunction.varargs(long[].class, numbers -> LongStream.of(numbers).sum()));
  }

  @AfterEach
  void close() {
    server.close();
    broker.close();
    backend.close();
  }

  private void launchWorker() {
    server.workerBuilder("workflow").concurrency(4).build().launchAsync();
  }

  /**
   * One worker of one slot, taking tasks in queue order, that learns of revocations only at its
   * start (no heartbeat during a test); {@code finished} is told the name of each task whose run,
   * callbacks and chord included, is over.
   */
  private void launchWorkerThatLearnsOfNoRevocation(Consumer<String> finished) {
    server
        .workerBuilder("workflow")
        .concurrency(1)
        .heartbeatInterval(Duration.ofHours(1))
        .postTaskHandler(task -> finished.accept(task.name()))
        .build()
        .launchAsync();
  }

  /** Registers "block", which returns 1 once released, and "record", which notes its arguments. */
  private void registerBlockAndRecord(
      CountDownLatch started, CountDownLatch release, Map<String, List<Object>> recorded) {
    server.registerTask(
        "block",
        TaskFunction.of(
            () -> {
              started.countDown();
              release.await();
              return 1L;
            }));
    server.registerTask(
        "record",
        TaskFunction.withContext(
            List.of(Object[].class),
            true,
            (context, args) -> {
              recorded.put(context.signature().uuid(), List.of((Object[]) args[0]));
              return null;
            }));
  }

  private static Chain chainOfAdds(int length) {
    List<Signature> steps = new ArrayList<>(length);
    for (int i = 0; i < length; i++) {
      steps.add(Signature.create("add", Arg.of(1L)));
    }
    return Chain.of(steps);
  }

  @Test
  void aChainTooDeepForAWorkerToDecodeIsRefusedWhenSentInsteadOfDeadLetteredWhenReceived() {
    Chain chain = chainOfAdds(5_000); // each with an argument: one level past Go's 10,000
    assertThatThrownBy(() -> server.sendChain(chain))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nests deeper than the 10000 JSON levels a worker decodes")
        .hasMessageContaining("4,999 tasks");
    assertThat(broker.pendingTasks(config.defaultQueue())).isEmpty();
    assertThat(backend.getState(chain.tasks().get(0).uuid())).isEmpty();
  }

  @Test
  void aChainOfTenThousandTasksIsRefusedWithTheReasonNotAStackOverflow() {
    Chain chain = chainOfAdds(10_000);
    assertThatThrownBy(() -> server.sendChain(chain))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("4,999 tasks");
    assertThatThrownBy(() -> server.sendTask(chain.tasks().get(0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("4,999 tasks");
    assertThat(broker.pendingTasks(config.defaultQueue())).isEmpty();
  }

  @Test
  void aChainOf127TasksRunsToItsEnd() {
    launchWorker();
    assertThat(server.sendChain(chainOfAdds(127)).get(PATIENCE)).containsExactly(127L);
    assertThat(broker.deadLetters()).isEmpty();
  }

  @Test
  void aChainStepCancelledWhileItsParentRunsNeverRunsAndItsErrorCallbackHearsWhy()
      throws InterruptedException {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Map<String, List<Object>> recorded = new ConcurrentHashMap<>();
    registerBlockAndRecord(started, release, recorded);
    launchWorkerThatLearnsOfNoRevocation(name -> {});
    Signature onError = Signature.create("record", Arg.of("step two failed"));
    Signature stepTwo = Signature.builder("record").onError(List.of(onError)).build();
    Signature stepThree = Signature.create("record");
    Chain chain = Chain.of(Signature.create("block"), stepTwo, stepThree);
    ChainAsyncResult result = server.sendChain(chain);
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

    assertThat(server.cancel(List.of(stepTwo.uuid()))).isEqualTo(1);
    release.countDown();

    await().atMost(PATIENCE).until(() -> recorded.containsKey(onError.uuid()));
    assertThat(recorded.get(onError.uuid())).containsExactly("cancelled", "step two failed");
    assertThatThrownBy(() -> result.get(PATIENCE))
        .isInstanceOf(TaskFailedException.class)
        .hasMessageContaining("cancelled");
    assertThat(backend.getState(stepTwo.uuid()).map(TaskState::state)).contains(State.FAILURE);
    assertThat(recorded).doesNotContainKeys(stepTwo.uuid(), stepThree.uuid());
    assertThat(broker.pendingTasks(config.defaultQueue())).isEmpty();
  }

  @Test
  void aChordCallbackCancelledWhileItsMembersRunIsNotSentWhenTheyComplete()
      throws InterruptedException {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Map<String, List<Object>> recorded = new ConcurrentHashMap<>();
    registerBlockAndRecord(started, release, recorded);
    CountDownLatch groupCompleted = new CountDownLatch(1);
    launchWorkerThatLearnsOfNoRevocation(
        name -> {
          if (name.equals("add")) {
            groupCompleted.countDown(); // "block" ran first: "add" completed the group
          }
        });
    Chord chord =
        Chord.of(
            Group.of(Signature.create("block"), Signature.create("add", Arg.of(2L))),
            Signature.create("record"));
    ChordAsyncResult result = server.sendChord(chord, 0);
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

    assertThat(server.cancel(List.of(chord.callback().uuid()))).isEqualTo(1);
    release.countDown();
    assertThat(groupCompleted.await(10, TimeUnit.SECONDS)).isTrue();
    // queued behind a callback the completion would have sent, on the worker's one slot
    Signature after = Signature.create("record");
    server.sendTask(after).get(PATIENCE);

    assertThat(recorded).containsKey(after.uuid()).doesNotContainKey(chord.callback().uuid());
    // awaited: ci-run155 read a member as STARTED here once (why is not established)
    await()
        .atMost(PATIENCE)
        .untilAsserted(
            () ->
                assertThat(result.groupResults())
                    .allSatisfy(member -> assertThat(member.state()).isEqualTo(State.SUCCESS)));
    assertThatThrownBy(() -> result.get(PATIENCE)).hasMessageContaining("cancelled");
    assertThat(backend.getState(chord.callback().uuid()).map(TaskState::error))
        .contains("cancelled");
  }
}
