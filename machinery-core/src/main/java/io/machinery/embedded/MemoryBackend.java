package io.machinery.embedded;

import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.config.Config;
import java.time.Clock;
import java.util.List;

/**
 * A result backend in this JVM's memory: the embedded default. States are kept as Go JSON (so the
 * wire format is exercised), TaskName and CreatedAt are carried forward as Go's Redis backend does,
 * a chord triggers exactly once, and entries expire after {@link Config#effectiveResultsExpireIn()}
 * seconds. Thread-safe.
 */
public final class MemoryBackend extends StoreBackend {
  private MemoryBackend(Config config, Clock clock) {
    super(new ResultStore(clock, config.effectiveResultsExpireIn()));
  }

  public static MemoryBackend create() {
    return new MemoryBackend(Config.DEFAULT, Clock.systemUTC());
  }

  public static MemoryBackend create(Config config, Clock clock) {
    return new MemoryBackend(config, clock);
  }

  @Override
  void write(TaskState state) {
    store.merge(state);
  }

  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    store.success(signature, results);
  }
}
