package io.machinery;

import io.machinery.wire.LogText;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's listeners as one: calls each in order, logs and ignores one that throws. {@link
 * #NONE} stands for "no listeners"; callers compare against it to skip building events at all.
 */
final class Listeners implements TaskListener {
  private static final Logger log = LoggerFactory.getLogger(Listeners.class);

  static final TaskListener NONE = new TaskListener() {};

  private final List<TaskListener> listeners;

  private Listeners(List<TaskListener> listeners) {
    this.listeners = listeners;
  }

  static TaskListener of(List<TaskListener> listeners) {
    return listeners.isEmpty() ? NONE : new Listeners(List.copyOf(listeners));
  }

  @Override
  public Signature publishing(Signature signature) {
    Signature current = signature;
    for (TaskListener listener : listeners) {
      try {
        Signature next = listener.publishing(current);
        if (next.uuid().equals(current.uuid()) && next.name().equals(current.name())) {
          current = next;
        } else {
          log.warn(
              "Listener {} changed the UUID or name of task {} in publishing; ignoring its change",
              listener,
              LogText.of(current.uuid()));
        }
      } catch (RuntimeException e) {
        failed(listener, "publishing", e);
      }
    }
    return current;
  }

  @Override
  public void sent(Signature signature, @Nullable Throwable error) {
    each("sent", l -> l.sent(signature, error));
  }

  @Override
  public void received(Signature signature, String queue) {
    each("received", l -> l.received(signature, queue));
  }

  @Override
  public void started(Signature signature) {
    each("started", l -> l.started(signature));
  }

  @Override
  public void finished(TaskOutcome outcome) {
    each("finished", l -> l.finished(outcome));
  }

  @Override
  public void notRun(Signature signature, NotRunCause cause, String reason) {
    each("notRun", l -> l.notRun(signature, cause, reason));
  }

  @Override
  public <T extends @Nullable Object> Callable<T> handingOver(
      Signature signature, Callable<T> call) {
    Callable<T> wrapped = call;
    for (TaskListener listener : listeners) {
      try {
        wrapped = Objects.requireNonNull(listener.handingOver(signature, wrapped), "null callable");
      } catch (RuntimeException e) {
        failed(listener, "handingOver", e);
      }
    }
    return wrapped;
  }

  @Override
  public void deadLettered(String queue, @Nullable Signature signature, String reason) {
    each("deadLettered", l -> l.deadLettered(queue, signature, reason));
  }

  @Override
  public void deferred(Signature signature, String queue, TaskDeferral deferral) {
    each("deferred", l -> l.deferred(signature, queue, deferral));
  }

  @Override
  public void batchStarting(String key, List<Signature> tasks) {
    each("batchStarting", l -> l.batchStarting(key, tasks));
  }

  @Override
  public void batchRan(BatchRun run) {
    each("batchRan", l -> l.batchRan(run));
  }

  private void each(String event, java.util.function.Consumer<TaskListener> call) {
    for (TaskListener listener : listeners) {
      try {
        call.accept(listener);
      } catch (RuntimeException e) {
        failed(listener, event, e);
      }
    }
  }

  private static void failed(TaskListener listener, String event, RuntimeException e) {
    log.warn("Listener {} threw in {}; ignoring it: {}", listener, event, e.toString());
  }
}
