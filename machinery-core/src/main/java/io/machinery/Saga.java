package io.machinery;

import io.machinery.wire.Uuids;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Steps that run one after another, as a {@link Chain}, each with an optional compensation that
 * undoes it: when a step fails for good (FAILURE: retries spent, or cancelled), the compensations
 * of the steps that succeeded before it run, last step first, each after the one before it
 * succeeded. Immutable.
 *
 * <pre>{@code
 * Saga trip = Saga.builder()
 *     .step(Signature.create("reserveFlight", Arg.of("LHR-JFK")), Signature.create("cancelFlight"))
 *     .step(Signature.create("reserveHotel", Arg.of("NYC")), Signature.create("cancelHotel"))
 *     .step(Signature.create("charge", Arg.of("c-42")))
 *     .build();
 * SagaAsyncResult result = server.sendSaga(trip);
 * }</pre>
 *
 * <p>A compensation receives its own arguments followed by the results of the step it undoes, read
 * from the result backend when it runs (so {@code cancelHotel} gets the reservation that {@code
 * reserveHotel} returned). A failed step is not undone: only steps that succeeded are. A
 * compensation that fails for good stops the undoing there; the steps before it stay done, and
 * {@link SagaAsyncResult#get} says which compensation failed. Cancelling a saga's steps ({@link
 * SagaAsyncResult#taskUuids()} to {@link Server#cancel}) fails the step in progress and so undoes
 * the steps before it.
 *
 * <p><b>How it travels.</b> On the wire a saga is Go's chain (the steps nested in {@code
 * OnSuccess}) in which each step's {@code OnError} holds the compensations of the steps before it,
 * as a chain of their own (immutable, so a compensation's results are not passed on); Go workers
 * run the steps and send the compensations when one fails. A compensation carries the header
 * {@value SagaUndo#UNDOES} (the UUID of the step it undoes) and {@value SagaUndo#OWN_ARGS} (how
 * many arguments are its own: a failed step's worker puts the error text before the first
 * compensation's arguments, as Go does for every error callback; the compensation drops it). Only a
 * Java worker appends the step's results, so <b>every compensation must run on a Java worker</b>;
 * the steps may run on Go workers. The result backend must keep states when they are read (every
 * backend but AMQP's), and keep them as long as the saga runs ({@code ResultsExpireIn}): a
 * compensation whose step's result is gone fails with that reason. As every task, a compensation is
 * delivered at least once, so write it to be harmless when it runs twice (a copy whose SUCCESS is
 * stored does not run again). A step's messages carry the compensations of every step before it: a
 * saga of n steps sends about n²/2 compensation signatures in all.
 */
public final class Saga {
  /** The steps as given to the builder (their UUIDs, if any, not yet nested). */
  private final List<Signature> given;

  private final List<Signature> steps;
  private final List<@Nullable Signature> compensations;
  private final List<List<Signature>> undoChains;

  private Saga(List<Signature> steps, List<@Nullable Signature> compensations) {
    this.given = List.copyOf(steps);
    // UUIDs first: each compensation names the step it undoes.
    List<Signature> withUuids = new ArrayList<>(steps.size());
    for (Signature step : steps) {
      withUuids.add(
          step.uuid().isEmpty() ? step.toBuilder().uuid(Uuids.newTaskUuid()).build() : step);
    }
    List<List<Signature>> chains = new ArrayList<>(steps.size());
    List<Signature> withUndo = new ArrayList<>(steps.size());
    for (int failing = 0; failing < withUuids.size(); failing++) {
      List<Signature> chain = undoChain(withUuids, compensations, failing);
      chains.add(chain);
      Signature step = withUuids.get(failing);
      if (!chain.isEmpty()) {
        List<Signature> onError = new ArrayList<>(step.onError());
        onError.add(chain.get(0));
        step = step.toBuilder().onError(onError).build();
      }
      withUndo.add(step);
    }
    this.steps = Chain.of(withUndo).tasks();
    this.compensations = Collections.unmodifiableList(new ArrayList<>(compensations));
    this.undoChains = List.copyOf(chains);
  }

  /**
   * The compensations that run when step {@code failing} fails: those of the steps before it, the
   * latest first, each a new task (a UUID of its own) nested in the previous one's {@code
   * OnSuccess}. Returned in run order, each with what follows it nested.
   */
  private static List<Signature> undoChain(
      List<Signature> steps, List<@Nullable Signature> compensations, int failing) {
    List<Signature> order = new ArrayList<>();
    for (int undone = failing - 1; undone >= 0; undone--) {
      Signature compensation = compensations.get(undone);
      if (compensation != null) {
        order.add(SagaUndo.compensation(compensation, steps.get(undone).uuid()));
      }
    }
    for (int i = order.size() - 1; i > 0; i--) {
      order.set(i - 1, order.get(i - 1).toBuilder().onSuccess(List.of(order.get(i))).build());
    }
    return List.copyOf(order);
  }

  /**
   * Starts a saga.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the steps in order, as they will be sent: each with a UUID; the first carries the rest
   * nested in its {@code OnSuccess}, and each carries in its {@code OnError} the compensations that
   * run when it fails.
   *
   * @return the steps
   */
  public List<Signature> steps() {
    return steps;
  }

  /**
   * Returns a copy whose steps and compensations have new task UUIDs, to send the same work again:
   * a step's UUID keys its state, which its compensation reads, so a saga must not be sent twice. A
   * periodic saga ({@link Server#registerPeriodicSaga}) sends such a copy on every tick.
   *
   * @return a new saga of the same steps and compensations; this one is unchanged
   */
  public Saga withNewUuids() {
    List<Signature> fresh = new ArrayList<>(given.size());
    for (Signature step : given) {
      fresh.add(step.toBuilder().uuid(Uuids.newTaskUuid()).build());
    }
    return new Saga(fresh, compensations);
  }

  /**
   * Returns the compensations that run when one step fails for good, in the order they run: those
   * of the steps that succeeded before it, the latest first (steps without a compensation have
   * none).
   *
   * @param step the failing step's index, from 0
   * @return the compensations as they will be sent, each with its UUID (empty for the first step)
   * @throws IndexOutOfBoundsException when the saga has no such step
   */
  public List<Signature> compensationsAfterFailureOf(int step) {
    return undoChains.get(step);
  }

  /**
   * Returns the compensation given for a step, as given.
   *
   * @param step the step's index, from 0
   * @return the compensation, or null for a step without one
   * @throws IndexOutOfBoundsException when the saga has no such step
   */
  public @Nullable Signature compensationOf(int step) {
    return compensations.get(step);
  }

  @Override
  public String toString() {
    StringBuilder text = new StringBuilder("Saga[");
    for (int i = 0; i < steps.size(); i++) {
      text.append(i == 0 ? "" : ", ").append(steps.get(i).name());
      Signature compensation = compensations.get(i);
      if (compensation != null) {
        text.append(" (undo: ").append(compensation.name()).append(')');
      }
    }
    return text.append(']').toString();
  }

  /** Adds steps to a saga, in the order they run. */
  public static final class Builder {
    private final List<Signature> steps = new ArrayList<>();
    private final List<@Nullable Signature> compensations = new ArrayList<>();
    private final Set<String> uuids = new HashSet<>();

    private Builder() {}

    /**
     * Adds a step that needs no undoing (a read, or the last step).
     *
     * @param step the task; without a UUID it gets one. Its {@code OnSuccess} is replaced by the
     *     next step; its own {@code OnError} callbacks stay beside the compensations
     * @return this builder
     * @throws IllegalArgumentException as {@link #step(Signature, Signature)}
     */
    public Builder step(Signature step) {
      return add(step, null);
    }

    /**
     * Adds a step and the task that undoes it.
     *
     * @param step the task; without a UUID it gets one. Its {@code OnSuccess} is replaced by the
     *     next step; its own {@code OnError} callbacks stay beside the compensations
     * @param compensation the task that undoes the step, run with its own arguments followed by the
     *     step's results; it is sent as a new task each time it could run (its UUID, if any, is not
     *     used), immutable, its {@code OnSuccess} replaced by the next compensation
     * @return this builder
     * @throws IllegalArgumentException when the step's UUID is another step's, or the step or its
     *     compensation is a group member or carries a chord callback
     */
    public Builder step(Signature step, Signature compensation) {
      return add(step, Objects.requireNonNull(compensation, "compensation"));
    }

    private Builder add(Signature step, @Nullable Signature compensation) {
      Objects.requireNonNull(step, "step");
      refuseGroupParts(step, "saga step " + step.name());
      if (compensation != null) {
        refuseGroupParts(compensation, "the compensation of saga step " + step.name());
      }
      if (!step.uuid().isEmpty() && !uuids.add(step.uuid())) {
        throw new IllegalArgumentException(
            "saga step " + step.name() + " has the UUID of another step: " + step.uuid());
      }
      steps.add(step);
      compensations.add(compensation);
      return this;
    }

    private static void refuseGroupParts(Signature task, String what) {
      if (!task.groupUuid().isEmpty() || task.chordCallback() != null) {
        throw new IllegalArgumentException(
            what + " is a group member or carries a chord callback; a saga's tasks run one by one");
      }
    }

    /**
     * Builds the saga.
     *
     * @return the saga
     * @throws IllegalArgumentException when no step was added
     */
    public Saga build() {
      if (steps.isEmpty()) {
        throw new IllegalArgumentException("a saga needs at least one step");
      }
      return new Saga(steps, compensations);
    }
  }
}
