package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A saga's shape on the wire (a chain whose steps carry the compensations of the steps before
 * them), the arguments a compensation runs with, and what a worker does when it cannot read them
 * (memory broker and backend, a real worker). The contract on every broker and backend is in the
 * test kit's {@code AcceptanceSuite}; a Go worker running the steps in {@code interop/java}'s
 * {@code JavaSendsGoWorksSuite}.
 */
class SagaTest {
  private static final Duration PATIENCE = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final FaultyBackend backend =
      new FaultyBackend(MemoryBackend.create(config, Clock.systemUTC()));
  private final Server server =
      Server.builder().config(config).broker(broker).backend(backend).build();
  private final List<String> undone = new CopyOnWriteArrayList<>();
  private final CountDownLatch release = new CountDownLatch(1);

  SagaTest() {
    server.registerTask("reserve", TaskFunction.of(String.class, what -> "reservation of " + what));
    server.registerTask(
        "undo",
        TaskFunction.of(
            String.class,
            String.class,
            (label, reservation) -> {
              undone.add(label + " <- " + reservation);
              return null;
            }));
    server.registerTask(
        "wait",
        TaskFunction.of(
            String.class,
            reservation -> {
              release.await();
              return null;
            }));
  }

  @AfterEach
  void close() {
    release.countDown();
    server.close();
    broker.close();
    backend.close();
  }

  private static Signature reserve(String what) {
    return Signature.create("reserve", Arg.of(what));
  }

  private static Signature undo(String label) {
    return Signature.create("undo", Arg.of(label));
  }

  @Test
  void eachStepCarriesTheCompensationsOfTheStepsBeforeItLatestFirst() {
    Signature alert = Signature.create("alert");
    Saga saga =
        Saga.builder()
            .step(reserve("flight"), undo("flight"))
            .step(reserve("seat"))
            .step(reserve("hotel").toBuilder().onError(alert).build(), undo("hotel"))
            .step(Signature.create("charge"))
            .build();

    List<Signature> steps = saga.steps();
    assertThat(steps)
        .extracting(Signature::name)
        .containsExactly("reserve", "reserve", "reserve", "charge");
    assertThat(steps.get(0).onSuccess()).containsExactly(steps.get(1));
    assertThat(steps.get(0).onError()).isEmpty(); // nothing before the first step to undo
    assertThat(saga.compensationsAfterFailureOf(0)).isEmpty();

    List<Signature> afterCharge = saga.compensationsAfterFailureOf(3);
    assertThat(afterCharge)
        .extracting(s -> s.args().get(0).value())
        .containsExactly("hotel", "flight");
    assertThat(afterCharge.get(0).onSuccess()).containsExactly(afterCharge.get(1));
    assertThat(afterCharge.get(1).onSuccess()).isEmpty();
    assertThat(afterCharge).allSatisfy(c -> assertThat(c.immutable()).isTrue());
    assertThat(afterCharge.get(0).headers())
        .containsEntry(SagaUndo.UNDOES, steps.get(2).uuid())
        .containsEntry(SagaUndo.OWN_ARGS, "1");
    assertThat(afterCharge.get(1).headers()).containsEntry(SagaUndo.UNDOES, steps.get(0).uuid());
    assertThat(steps.get(3).onError()).containsExactly(afterCharge.get(0));

    // the failing step's own error callbacks stay, before its compensations
    assertThat(steps.get(2).onError()).hasSize(2).first().isEqualTo(alert);
    List<Signature> afterHotel = saga.compensationsAfterFailureOf(2);
    assertThat(afterHotel).extracting(s -> s.args().get(0).value()).containsExactly("flight");
    // each place a compensation could run from sends a task of its own
    assertThat(afterHotel.get(0).uuid()).isNotEqualTo(afterCharge.get(1).uuid());
    assertThat(saga)
        .hasToString("Saga[reserve (undo: undo), reserve, reserve (undo: undo), charge]");
  }

  @Test
  void theBuilderRefusesWhatASagaCannotRun() {
    assertThatThrownBy(() -> Saga.builder().build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("a saga needs at least one step");
    Signature member = reserve("x").toBuilder().groupUuid("group_1").groupTaskCount(2).build();
    assertThatThrownBy(() -> Saga.builder().step(member))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("group member");
    assertThatThrownBy(() -> Saga.builder().step(reserve("x"), member))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the compensation of saga step reserve");
    Signature step = reserve("x");
    assertThatThrownBy(() -> Saga.builder().step(step).step(step))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the UUID of another step");
  }

  @Test
  void aCompensationGetsItsOwnArgumentsAndTheStepsResultsWithoutTheErrorInFront() throws Exception {
    Signature step = reserve("hotel");
    backend.setStateSuccess(step, List.of(TaskResult.of("reservation 7")));
    Signature sent = SagaUndo.compensation(undo("hotel"), step.uuid());
    // as the failed step's worker sends it (Go's or Java's): the error text first
    Signature received =
        sent.toBuilder()
            .args(List.of(Arg.of("string", "charge failed"), sent.args().get(0)))
            .build();

    assertThat(SagaUndo.argsFor(received, backend))
        .extracting(Arg::value)
        .containsExactly("hotel", "reservation 7");
    Signature plain = reserve("x");
    assertThat(SagaUndo.argsFor(plain, backend)).isSameAs(plain.args());
  }

  @Test
  void aCompensationThatCannotReadItsStepSaysWhyAndRetriesOnlyWhatMayPass() {
    Signature step = reserve("hotel");
    Signature compensation = SagaUndo.compensation(undo("hotel"), step.uuid());
    assertThatThrownBy(() -> SagaUndo.argsFor(compensation, backend))
        .isInstanceOfSatisfying(
            SagaUndo.Unavailable.class, e -> assertThat(e.retryable()).isFalse())
        .hasMessageContaining("has no stored state");

    backend.setStateFailure(step, "no rooms");
    assertThatThrownBy(() -> SagaUndo.argsFor(compensation, backend))
        .isInstanceOfSatisfying(
            SagaUndo.Unavailable.class, e -> assertThat(e.retryable()).isFalse())
        .hasMessageContaining("is FAILURE, not SUCCESS");

    backend.failing(FaultyBackend.Op.GET_STATE, 1);
    assertThatThrownBy(() -> SagaUndo.argsFor(compensation, backend))
        .isInstanceOfSatisfying(SagaUndo.Unavailable.class, e -> assertThat(e.retryable()).isTrue())
        .hasMessageContaining("injected failure of GET_STATE");

    Signature tooMany =
        compensation.toBuilder()
            .headers(java.util.Map.of(SagaUndo.UNDOES, step.uuid(), SagaUndo.OWN_ARGS, "2"))
            .build();
    assertThatThrownBy(() -> SagaUndo.argsFor(tooMany, backend))
        .isInstanceOfSatisfying(
            SagaUndo.Unavailable.class, e -> assertThat(e.retryable()).isFalse())
        .hasMessageContaining("is not a count of at most its 1 arguments: 2");
  }

  @Test
  void aCompensationWhoseReadFailsIsRetriedAndThenRuns() {
    server.newWorker("saga", 2).launchAsync();
    Saga saga =
        Saga.builder()
            .step(reserve("flight"), undo("flight").toBuilder().retryCount(2).build())
            .step(Signature.create("book_seat")) // gets the flight's reservation
            .build();
    server.registerTask(
        "book_seat",
        TaskFunction.of(
            String.class,
            flight -> {
              // the compensation's first two reads: its own stored state (a copy may have run;
              // unreadable, so it runs), then its step's results (unreadable: retried)
              backend.failing(FaultyBackend.Op.GET_STATE, 2);
              throw new IllegalStateException("no seats");
            }));

    SagaAsyncResult result = server.sendSaga(saga);
    // the client reads only once the compensation ran, so the injected failures meet the
    // compensation's reads, not the client's polling
    await().atMost(PATIENCE).until(() -> undone.size() == 1);
    assertThatThrownBy(() -> result.get(PATIENCE))
        .isInstanceOfSatisfying(
            SagaFailedException.class, e -> assertThat(e.compensated()).isTrue())
        .hasMessage(
            "saga step 1 (book_seat) failed: no seats; the steps before it were"
                + " undone (1 compensation ran)");
    assertThat(undone).containsExactly("flight <- reservation of flight");
  }

  /** Cancelling a saga's steps fails the step in progress, which undoes the steps before it. */
  @Test
  void cancellingASagaUndoesTheStepsThatSucceeded() {
    server
        .workerBuilder("saga")
        .concurrency(2)
        .heartbeatInterval(Duration.ofMillis(100)) // learns of the revocation within 0.1 s
        .cancelGracePeriod(Duration.ofMillis(100)) // then interrupts the waiting step
        .build()
        .launchAsync();
    Saga saga =
        Saga.builder()
            .step(reserve("flight"), undo("flight"))
            .step(Signature.create("wait"), undo("never: the cancelled step is not undone"))
            .step(reserve("hotel"), undo("hotel"))
            .build();
    SagaAsyncResult result = server.sendSaga(saga);
    await().atMost(PATIENCE).until(() -> result.stepResults().get(1).state() == State.STARTED);

    server.cancel(result.taskUuids());

    assertThatThrownBy(() -> result.get(PATIENCE))
        .isInstanceOfSatisfying(
            SagaFailedException.class,
            e -> {
              assertThat(e.failedStep()).isEqualTo(1);
              assertThat(e.error()).isEqualTo(Server.CANCELLED_ERROR);
              assertThat(e.compensated()).isTrue();
            });
    assertThat(undone).containsExactly("flight <- reservation of flight");
    assertThat(result.stepResults().get(2).taskState())
        .hasValueSatisfying(
            state ->
                assertThat(state.state()).isEqualTo(State.FAILURE)); // stored by cancel, never ran
  }

  @Test
  void aBackendWhoseReadsConsumeStatesIsRefused() {
    backend.consumingReads();
    Saga saga = Saga.builder().step(reserve("flight"), undo("flight")).build();
    assertThatThrownBy(() -> server.sendSaga(saga))
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("a saga needs a result backend that keeps states");
  }
}
