package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A DAG runs each task once its dependencies succeeded, with their results in the order of its
 * dependencies, and fails every task downstream of a failure while the other branches go on (memory
 * broker and backend, a real worker). The contract on every broker and backend is in the test kit's
 * {@code AcceptanceSuite}.
 */
class DagTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();
  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();

  DagTest() {
    server.registerTask(
        "concat",
        TaskFunction.varargs(
            String[].class,
            parts -> {
              runs.computeIfAbsent(String.join("", parts), k -> new AtomicInteger())
                  .incrementAndGet();
              return String.join("", parts);
            }));
    server.registerTask(
        "fail",
        TaskFunction.of(
            String.class,
            message -> {
              throw new IllegalStateException(message);
            }));
  }

  private void startWorker() {
    server.newWorker("dag", 4).launchAsync();
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    backend.close();
  }

  private static Signature concat(String... parts) {
    return Signature.builder("concat")
        .args(java.util.Arrays.stream(parts).map(Arg::of).toArray(Arg[]::new))
        .build();
  }

  @Test
  void eachTaskGetsItsDependenciesResultsInTheOrderItNamesThem() {
    startWorker();
    Dag dag =
        Dag.builder()
            .task("a", concat("a"))
            .task("b", concat("b<"), "a")
            .task("c", concat("c<"), "a")
            .task("d", concat("d<"), "c", "b") // c's result first
            .task("e", concat("e<"), "d", "a") // a join of a join and a root
            .task("f", concat("f"))
            .build();

    Map<String, java.util.List<Object>> results = server.sendDag(dag).get(PATIENCE);

    assertThat(results)
        .containsEntry("a", java.util.List.of("a"))
        .containsEntry("b", java.util.List.of("b<a"))
        .containsEntry("c", java.util.List.of("c<a"))
        .containsEntry("d", java.util.List.of("d<c<ab<a"))
        .containsEntry("e", java.util.List.of("e<d<c<ab<aa"))
        .containsEntry("f", java.util.List.of("f"));
    assertThat(runs.values()).allSatisfy(count -> assertThat(count).hasValue(1));
    assertThat(dag.dependencies("d")).containsExactly("c", "b");
    assertThat(dag.dependencyGroups())
        .hasSize(4)
        .containsEntry(
            DagHeader.joinGroup(dag.task("d").uuid()),
            java.util.List.of(dag.task("c").uuid(), dag.task("b").uuid()));
    assertThat(dag.task("a").headers()).containsKey(DagHeader.HEADER);
    assertThat(dag.toString()).isEqualTo("Dag[a, b <- a, c <- a, d <- c+b, e <- d+a, f]");
  }

  @Test
  void aFailureFailsEveryTaskDownstreamAtOnceAndTheOtherBranchesGoOn() {
    startWorker();
    Dag dag =
        Dag.builder()
            .task("root", concat("r"))
            .task(
                "bad",
                Signature.builder("fail").args(Arg.of("boom")).immutable(true).build(),
                "root")
            .task("after", concat("after<"), "bad")
            .task("later", concat("later<"), "after")
            .task("other", concat("other<"), "root")
            .task("join", concat("join<"), "other", "later")
            .build();

    DagAsyncResult result = server.sendDag(dag);

    assertThat(result.asyncResult("other").get(PATIENCE)).containsExactly("other<r");
    assertThatThrownBy(() -> result.asyncResult("bad").get(PATIENCE))
        .isInstanceOf(TaskFailedException.class)
        .hasMessage("boom");
    for (String downstream : new String[] {"after", "later", "join"}) {
      assertThatThrownBy(() -> result.asyncResult(downstream).get(PATIENCE))
          .as(downstream)
          .isInstanceOf(TaskFailedException.class)
          .hasMessage(
              "a dependency failed: DAG task bad (" + dag.task("bad").uuid() + ") failed: boom");
    }
    assertThatThrownBy(() -> result.get(PATIENCE))
        .isInstanceOf(TaskFailedException.class)
        .hasMessage("boom");
    assertThat(runs).containsOnlyKeys("r", "other<r");
    assertThat(result.taskUuids()).hasSize(6).doesNotHaveDuplicates();
    assertThat(result.states())
        .containsExactly(
            Map.entry("root", State.SUCCESS),
            Map.entry("bad", State.FAILURE),
            Map.entry("after", State.FAILURE),
            Map.entry("later", State.FAILURE),
            Map.entry("other", State.SUCCESS),
            Map.entry("join", State.FAILURE));
  }

  @Test
  void aTaskWithAnUnreadableDagSucceedsAndTheWorkerGoesOn() {
    startWorker();
    Signature odd = concat("odd").toBuilder().header(DagHeader.HEADER, "{not json").build();
    Signature unlisted =
        concat("unlisted").toBuilder()
            .header(
                DagHeader.HEADER,
                DagHeader.encode(Dag.builder().task("x", concat("x")).build().nodes()))
            .build();

    assertThat(server.sendTask(odd).get(PATIENCE)).containsExactly("odd");
    assertThat(server.sendTask(unlisted).get(PATIENCE)).containsExactly("unlisted");
    assertThat(server.sendDag(Dag.builder().task("x", concat("fine")).build()).get(PATIENCE))
        .containsEntry("x", java.util.List.of("fine"));
  }

  /**
   * A worker ran both dependencies of a join, won its trigger and died before sending the join:
   * when the message of the dependency it was finishing comes back, it sends the join (without
   * running the dependency again: its SUCCESS is stored).
   */
  @Test
  void aRedeliveredDependencyWhoseWinnerDiedBeforeSendingSendsTheJoin() {
    Dag dag =
        Dag.builder()
            .task("a", concat("a"))
            .task("b", concat("b"))
            .task("c", concat("c<"), "a", "b")
            .build();
    String header = DagHeader.encode(dag.nodes());
    Signature a = dag.task("a");
    Signature b = dag.task("b");
    String join = DagHeader.joinGroup(dag.task("c").uuid());
    backend.initGroup(join, java.util.List.of(a.uuid(), b.uuid()));
    backend.setStateSuccess(a, java.util.List.of(TaskResult.of("a")));
    backend.setStateSuccess(b, java.util.List.of(TaskResult.of("b")));
    assertThat(backend.triggerChord(join)).isTrue(); // the winner, which then died
    Signature rerun =
        MessageHeaders.with(
            a.toBuilder()
                .header(DagHeader.HEADER, header)
                .routingKey(config.defaultQueue())
                .build(),
            MessageHeaders.REQUEUES,
            1);
    broker.publish(rerun, io.machinery.wire.WireCodec.encode(rerun));

    startWorker();

    assertThat(server.asyncResult(dag.task("c").uuid()).get(PATIENCE)).containsExactly("c<ab");
    assertThat(runs).containsOnlyKeys("c<ab");
  }

  /**
   * A join is sent at least once, so two copies of it may run, each on its first delivery. The
   * dependency that won the trigger of the join's dependent found the second copy running and gave
   * the trigger back: that copy wins it and sends the dependent when it finishes. Here the first
   * copy's SUCCESS is stored by then, so the second does not run the join again: it only sends the
   * dependent. (Where the backend cannot give a trigger back: {@code DagJoinTriggerTest}.)
   */
  @Test
  void aSecondCopyOfAJoinThatFinishesAfterTheWinnerGaveTheTriggerBackSendsTheDependent() {
    Dag dag =
        Dag.builder()
            .task("r1", concat("1"))
            .task("r2", concat("2"))
            .task("j", concat("j<"), "r1")
            .task("k", concat("k<"), "j", "r2")
            .build();
    Signature j = dag.task("j").toBuilder().args(Arg.of("j<"), Arg.of("1")).build();
    String join = DagHeader.joinGroup(dag.task("k").uuid());
    String r2 = dag.task("r2").uuid();
    backend.initGroup(join, java.util.List.of(j.uuid(), r2));
    backend.setStateSuccess(dag.task("r2"), java.util.List.of(TaskResult.of("2")));
    backend.setStateSuccess(j, java.util.List.of(TaskResult.of("j<1")));
    // the winner, which then read j as running again (its second copy) and gave the trigger back
    assertThat(backend.triggerChord(join, r2)).isEqualTo(io.machinery.spi.Backend.Trigger.WON);
    assertThat(backend.releaseChordTrigger(join, r2)).isTrue();
    Signature secondCopy = j.toBuilder().routingKey(config.defaultQueue()).build();
    broker.publish(secondCopy, io.machinery.wire.WireCodec.encode(secondCopy)); // no redelivery

    startWorker();

    assertThat(server.asyncResult(dag.task("k").uuid()).get(PATIENCE)).containsExactly("k<j<12");
    assertThat(runs).containsOnlyKeys("k<j<12");
  }

  /**
   * A copy of a join whose first copy has not finished (its state is STARTED) runs it: only a
   * stored SUCCESS spares the run.
   */
  @Test
  void aCopyOfAJoinWhoseOtherCopyIsStillRunningRunsIt() {
    Dag dag = Dag.builder().task("r", concat("1")).task("j", concat("j<"), "r").build();
    Signature j = dag.task("j").toBuilder().args(Arg.of("j<"), Arg.of("1")).build();
    backend.setStateSuccess(dag.task("r"), java.util.List.of(TaskResult.of("1")));
    backend.setStateStarted(j); // the other copy
    Signature copy = j.toBuilder().routingKey(config.defaultQueue()).build();
    broker.publish(copy, io.machinery.wire.WireCodec.encode(copy));

    startWorker();

    assertThat(server.asyncResult(j.uuid()).get(PATIENCE)).containsExactly("j<1");
    assertThat(runs).containsOnlyKeys("j<1");
  }

  @Test
  void aCopyWithNewUuidsRunsTheSameWorkAgain() {
    startWorker();
    Dag dag = Dag.builder().task("a", concat("a")).task("b", concat("b<"), "a").build();
    Dag again = dag.withNewUuids();

    assertThat(again.task("b").uuid()).isNotEqualTo(dag.task("b").uuid());
    assertThat(again.dependencyGroups())
        .doesNotContainKeys(dag.dependencyGroups().keySet().toArray(String[]::new));
    assertThat(again.dependencies("b")).containsExactly("a");
    assertThat(server.sendDag(dag).get(PATIENCE)).containsEntry("b", java.util.List.of("b<a"));
    assertThat(server.sendDag(again).get(PATIENCE)).containsEntry("b", java.util.List.of("b<a"));
    assertThat(runs.get("b<a")).hasValue(2);
  }

  /**
   * Two dependencies of a join resume after a kept failure: one wins the join's trigger and dies
   * before sending it. The other, requeued, must send it, although the join still holds the FAILURE
   * its dependency's failure gave it.
   */
  @Test
  void aResumedDependencyWhoseTriggerWinnerDiedSendsTheJoinThatHadFailed() {
    Dag dag =
        Dag.builder()
            .task("a", concat("a"))
            .task("b", concat("b"))
            .task("c", concat("c<"), "a", "b")
            .build();
    Signature a = dag.task("a");
    Signature b = dag.task("b");
    String join = DagHeader.joinGroup(dag.task("c").uuid());
    backend.initGroup(join, java.util.List.of(a.uuid(), b.uuid()));
    backend.setStateFailure(
        dag.task("c"), DagCompletion.DEPENDENCY_FAILED + "DAG task a (" + a.uuid() + ") failed: x");
    backend.setStateSuccess(a, java.util.List.of(TaskResult.of("a")));
    backend.setStateSuccess(b, java.util.List.of(TaskResult.of("b")));
    assertThat(backend.triggerChord(join)).isTrue(); // b's resumed run, which then died
    Signature requeued =
        MessageHeaders.with(
            a.toBuilder().routingKey(config.defaultQueue()).build(), MessageHeaders.REQUEUES, 1);
    broker.publish(requeued, io.machinery.wire.WireCodec.encode(requeued));

    startWorker();

    org.awaitility.Awaitility.await()
        .atMost(PATIENCE)
        .until(() -> server.asyncResult(dag.task("c").uuid()).state() == State.SUCCESS);
    assertThat(server.asyncResult(dag.task("c").uuid()).get(PATIENCE)).containsExactly("c<ab");
  }

  /**
   * A join's dependencies each read the others' states before asking for the join: from the last,
   * so that dependencies finishing in the order they were sent read one state each, not all the
   * ones before them.
   */
  @Test
  void aJoinOfDependenciesThatFinishInOrderCostsReadsLinearInItsSize() {
    FaultyBackend counting = new FaultyBackend(backend);
    try (Server inOrder =
        Server.builder().config(config).broker(broker).backend(counting).build()) {
      inOrder.registerTask("concat", TaskFunction.varargs(String[].class, p -> String.join("", p)));
      Dag.Builder b = Dag.builder();
      String[] roots = new String[40];
      for (int i = 0; i < roots.length; i++) {
        roots[i] = "r" + i;
        b.task(roots[i], concat("."));
      }
      Dag dag = b.task("join", concat("join:"), roots).build();
      inOrder.newWorker("in-order", 1).launchAsync();

      inOrder.sendDag(dag);
      // waits through the uncounted backend: a client's polls are not the workers' reads
      assertThat(server.asyncResult(dag.task("join").uuid()).get(PATIENCE))
          .containsExactly("join:" + ".".repeat(40));
      // each root reads about one other root's state, the last all 39 others and the join's: 79
      // to 118 reads in runs here, where reading from the first took 880
      assertThat(counting.calls(FaultyBackend.Op.GET_STATE)).isLessThanOrEqualTo(6 * 40);
    }
  }

  @Test
  void theBuilderRefusesWhatWouldNotRun() {
    assertThatThrownBy(() -> Dag.builder().build()).hasMessage("a DAG needs at least one task");
    assertThatThrownBy(() -> Dag.builder().task("b", concat("b"), "a"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("depends on \"a\", which was not added before it");
    assertThatThrownBy(() -> Dag.builder().task("a", concat("a")).task("a", concat("a")))
        .hasMessageContaining("already has a task named \"a\"");
    assertThatThrownBy(() -> Dag.builder().task("a", concat("a")).task("b", concat("b"), "a", "a"))
        .hasMessageContaining("depends on \"a\" twice");
    Signature one = concat("one");
    assertThatThrownBy(() -> Dag.builder().task("a", one).task("b", one))
        .hasMessageContaining("has the UUID of another task");
    assertThatThrownBy(() -> Dag.builder().task("g", Group.of(concat("g")).tasks().get(0)))
        .hasMessageContaining("express that with dependencies");
    assertThatThrownBy(() -> Dag.builder().task("", concat("a")))
        .hasMessage("a DAG task needs a name");
  }

  @Test
  void sendDagRefusesATaskOverTheSizeLimitBeforeStoringAnything() {
    String big = "x".repeat(config.maxMessageBytes());
    Dag dag = Dag.builder().task("a", concat("a")).task("b", concat(big), "a").build();

    assertThatThrownBy(() -> server.sendDag(dag)).isInstanceOf(IllegalArgumentException.class);
    assertThat(backend.getState(dag.task("a").uuid())).isEmpty();
  }
}
