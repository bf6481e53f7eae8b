package io.machinery;

import java.util.ArrayList;
import java.util.List;

/**
 * Several return values of one task (Go's multiple results). Return {@code TaskResults.of("foo",
 * "bar")} from a task to store two results.
 */
public final class TaskResults {
  private final List<TaskResult> results;

  private TaskResults(List<TaskResult> results) {
    this.results = List.copyOf(results);
  }

  /**
   * Creates results typed by their Java values (see {@link Arg#typeOf(Object)}); a {@link
   * TaskResult} is kept as is.
   *
   * @param values the values, in order
   * @return the results
   * @throws IllegalArgumentException if a value has no Go type
   */
  public static TaskResults of(Object... values) {
    List<TaskResult> out = new ArrayList<>(values.length);
    for (Object value : values) {
      out.add(value instanceof TaskResult r ? r : TaskResult.of(value));
    }
    return new TaskResults(out);
  }

  /**
   * Returns the results.
   *
   * @return the results, in order
   */
  public List<TaskResult> results() {
    return results;
  }
}
