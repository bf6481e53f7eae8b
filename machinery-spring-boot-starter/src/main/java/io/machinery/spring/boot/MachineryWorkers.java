package io.machinery.spring.boot;

import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.TaskBreaker;
import io.machinery.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The workers of this application, started and stopped with the Spring application context.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Which workers.</b> One worker on the default queue, and one on each queue named by a
 *       {@link MachineryTask#queue()}; each has the configured concurrency and graceful timeout,
 *       then whatever the {@link MachineryWorkerCustomizer} beans set. Signal handling is off:
 *       Spring's own shutdown hook stops the context, and with it the workers.
 *   <li><b>Phase.</b> {@link #PHASE} is below the web server's (Boot stops the web server's
 *       graceful shutdown at {@code DEFAULT_PHASE - 1024} and the server at {@code - 2048}), so
 *       workers start before the application takes requests and stop after it has stopped taking
 *       them: a request that waits for a task's result is still served while the workers drain.
 *   <li><b>Stopping.</b> {@link #stop(Runnable)} quits every worker in parallel on virtual threads
 *       and calls back when all have stopped, so the whole stop takes one graceful timeout, inside
 *       Spring's {@code spring.lifecycle.timeout-per-shutdown-phase}. A task still running after
 *       the graceful timeout is cancelled and its message goes back to the broker (at-least-once).
 *   <li><b>Start failure.</b> A worker whose consumer is refused for good fails the context's
 *       start, with the broker's error as the cause, instead of leaving a service that silently
 *       consumes nothing (an unreachable Redis fails it earlier, when the broker bean connects). A
 *       broker's server that failed the start but may come back (out of memory, say) is retried:
 *       the worker reads {@link Worker#isStarting()} and the health DOWN meanwhile.
 *   <li><b>Queues</b> are read from the task registrar at each start, not when this bean is made:
 *       an application bean that needs this one may have it made before some task beans.
 *   <li><b>Task beans made later.</b> A task bean first made after the context started (a
 *       {@code @Lazy} one) has its task registered then, and the registrar hands the queue it names
 *       to {@code follow}: when the workers run and none consumes that queue, one is started on it
 *       at once, as {@link #start()} starts each (breakers, customizers, launch listeners), in the
 *       thread that made the bean; a consumer the broker refuses for good fails that bean's
 *       creation. Messages sent to the queue earlier wait for it in the broker. When the workers
 *       are stopped, the next start reads the queue with the others. {@link #start()}, {@code
 *       follow} and the hand-over of the stops hold this object's monitor, so a queue never gets
 *       two workers and no worker starts after a stop took the list. Lock order: this monitor, then
 *       the registrar's ({@link #start()} reads the queues under it), so the registrar calls {@code
 *       follow} after releasing its own.
 * </ul>
 */
public final class MachineryWorkers implements SmartLifecycle {
  /** Below the web server's phases, so workers outlive request handling on shutdown. */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

  private static final Logger log = LoggerFactory.getLogger(MachineryWorkers.class);

  private final Server server;
  private final MachineryProperties.WorkerSettings settings;
  private final Supplier<? extends Collection<String>> extraQueues;
  private final List<LaunchListener> launchListeners;
  private final List<MachineryWorkerCustomizer> customizers;
  private final Map<String, TaskBreaker> breakers;
  private final List<Worker> workers = new CopyOnWriteArrayList<>();
  private volatile boolean running;

  /**
   * Told of each worker once it consumes (the metrics module binds its gauges there), on every
   * start, so a context that is stopped and started again binds its new workers too.
   * Package-private: the starter's own hook.
   */
  interface LaunchListener {
    void launched(Worker worker);
  }

  MachineryWorkers(
      Server server,
      MachineryProperties.WorkerSettings settings,
      Supplier<? extends Collection<String>> extraQueues,
      List<LaunchListener> launchListeners,
      List<MachineryWorkerCustomizer> customizers) {
    this.server = server;
    this.settings = settings;
    this.launchListeners = List.copyOf(launchListeners);
    this.customizers = List.copyOf(customizers);
    this.breakers = settings.toBreakers(); // an invalid one stops the start, naming its key
    this.extraQueues = extraQueues;
  }

  /**
   * The default queue ("") and every queue a task names, read at start: this bean may be made
   * before some task beans (one of the application's beans needs it), and their queues count too.
   */
  private List<String> queues() {
    List<String> all = new ArrayList<>();
    all.add("");
    extraQueues.get().stream()
        .filter(q -> !q.isEmpty() && !q.equals(server.config().defaultQueue()))
        .distinct()
        .forEach(all::add);
    return all;
  }

  @Override
  public synchronized void start() {
    if (running) {
      return;
    }
    try {
      queues().forEach(this::launch);
    } catch (RuntimeException e) { // no worker of a failed start is left running
      workers.forEach(Worker::quit);
      workers.clear();
      throw e;
    }
    running = true;
  }

  /**
   * A queue named by a task bean made after the context started: started on at once when the
   * workers run and none consumes it yet (see the design notes).
   *
   * @throws MachineryException when the broker refuses the new worker's consumer for good
   */
  synchronized void follow(String queue) {
    if (!running || queue.isEmpty() || queue.equals(server.config().defaultQueue())) {
      return;
    }
    if (workers.stream().noneMatch(w -> w.customQueue().equals(queue))) {
      launch(queue);
    }
  }

  /** Builds and launches the worker of {@code queue} ("" for the default queue) and keeps it. */
  private void launch(String queue) {
    String tag =
        queue.isEmpty() ? settings.getConsumerTag() : settings.getConsumerTag() + "_" + queue;
    Worker.Builder builder =
        server
            .workerBuilder(tag)
            .concurrency(settings.getConcurrency())
            .queue(queue)
            .gracefulTimeout(settings.getGracefulTimeout())
            .handleSignals(false);
    String consumed = queue.isEmpty() ? server.config().defaultQueue() : queue;
    breakers.forEach(builder::breaker);
    customizers.forEach(customizer -> customizer.customize(consumed, builder));
    Worker worker = builder.build();
    CompletableFuture<Void> done = worker.launchAsync();
    if (done.isCompletedExceptionally()) {
      throw new MachineryException(
          "worker "
              + tag
              + " could not start consuming "
              + describe(queue)
              + ": "
              + done.exceptionNow().getMessage(),
          done.exceptionNow());
    }
    done.whenComplete(
        (ok, error) -> {
          if (error != null) {
            log.error("Worker {} stopped with an error", tag, error);
          }
        });
    workers.add(worker);
    launchListeners.forEach(listener -> listener.launched(worker));
  }

  @Override
  public void stop(Runnable callback) {
    List<Worker> stopping = handOver();
    Thread.ofVirtual()
        .name("machinery-workers-stop")
        .start(
            () -> {
              try {
                quitAll(stopping);
              } finally {
                workers.removeAll(stopping);
                callback.run();
              }
            });
  }

  @Override
  public void stop() {
    List<Worker> stopping = handOver();
    quitAll(stopping);
    workers.removeAll(stopping);
  }

  /** The workers to stop; from here on {@code follow} starts none (quitting is not locked). */
  private synchronized List<Worker> handOver() {
    running = false;
    return List.copyOf(workers);
  }

  private static void quitAll(List<Worker> stopping) {
    List<Thread> threads = new ArrayList<>();
    for (Worker worker : stopping) {
      threads.add(
          Thread.ofVirtual().name("machinery-quit-" + worker.consumerTag()).start(worker::quit));
    }
    for (Thread thread : threads) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        stopping.forEach(Worker::quitAbruptly);
        return;
      }
    }
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }

  /** The running workers (empty before start and after stop). */
  public List<Worker> workers() {
    return List.copyOf(workers);
  }

  /** The graceful timeout each worker gets on stop. */
  public Duration gracefulTimeout() {
    return settings.getGracefulTimeout();
  }

  private String describe(String queue) {
    return "queue '" + (queue.isEmpty() ? server.config().defaultQueue() : queue) + "'";
  }
}
