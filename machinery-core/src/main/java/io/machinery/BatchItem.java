package io.machinery;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One task of a batch handed to a batched task function ({@link TaskFunction#batchedWithContext}):
 * its context and its arguments, converted to the function's parameter types. Immutable.
 */
public final class BatchItem {
  private final TaskContext context;
  private final List<@Nullable Object> args;

  BatchItem(TaskContext context, @Nullable Object[] args) {
    this.context = Objects.requireNonNull(context, "context");
    this.args = Collections.unmodifiableList(Arrays.<@Nullable Object>asList(args.clone()));
  }

  /**
   * The task's context.
   *
   * @return its signature, attempt, cancellation flag and progress reporting
   */
  public TaskContext context() {
    return context;
  }

  /**
   * The task's arguments.
   *
   * @return them converted to the function's parameter types, in their order; unmodifiable
   */
  public List<@Nullable Object> args() {
    return args;
  }

  @Override
  public String toString() {
    return "BatchItem{" + context.signature().uuid() + ", args=" + args + "}";
  }
}
