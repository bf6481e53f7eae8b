package io.machinery;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a result backend stores for a task: Go's {@code tasks.TaskState}.
 *
 * <p>Immutable. The factory methods mirror Go's constructors, each building a fresh state (a
 * backend that carries {@code TaskName} and {@code CreatedAt} forward does so with {@link
 * #withCarriedForward(TaskState)}).
 */
public final class TaskState {
  /** Go's zero {@code time.Time}, written as {@code "0001-01-01T00:00:00Z"}. */
  public static final OffsetDateTime ZERO_TIME =
      OffsetDateTime.of(1, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);

  private final String taskUuid;
  private final String taskName;
  private final State state;
  private final @Nullable List<TaskResult> results;
  private final String error;
  private final OffsetDateTime createdAt;
  private final long ttl;

  private TaskState(
      String taskUuid,
      String taskName,
      State state,
      @Nullable List<TaskResult> results,
      String error,
      OffsetDateTime createdAt,
      long ttl) {
    this.taskUuid = Objects.requireNonNull(taskUuid, "taskUuid");
    this.taskName = Objects.requireNonNull(taskName, "taskName");
    this.state = Objects.requireNonNull(state, "state");
    this.results = results == null ? null : List.copyOf(results);
    this.error = Objects.requireNonNull(error, "error");
    this.createdAt = Objects.requireNonNull(createdAt, "createdAt");
    this.ttl = ttl;
  }

  /**
   * Creates a state with every field given, as read from a store.
   *
   * @param taskUuid the task's UUID
   * @param taskName the task's name; empty when the writer did not carry it forward
   * @param state the state name
   * @param results the results of a SUCCESS; null for Go's {@code null}
   * @param error the error text of a FAILURE; empty otherwise
   * @param createdAt when the PENDING state was stored; {@link #ZERO_TIME} when unknown
   * @param ttl Unix seconds at which DynamoDB expires the item; 0 elsewhere
   * @return the state
   * @throws NullPointerException if an argument other than {@code results} is null
   */
  public static TaskState of(
      String taskUuid,
      String taskName,
      State state,
      @Nullable List<TaskResult> results,
      String error,
      OffsetDateTime createdAt,
      long ttl) {
    return new TaskState(taskUuid, taskName, state, results, error, createdAt, ttl);
  }

  /**
   * Creates the PENDING state a sender stores before publishing (Go's {@code NewPendingTaskState}).
   *
   * @param signature the task
   * @param now the time to record as {@code CreatedAt}
   * @return the state, with the task's name
   */
  public static TaskState pending(Signature signature, OffsetDateTime now) {
    return new TaskState(signature.uuid(), signature.name(), State.PENDING, null, "", now, 0);
  }

  /**
   * Creates the RECEIVED state a worker stores on delivery (Go's {@code NewReceivedTaskState}).
   *
   * @param signature the task
   * @return the state
   */
  public static TaskState received(Signature signature) {
    return new TaskState(signature.uuid(), "", State.RECEIVED, null, "", ZERO_TIME, 0);
  }

  /**
   * Creates the STARTED state a worker stores before running the task (Go's {@code
   * NewStartedTaskState}).
   *
   * @param signature the task
   * @return the state
   */
  public static TaskState started(Signature signature) {
    return new TaskState(signature.uuid(), "", State.STARTED, null, "", ZERO_TIME, 0);
  }

  /**
   * Creates the RETRY state a worker stores before republishing the task (Go's {@code
   * NewRetryTaskState}).
   *
   * @param signature the task
   * @return the state
   */
  public static TaskState retry(Signature signature) {
    return new TaskState(signature.uuid(), "", State.RETRY, null, "", ZERO_TIME, 0);
  }

  /**
   * Creates the SUCCESS state with the task's results (Go's {@code NewSuccessTaskState}).
   *
   * @param signature the task
   * @param results the values the task returned, each with its Go type
   * @return the state
   */
  public static TaskState success(Signature signature, List<TaskResult> results) {
    return new TaskState(signature.uuid(), "", State.SUCCESS, results, "", ZERO_TIME, 0);
  }

  /**
   * Creates the FAILURE state with the task's error text (Go's {@code NewFailureTaskState}).
   *
   * @param signature the task
   * @param error the error text
   * @return the state
   */
  public static TaskState failure(Signature signature, String error) {
    return new TaskState(signature.uuid(), "", State.FAILURE, null, error, ZERO_TIME, 0);
  }

  /**
   * Returns this state with {@code TaskName} and {@code CreatedAt} copied from an earlier one (Go's
   * Redis merge).
   *
   * @param earlier the state stored before
   * @return a new state
   */
  public TaskState withCarriedForward(TaskState earlier) {
    return new TaskState(taskUuid, earlier.taskName, state, results, error, earlier.createdAt, ttl);
  }

  /**
   * Returns this state with a DynamoDB expiry time.
   *
   * @param unixSeconds Unix seconds at which the item expires
   * @return a new state
   */
  public TaskState withTtl(long unixSeconds) {
    return new TaskState(taskUuid, taskName, state, results, error, createdAt, unixSeconds);
  }

  /**
   * Returns the task's UUID ({@code TaskUUID}).
   *
   * @return the UUID
   */
  public String taskUuid() {
    return taskUuid;
  }

  /**
   * Returns the task's name ({@code TaskName}); Go stores it only in the PENDING state, and the
   * Redis backend carries it forward.
   *
   * @return the name, or empty
   */
  public String taskName() {
    return taskName;
  }

  /**
   * Returns the state name ({@code State}).
   *
   * @return the state name
   */
  public State state() {
    return state;
  }

  /**
   * Returns the results of a SUCCESS ({@code Results}).
   *
   * @return the results; empty for other states
   */
  public List<TaskResult> results() {
    return results == null ? List.of() : results;
  }

  /**
   * Tells whether {@code Results} is present rather than Go's {@code null}.
   *
   * @return true if the stored JSON carried a results array
   */
  public boolean hasResults() {
    return results != null;
  }

  /**
   * Returns the error text of a FAILURE ({@code Error}).
   *
   * @return the error text; empty for other states
   */
  public String error() {
    return error;
  }

  /**
   * Returns when the PENDING state was stored ({@code CreatedAt}).
   *
   * @return the time, or {@link #ZERO_TIME} when unknown
   */
  public OffsetDateTime createdAt() {
    return createdAt;
  }

  /**
   * Returns when DynamoDB expires the item ({@code TTL}).
   *
   * @return Unix seconds; 0 on other backends
   */
  public long ttl() {
    return ttl;
  }

  /**
   * Tells whether the task has finished.
   *
   * @return true for SUCCESS and FAILURE
   */
  public boolean isCompleted() {
    return state.isCompleted();
  }

  /**
   * Tells whether the task succeeded.
   *
   * @return true for SUCCESS
   */
  public boolean isSuccess() {
    return state == State.SUCCESS;
  }

  /**
   * Tells whether the task failed.
   *
   * @return true for FAILURE
   */
  public boolean isFailure() {
    return state == State.FAILURE;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof TaskState s
        && taskUuid.equals(s.taskUuid)
        && taskName.equals(s.taskName)
        && state == s.state
        && Objects.equals(results, s.results)
        && error.equals(s.error)
        && createdAt.equals(s.createdAt)
        && ttl == s.ttl;
  }

  @Override
  public int hashCode() {
    return Objects.hash(taskUuid, state, results, error);
  }

  @Override
  public String toString() {
    return "TaskState{"
        + taskUuid
        + " "
        + state
        + (results == null ? "" : " " + results)
        + (error.isEmpty() ? "" : " error=" + error)
        + "}";
  }
}
