package io.machinery;

import io.machinery.wire.LogText;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's listeners as one: calls each in order, logs and ignores one that throws a {@code
 * RuntimeException}. {@link #NONE} stands for "no listeners"; callers compare against it to skip
 * building events at all.
 *
 * <p>An {@code Error} (an {@code AssertionError}, a {@code NoClassDefFoundError} from a tracing
 * library missing a class, {@code OutOfMemoryError}) still lets the event go to the listeners after
 * the one that threw, so each listener sees the same events (one that was told {@code received} is
 * then told {@code notRun}). In the events before a task's function ({@code received}, {@code
 * started}, and a batch's {@code batchStarting}) the first {@code Error} is then thrown on, as
 * before: the worker does not run the task (see Intake). In the events that report what already
 * happened ({@code finished}, {@code notRun}, {@code deadLettered}, ...) it is logged with the task
 * and ignored: the outcome is recorded and its message settled as it says (thrown on, it would make
 * the worker requeue a message whose task already ran).
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
    afterTheFact("sent", signature, l -> l.sent(signature, error));
  }

  @Override
  public void received(Signature signature, String queue) {
    beforeTheRun("received", l -> l.received(signature, queue));
  }

  @Override
  public void started(Signature signature) {
    beforeTheRun("started", l -> l.started(signature));
  }

  @Override
  public void finished(TaskOutcome outcome) {
    afterTheFact("finished", outcome.signature(), l -> l.finished(outcome));
  }

  @Override
  public void notRun(Signature signature, NotRunCause cause, String reason) {
    afterTheFact("notRun", signature, l -> l.notRun(signature, cause, reason));
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
    afterTheFact("deadLettered", signature, l -> l.deadLettered(queue, signature, reason));
  }

  @Override
  public void deferred(Signature signature, String queue, TaskDeferral deferral) {
    afterTheFact("deferred", signature, l -> l.deferred(signature, queue, deferral));
  }

  @Override
  public void batchStarting(String key, List<Signature> tasks) {
    beforeTheRun("batchStarting", l -> l.batchStarting(key, tasks));
  }

  @Override
  public void batchRan(BatchRun run) {
    afterTheFact("batchRan", null, l -> l.batchRan(run));
  }

  /** An event before the task's function: the first {@code Error} is thrown once all were told. */
  private void beforeTheRun(String event, Consumer<TaskListener> call) {
    Error first = each(event, call);
    if (first != null) {
      throw first;
    }
  }

  /** An event about what already happened: an {@code Error} is logged with the task, ignored. */
  private void afterTheFact(String event, @Nullable Signature task, Consumer<TaskListener> call) {
    Error first = each(event, call);
    if (first != null) {
      log.error(
          "A listener threw in {}{}; ignoring it",
          event,
          task == null ? "" : " of task " + LogText.of(task.name()) + " " + LogText.of(task.uuid()),
          first);
    }
  }

  /** Tells every listener; returns the first {@code Error} thrown, the later ones suppressed. */
  private @Nullable Error each(String event, Consumer<TaskListener> call) {
    @Nullable Error first = null;
    for (TaskListener listener : listeners) {
      try {
        call.accept(listener);
      } catch (RuntimeException e) {
        failed(listener, event, e);
      } catch (Error e) {
        if (first == null) {
          first = e;
        } else if (e != first) { // the JVM may throw one OutOfMemoryError instance again
          first.addSuppressed(e);
        }
      }
    }
    return first;
  }

  private static void failed(TaskListener listener, String event, RuntimeException e) {
    log.warn("Listener {} threw in {}; ignoring it: {}", listener, event, e.toString());
  }
}
