package io.machinery;

import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a result backend stores for a task: Go's {@code tasks.TaskState}.
 *
 * <p>Immutable. The factory methods mirror Go's constructors, each building a fresh state (a backend that
 * carries {@code TaskName} and {@code CreatedAt} forward does so with {@link #withCarriedForward(TaskState)}).
 */
public final class TaskState {
  /** Go's zero {@code time.Time}, written as {@code "0001-01-01T00:00:00Z"}. */
  public static final OffsetDateTime ZERO_TIME = OffsetDateTime.of(1, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC);

  private final String taskUuid;
  private final String taskName;
  private final State state;
  private final @Nullable List<TaskResult> results;
  private final String error;
  private final OffsetDateTime createdAt;
  private final long ttl;

  private TaskState(
      String taskUuid, String taskName, State state, @Nullable List<TaskResult> results, String error,
      OffsetDateTime createdAt, long ttl) {
    this.taskUuid = Objects.requireNonNull(taskUuid, "taskUuid");
    this.taskName = Objects.requireNonNull(taskName, "taskName");
    this.state = Objects.requireNonNull(state, "state");
    this.results = results == null ? null : List.copyOf(results);
    this.error = Objects.requireNonNull(error, "error");
    this.createdAt = Objects.requireNonNull(createdAt, "createdAt");
    this.ttl = ttl;
  }

  /** Every field given, as read from a store. */
  public static TaskState of(
      String taskUuid, String taskName, State state, @Nullable List<TaskResult> results, String error,
      OffsetDateTime createdAt, long ttl) {
    return new TaskState(taskUuid, taskName, state, results, error, createdAt, ttl);
  }

  public static TaskState pending(Signature signature, OffsetDateTime now) {
    return new TaskState(signature.uuid(), signature.name(), State.PENDING, null, "", now, 0);
  }

  public static TaskState received(Signature signature) {
    return new TaskState(signature.uuid(), "", State.RECEIVED, null, "", ZERO_TIME, 0);
  }

  public static TaskState started(Signature signature) {
    return new TaskState(signature.uuid(), "", State.STARTED, null, "", ZERO_TIME, 0);
  }

  public static TaskState retry(Signature signature) {
    return new TaskState(signature.uuid(), "", State.RETRY, null, "", ZERO_TIME, 0);
  }

  public static TaskState success(Signature signature, List<TaskResult> results) {
    return new TaskState(signature.uuid(), "", State.SUCCESS, results, "", ZERO_TIME, 0);
  }

  public static TaskState failure(Signature signature, String error) {
    return new TaskState(signature.uuid(), "", State.FAILURE, null, error, ZERO_TIME, 0);
  }

  /** This state with {@code TaskName} and {@code CreatedAt} copied from an earlier one (Go's Redis merge). */
  public TaskState withCarriedForward(TaskState earlier) {
    return new TaskState(taskUuid, earlier.taskName, state, results, error, earlier.createdAt, ttl);
  }

  public TaskState withTtl(long unixSeconds) {
    return new TaskState(taskUuid, taskName, state, results, error, createdAt, unixSeconds);
  }

  public String taskUuid() { return taskUuid; }
  public String taskName() { return taskName; }
  public State state() { return state; }
  /** The results of a SUCCESS; empty otherwise. */
  public List<TaskResult> results() { return results == null ? List.of() : results; }
  public boolean hasResults() { return results != null; }
  /** The error text of a FAILURE; empty otherwise. */
  public String error() { return error; }
  public OffsetDateTime createdAt() { return createdAt; }
  /** Unix seconds at which DynamoDB expires the item; 0 elsewhere. */
  public long ttl() { return ttl; }

  public boolean isCompleted() { return state.isCompleted(); }
  public boolean isSuccess() { return state == State.SUCCESS; }
  public boolean isFailure() { return state == State.FAILURE; }

  @Override
  public boolean equals(Object o) {
    return o instanceof TaskState s && taskUuid.equals(s.taskUuid) && taskName.equals(s.taskName)
        && state == s.state && Objects.equals(results, s.results) && error.equals(s.error)
        && createdAt.equals(s.createdAt) && ttl == s.ttl;
  }

  @Override
  public int hashCode() {
    return Objects.hash(taskUuid, state, results, error);
  }

  @Override
  public String toString() {
    return "TaskState{" + taskUuid + " " + state + (results == null ? "" : " " + results)
        + (error.isEmpty() ? "" : " error=" + error) + "}";
  }
}
