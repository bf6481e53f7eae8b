package io.machinery;

import io.machinery.spi.Backend;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The handle to a DAG's results ({@link Server#sendDag}): one {@link AsyncResult} per task, by the
 * task's name in the DAG. A task that has not been sent yet has no state; waiting for it waits
 * until its dependencies finished and it ran. Thread-safe.
 */
public final class DagAsyncResult {
  private final Map<String, AsyncResult> results;

  DagAsyncResult(Dag dag, Backend backend) {
    Map<String, AsyncResult> map = new LinkedHashMap<>();
    for (Dag.Node node : dag.nodes()) {
      map.put(node.name(), new AsyncResult(node.task(), backend));
    }
    this.results = Collections.unmodifiableMap(map);
  }

  /**
   * Returns the handle to one task's result.
   *
   * @param name the task's name in the DAG
   * @return its handle
   * @throws IllegalArgumentException when the DAG has no task of that name
   */
  public AsyncResult asyncResult(String name) {
    AsyncResult result = results.get(name);
    if (result == null) {
      throw Dag.noSuchTask(name);
    }
    return result;
  }

  /**
   * Returns one handle per task.
   *
   * @return the handles by name, in the order the tasks were added
   */
  public Map<String, AsyncResult> asyncResults() {
    return results;
  }

  /**
   * Returns the UUIDs of the DAG's tasks, for {@link Server#cancel}.
   *
   * @return the UUIDs, in the order the tasks were added
   */
  public List<String> taskUuids() {
    return results.values().stream().map(AsyncResult::taskUuid).toList();
  }

  /**
   * Reads every task's state once, without waiting: where the DAG is.
   *
   * @return each task's state by name, in the order the tasks were added; {@link State#PENDING} for
   *     a task without a state (not sent yet)
   * @throws MachineryException when the backend cannot be read
   */
  public Map<String, State> states() {
    Map<String, State> states = new LinkedHashMap<>();
    for (Map.Entry<String, AsyncResult> entry : results.entrySet()) {
      states.put(entry.getKey(), entry.getValue().state());
    }
    return Collections.unmodifiableMap(states);
  }

  /**
   * Waits for every task, in the order they were added, at most {@code timeout} in all.
   *
   * @param timeout the longest to wait for the whole DAG
   * @return every task's typed results, by name
   * @throws TaskFailedException for the first task, in that order, that failed (the tasks that
   *     depend on it failed too, and the others may still be running)
   * @throws ResultTimeoutException when {@code timeout} passed first
   * @throws MachineryException when the backend cannot be read, or when interrupted
   */
  public Map<String, List<Object>> get(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    Map<String, List<Object>> values = new LinkedHashMap<>();
    for (Map.Entry<String, AsyncResult> entry : results.entrySet()) {
      long left = Math.max(0, deadline - System.nanoTime());
      values.put(entry.getKey(), entry.getValue().get(Duration.ofNanos(left)));
    }
    return Collections.unmodifiableMap(values);
  }
}
