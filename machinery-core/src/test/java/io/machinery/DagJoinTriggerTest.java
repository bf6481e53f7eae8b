package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.wire.WireCodec;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Who sends a DAG task whose dependencies finish at the same time, where one of them is itself a
 * join (sent at least once, so a second copy of it may be running): the member that wins the
 * trigger sends it, the one that loses does not also send it while the winner is still sending, and
 * a winner that finds a copy running gives the trigger back (memory broker and backend, a real
 * worker, the interleavings forced by {@link FaultyBackend}'s hooks; the same contract on every
 * backend: {@code BackendContract#theWinnerOfAChordReleasesItsTriggerAndTheNextMemberWinsIt}).
 */
class DagJoinTriggerTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend memory = MemoryBackend.create(config, Clock.systemUTC());
  private final FaultyBackend backend = new FaultyBackend(memory);
  private final Map<String, AtomicInteger> sent = new ConcurrentHashMap<>();
  private final Map<String, CountDownLatch> finished = new ConcurrentHashMap<>();

  /** r1, r2, then j (after r1), then k (after j and r2): j is a join that k joins. */
  private final Dag dag =
      Dag.builder()
          .task("r1", concat("1"))
          .task("r2", concat("2"))
          .task("j", concat("j<"), "r1")
          .task("k", concat("k<"), "j", "r2")
          .build();

  /** j as its worker runs it: r1's result appended. */
  private final Signature j = dag.task("j").toBuilder().args(Arg.of("j<"), Arg.of("1")).build();

  private final Signature r2 = dag.task("r2");
  private final String k = dag.task("k").uuid();
  private final String joinOfK = DagHeader.joinGroup(k);

  private final Server server =
      Server.builder()
          .config(config)
          .broker(broker)
          .backend(backend)
          .listener(
              new TaskListener() {
                @Override
                public void sent(Signature signature, @Nullable Throwable error) {
                  sent.computeIfAbsent(signature.uuid(), k -> new AtomicInteger())
                      .incrementAndGet();
                }

                @Override
                public void finished(TaskOutcome outcome) {
                  finishedLatch(outcome.signature().uuid()).countDown();
                }
              })
          .build();

  DagJoinTriggerTest() {
    server.registerTask(
        "concat", TaskFunction.varargs(String[].class, parts -> String.join("", parts)));
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    memory.close();
  }

  private CountDownLatch finishedLatch(String uuid) {
    return finished.computeIfAbsent(uuid, k -> new CountDownLatch(1));
  }

  private static void await(CountDownLatch latch, String what) {
    try {
      if (!latch.await(PATIENCE.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError("timed out waiting for " + what);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted waiting for " + what, e);
    }
  }

  private static Signature concat(String... parts) {
    return Signature.builder("concat")
        .args(java.util.Arrays.stream(parts).map(Arg::of).toArray(Arg[]::new))
        .build();
  }

  /** {@code task} with the DAG's header, on the worker's queue: a message as a worker sends it. */
  private Signature message(Signature task) {
    return task.toBuilder()
        .header(DagHeader.HEADER, DagHeader.encode(dag.nodes()))
        .routingKey(config.defaultQueue())
        .build();
  }

  private void publish(Signature message) {
    broker.publish(message, WireCodec.encode(message));
  }

  /** k's join is recorded, and r1 and then j ran (j's first copy). */
  private void jRan() {
    memory.initGroup(joinOfK, List.of(j.uuid(), r2.uuid()));
    memory.setStateSuccess(dag.task("r1"), List.of(TaskResult.of("1")));
    memory.setStateSuccess(j, List.of(TaskResult.of("j<1")));
  }

  /** k ran with both results, sent once (once the winner r2, which sends it last, is done). */
  private void assertKRanSentOnce() {
    assertThat(server.asyncResult(k).get(PATIENCE)).containsExactly("k<j<12");
    await(finishedLatch(r2.uuid()), "r2's run to end");
    assertThat(sent.get(k)).as("sends of k").hasValue(1);
  }

  /**
   * j and r2 finish together; r2 wins the trigger of k, and j, itself a join, loses it while r2 is
   * still reading the states before it sends k. Before, j took itself for a possible copy whose
   * winner had left k to it, found k without a state and sent k too: k ran twice (a DAG tracing
   * test saw five runs of four tasks so).
   */
  @Test
  void aJoinThatLosesTheTriggerToAWinnerStillSendingTheDependentDoesNotSendItToo() {
    jRan();
    memory.setStateSuccess(r2, List.of(TaskResult.of("2")));
    CountDownLatch r2Won = new CountDownLatch(1);
    // r2 won (it reads the states only then) and waits until j is done with the trigger
    backend.beforeNextGroupRead(
        () -> {
          r2Won.countDown();
          await(finishedLatch(j.uuid()), "j's run to end");
        });
    backend.beforeTriggerBy(j.uuid(), () -> await(r2Won, "r2 to win the trigger"));
    // j's message comes again (its SUCCESS is stored: it does not run, it only completes k), and
    // r2's for the first time
    publish(message(j));
    publish(message(r2));

    server.newWorker("dag", 4).launchAsync();

    assertKRanSentOnce();
  }

  /**
   * r2 wins the trigger of k and finds j running again (a second copy, each on a first delivery);
   * that copy finishes before r2 gives the trigger back, so it loses the trigger to r2 and leaves.
   * r2 then checks the group again, wins the trigger again and sends k.
   */
  @Test
  void aCopyOfAJoinThatFinishesWhileTheWinnerReleasesTheTriggerStillGetsTheDependentSent() {
    jRan();
    backend.beforeNextGroupRead(() -> memory.setStateStarted(j)); // j's second copy starts
    backend.beforeNextRelease(
        () -> {
          publish(message(j)); // ... and its message is taken now, a first delivery
          await(finishedLatch(j.uuid()), "j's second copy to end");
        });
    publish(message(r2));

    server.newWorker("dag", 4).launchAsync();

    assertKRanSentOnce();
  }

  /**
   * On a backend that cannot release a trigger, the winner of k's trigger that found j's second
   * copy running keeps the trigger and leaves k to that copy: the copy, on its first delivery, must
   * send k when it finishes (a join of joins was lost so in DagKillKit on AMQP + Redis). The first
   * copy's SUCCESS is stored by then, so the second does not run j again: it only sends k.
   */
  @Test
  void onABackendThatCannotReleaseASecondCopyOfAJoinSendsTheDependentTheWinnerLeftToIt() {
    backend.withoutTriggerReleases();
    jRan();
    memory.setStateSuccess(r2, List.of(TaskResult.of("2")));
    // the winner, which then read j as running again (its second copy) and left k to that copy
    assertThat(memory.triggerChord(joinOfK, r2.uuid())).isEqualTo(Backend.Trigger.WON);
    publish(message(j)); // no redelivery

    server.newWorker("dag", 4).launchAsync();

    assertThat(server.asyncResult(k).get(PATIENCE)).containsExactly("k<j<12");
  }
}
