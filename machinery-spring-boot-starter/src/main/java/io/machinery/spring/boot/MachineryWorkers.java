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
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
 *       to {@code follow}, which returns at once: the thread making the bean must neither wait for
 *       the broker (an unreachable one would hold {@code getBean} for its timeouts) nor for this
 *       object's monitor (see Locks). A thread of its own then takes the monitor and, when the
 *       workers run and none consumes that queue, starts one on it as {@link #start()} starts each
 *       (breakers, customizers, launch listeners). Meanwhile the health lists it among the starting
 *       workers. A start the broker's server fails is tried again by the worker, as at startup; a
 *       worker that cannot be made or whose consumer is refused for good cannot fail the bean's
 *       creation any more: it is logged and the health is DOWN, naming it, until the next {@link
 *       #start()} (which tries that queue again with the others) or a later late start of it works.
 *       Messages sent to the queue earlier wait for it in the broker. When the workers are stopped,
 *       nothing is started; the next start reads the queue with the others.
 *   <li><b>Locks.</b> {@link #start()}, the late start of a queue and the hand-over of the stops
 *       hold this object's monitor, so a queue never gets two workers and no worker starts after a
 *       stop took the list (a stop waits for the first attempt of a launch under way, whose broker
 *       may take up to its timeouts, as it would for {@link #start()}). {@link #start()} calls the
 *       customizers under it, and a customizer may make a bean, which takes Spring's singleton
 *       lock; a thread making a {@code @Lazy} task bean holds that lock while the registrar calls
 *       {@code follow}. So {@code follow} never waits for the monitor: were it to, the two threads
 *       would wait for each other for ever (the edge-case test shows that deadlock on the earlier
 *       code). Lock order otherwise: this monitor, then the registrar's ({@link #start()} reads the
 *       queues under it), so the registrar calls {@code follow} after releasing its own.
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

  /** The queues handed to {@code follow} whose late start has not run yet. */
  private final Set<String> lateStarting = ConcurrentHashMap.newKeySet();

  /** The tag of each worker whose late start failed, with why; cleared by each start. */
  private final Map<String, String> lateFailed = new ConcurrentHashMap<>();

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
    lateFailed.clear(); // their queues are among queues(): tried again now
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
   * A queue named by a task bean made after the context started: a worker is started on it in the
   * background when the workers run and none consumes it yet (see the design notes). Returns at
   * once, whatever the broker does; never waits for this object's monitor.
   */
  void follow(String queue) {
    // Read without the monitor: a worker listed on the queue runs, or a stop under way took it
    // and the next start reads the queue; a late start already waiting checks after this call.
    // So a prototype task bean made per request starts no thread each time. Not skipped when the
    // workers do not run yet: a start under way may have read the queues before this one was
    // registered, and the late start runs once that start has ended.
    if (queue.isEmpty()
        || queue.equals(server.config().defaultQueue())
        || consumed(queue)
        || !lateStarting.add(queue)) {
      return;
    }
    Thread.ofPlatform() // a platform thread: it waits for the broker holding the monitor
        .daemon()
        .name("machinery-late-start-" + queue)
        .start(() -> startLate(queue));
  }

  private synchronized void startLate(String queue) {
    try {
      if (running && !consumed(queue)) {
        launch(queue);
        lateFailed.remove(tagOf(queue));
      }
    } catch (RuntimeException e) {
      log.error(
          "No worker consumes {} of a task bean made after the start: {}",
          describe(queue),
          e.getMessage(),
          e);
      lateFailed.put(tagOf(queue), String.valueOf(e.getMessage()));
    } finally {
      lateStarting.remove(queue);
    }
  }

  /**
   * The tags of the workers that task beans made after the start wait for: their start has not run
   * yet (a worker that runs but has no consumer yet is {@link Worker#isStarting()}).
   */
  List<String> lateStartingTags() {
    return lateStarting.stream().map(this::tagOf).sorted().toList();
  }

  /**
   * The workers that task beans made after the start needed and that could not start, by tag, with
   * why; empty again from the next {@link #start()}.
   */
  Map<String, String> lateStartFailures() {
    return new TreeMap<>(lateFailed);
  }

  private boolean consumed(String queue) {
    return workers.stream().anyMatch(w -> w.customQueue().equals(queue));
  }

  private String tagOf(String queue) {
    return queue.isEmpty() ? settings.getConsumerTag() : settings.getConsumerTag() + "_" + queue;
  }

  /** Builds and launches the worker of {@code queue} ("" for the default queue) and keeps it. */
  private void launch(String queue) {
    String tag = tagOf(queue);
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
