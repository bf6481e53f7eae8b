package io.machinery.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Chord;
import io.machinery.ChordAsyncResult;
import io.machinery.Group;
import io.machinery.MigratingBackend;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.TaskState;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a {@link MigratingBackend} between two real result backends must do, beyond {@link
 * BackendContract} (which a subclass also runs on it): processes not yet moved and moved ones read
 * each other's outcomes, a chord whose members run on both sides fires once, and the new backend
 * alone holds what moved processes wrote, so it can serve once the move ends.
 *
 * <p>Each test has a server still on the old backend alone (a process not yet moved) and a server
 * on the migrating backend, on one shared queue, as in a cluster halfway through moving its
 * results. Each server has a broker client of its own; which one runs a task is chosen by which
 * server launches a worker.
 */
public abstract class BackendMigrationKit {
  protected static final Duration PATIENCE = Duration.ofSeconds(30);

  protected Config config;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private Backend oldAlone;
  private Backend newAlone;
  private MigratingBackend migrating;
  private Server notYetMoved;
  private Server moved;

  /** How many {@code add} tasks each server ran: "old" (not yet moved) or "moved". */
  private final ConcurrentHashMap<String, Integer> ranOn = new ConcurrentHashMap<>();

  private final AtomicInteger callbackRuns = new AtomicInteger();

  /** The configuration tests start from (its default queue is made unique per test). */
  protected abstract Config baseConfig();

  private @Nullable MemoryBroker sharedMemoryBroker;

  /**
   * A broker client for {@code config}'s queue; called once for each server. By default one in-JVM
   * memory broker both servers share (what a backend module without a broker of its own uses).
   */
  protected Broker createBroker(Config config) {
    if (sharedMemoryBroker == null) {
      sharedMemoryBroker = MemoryBroker.create(config, Clock.systemUTC());
    }
    return sharedMemoryBroker;
  }

  /**
   * A client of the backend the cluster moves away from; called twice (the process not yet moved,
   * the migrating backend), both clients of one store.
   */
  protected abstract Backend createOldBackend(Config config);

  /**
   * A client of the backend the cluster moves to; called twice (the migrating backend, a reader
   * that stands for the cluster after the move), both clients of one store.
   */
  protected abstract Backend createNewBackend(Config config);

  @BeforeEach
  void startBothServers() {
    config = BrokerContract.uniqueQueue(baseConfig(), "backend_migration_");
    oldAlone = createOldBackend(config);
    newAlone = createNewBackend(config);
    migrating = MigratingBackend.of(createOldBackend(config), createNewBackend(config));
    notYetMoved = server(oldAlone, "old");
    moved = server(migrating, "moved");
  }

  private Server server(Backend backend, String side) {
    Broker broker = createBroker(config);
    toClose.add(broker);
    Server server = Server.builder().config(config).broker(broker).backend(backend).build();
    server.registerTask(
        "add",
        TaskFunction.of(
            Long.class,
            Long.class,
            (a, b) -> {
              ranOn.merge(side, 1, Integer::sum);
              return a + b;
            }));
    server.registerTask(
        "sum",
        TaskFunction.varargs(
            long[].class,
            values -> {
              callbackRuns.incrementAndGet();
              return LongStream.of(values).sum();
            }));
    return server;
  }

  @AfterEach
  void closeEverything() throws Exception {
    moved.close();
    notYetMoved.close();
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
    migrating.close();
    newAlone.close();
    oldAlone.close();
  }

  private static Signature add(long a, long b) {
    return Signature.create("add", Arg.of(a), Arg.of(b));
  }

  private TaskState stateIn(Backend backend, String taskUuid) {
    return backend
        .getState(taskUuid)
        .orElseThrow(() -> new AssertionError(taskUuid + " has no state in " + backend));
  }

  /**
   * The task's final state in {@code backend}, once there: the new backend gets each write right
   * after the old one, which a reader may have seen first.
   */
  private TaskState settledIn(Backend backend, String taskUuid) {
    return await()
        .atMost(PATIENCE)
        .until(
            () -> backend.getState(taskUuid),
            state -> state.isPresent() && state.get().isCompleted())
        .orElseThrow();
  }

  @Test
  void aTaskSentByAProcessNotYetMovedRunsOnAMovedWorkerAndItsSenderReadsTheOutcome() {
    moved.newWorker("moved", 2).launchAsync();
    AsyncResult result = notYetMoved.sendTask(add(2, 3));
    assertThat(result.getValue(PATIENCE))
        .as("the process not yet moved reads the old backend, which the moved worker wrote")
        .isEqualTo(5L);
    TaskState copied = settledIn(newAlone, result.taskUuid());
    assertThat(copied.state())
        .as("the new backend has the moved worker's outcome too")
        .isEqualTo(State.SUCCESS);
    assertThat(copied.results()).hasSize(1);
  }

  @Test
  void aTaskSentByAMovedProcessRunsOnAWorkerNotYetMovedAndItsSenderReadsTheOutcome() {
    notYetMoved.newWorker("old", 2).launchAsync();
    AsyncResult result = moved.sendTask(add(40, 2));
    assertThat(result.getValue(PATIENCE))
        .as("the moved process reads the old backend, where the worker not yet moved wrote")
        .isEqualTo(42L);
    assertThat(stateIn(newAlone, result.taskUuid()).state())
        .as("the new backend has only what moved processes wrote: the moved sender's PENDING")
        .isEqualTo(State.PENDING);
  }

  /**
   * A chord sent by the process not yet moved (its group only in the old backend), half its members
   * routed to a queue only that process consumes, half to one only the moved process consumes, the
   * callback to the moved one: whichever finishes last triggers it, in the old backend.
   */
  @Test
  void aChordWhoseMembersRunOnBothSidesFiresItsCallbackOnce() {
    String oldQueue = config.defaultQueue() + "_old";
    String movedQueue = config.defaultQueue() + "_moved";
    notYetMoved.newCustomQueueWorker("old", 2, oldQueue).launchAsync();
    moved.newCustomQueueWorker("moved", 2, movedQueue).launchAsync();
    moved.newWorker("callbacks", 1).launchAsync();
    List<Signature> members = new ArrayList<>();
    for (long i = 1; i <= 20; i++) {
      String queue = i % 2 == 0 ? oldQueue : movedQueue;
      members.add(add(i, 0).toBuilder().routingKey(queue).build());
    }
    ChordAsyncResult chord =
        notYetMoved.sendChord(Chord.of(Group.of(members), Signature.create("sum")), 5);
    assertThat(chord.get(PATIENCE)).containsExactly(210L);
    assertThat(ranOn)
        .as("members ran on both sides")
        .containsEntry("old", 10)
        .containsEntry("moved", 10);
    for (AsyncResult member : chord.groupResults()) {
      assertThat(member.get(PATIENCE)).hasSize(1);
    }
    assertThat(callbackRuns).as("the callback ran once").hasValue(1);
  }

  @Test
  void afterTheMoveTheNewBackendAloneServesWhatMovedProcessesWrote() {
    moved.newWorker("moved", 2).launchAsync();
    List<AsyncResult> results = new ArrayList<>();
    for (long i = 0; i < 10; i++) {
      results.add(moved.sendTask(add(i, 100)));
    }
    for (AsyncResult result : results) {
      result.get(PATIENCE);
    }
    ChordAsyncResult chord =
        moved.sendChord(
            Chord.of(Group.of(add(1, 1), add(2, 2), add(3, 3)), Signature.create("sum")), 3);
    assertThat(chord.get(PATIENCE)).containsExactly(12L);

    for (int i = 0; i < results.size(); i++) {
      TaskState state = settledIn(newAlone, results.get(i).taskUuid());
      assertThat(state.state()).isEqualTo(State.SUCCESS);
      assertThat(state.results().get(0).value()).isInstanceOf(Number.class);
      assertThat(String.valueOf(state.results().get(0).value()))
          .isEqualTo(String.valueOf(100L + i));
    }
    assertThat(settledIn(newAlone, chord.callbackResult().taskUuid()).state())
        .isEqualTo(State.SUCCESS);
    String group = chord.groupResults().get(0).signature().groupUuid();
    assertThat(newAlone.groupCompleted(group, 3))
        .as("the chord's group and its members' outcomes are in the new backend")
        .isTrue();
  }
}
