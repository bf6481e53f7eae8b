package io.machinery.embedded;

import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import java.time.Clock;
import java.util.List;

/**
 * Go's eager backend, for tests: states in a map, each state write replacing the previous one whole
 * (no carry-forward), values round-tripped through Go JSON. Unlike Go, a chord triggers once (Go's
 * always says yes, which is safe only because its eager broker is synchronous). Thread-safe.
 */
public final class EagerBackend extends StoreBackend {
  private EagerBackend() {
    super(new ResultStore(Clock.systemUTC(), Config.DEFAULT_RESULTS_EXPIRE_IN * 24));
  }

  public static EagerBackend create() {
    return new EagerBackend();
  }

  @Override
  void write(TaskState state) {
    store.put(state);
  }

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    store.put(TaskState.success(signature, results));
  }
}
