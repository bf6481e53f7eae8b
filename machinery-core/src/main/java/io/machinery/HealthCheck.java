package io.machinery;

import io.machinery.spi.Inspector;
import io.machinery.wire.LogText;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * A health check a service's own health endpoint can call: is the broker reachable, is the result
 * backend reachable, is every worker of the server consuming.
 *
 * <pre>{@code
 * HealthCheck health = HealthCheck.create(server);
 * HealthCheck.Report report = health.check();
 * return report.healthy() ? ok(report.toString()) : unavailable(report.toString());
 * }</pre>
 *
 * <p>Design notes: the SPI has no ping, so the probes are the cheapest reads there are: the
 * broker's {@link Inspector#queue} sizes of a queue nobody uses ({@value #PROBE_QUEUE}), or without
 * an inspector a listing of that empty queue; the backend reads the state of a task id no sender
 * makes ({@value #PROBE_TASK}). Each probe runs on its own virtual thread and counts as down after
 * {@link #timeout()}, so a hung connection cannot hang the caller's health endpoint; while a probe
 * stays unanswered, later checks wait for that same probe rather than start another. Thread-safe.
 */
public final class HealthCheck {
  /** The queue the broker probe reads. */
  public static final String PROBE_QUEUE = "machinery_health_probe";

  /** The task id the backend probe reads. */
  public static final String PROBE_TASK = "task_00000000-0000-0000-0000-000000000000";

  /** Default of {@link #create(Server, Duration)}'s timeout. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

  private final Server server;
  private final Duration timeout;
  // A probe that has not answered yet is waited for again instead of started anew, so a hung
  // connection
  // blocks one thread per probe, not one per call.
  private final AtomicReference<@Nullable CompletableFuture<@Nullable Void>> brokerProbe =
      new AtomicReference<>();
  private final AtomicReference<@Nullable CompletableFuture<@Nullable Void>> backendProbe =
      new AtomicReference<>();

  private HealthCheck(Server server, Duration timeout) {
    this.server = server;
    this.timeout = timeout;
  }

  /**
   * Creates a check of {@code server}'s broker, backend and the workers it launched, waiting up to
   * {@link #DEFAULT_TIMEOUT} (5 s) for each probe.
   *
   * @param server the server to check; the check uses its broker and backend but does not own them
   *     (closing the server stays its builder's job)
   * @return a health check for {@code server}
   * @throws NullPointerException if {@code server} is null
   */
  public static HealthCheck create(Server server) {
    return create(server, DEFAULT_TIMEOUT);
  }

  /**
   * Creates a check of {@code server}'s broker, backend and the workers it launched, with a chosen
   * probe timeout.
   *
   * @param server the server to check; the check uses its broker and backend but does not own them
   *     (closing the server stays its builder's job)
   * @param timeout how long {@link #check()} waits for each probe before it reports that probe as
   *     down
   * @return a health check for {@code server}
   * @throws NullPointerException if {@code server} or {@code timeout} is null
   * @throws IllegalArgumentException if {@code timeout} is zero or negative
   */
  public static HealthCheck create(Server server, Duration timeout) {
    Objects.requireNonNull(server, "server");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, was " + timeout);
    }
    return new HealthCheck(server, timeout);
  }

  /**
   * Returns how long a check waits for each probe.
   *
   * @return the probe timeout given to {@link #create(Server, Duration)}, or {@link
   *     #DEFAULT_TIMEOUT}
   */
  public Duration timeout() {
    return timeout;
  }

  /**
   * Runs the probes (the broker's and the backend's at once) and reports; never throws for a
   * failing probe. Waits up to {@link #timeout()} for each probe, one after the other, so a call
   * returns within about twice the timeout. If the calling thread is interrupted, a probe not yet
   * answered is reported down and the interrupt flag is kept.
   *
   * @return the broker's and backend's errors (null when they answered) and the server's consuming
   *     and stopped workers
   */
  public Report check() {
    CompletableFuture<@Nullable Void> broker =
        probe(
            brokerProbe,
            () -> {
              Optional<Inspector> inspector = server.broker().inspector();
              if (inspector.isPresent()) {
                inspector.get().queue(PROBE_QUEUE);
              } else {
                server.broker().pendingTasks(PROBE_QUEUE);
              }
            });
    CompletableFuture<@Nullable Void> backend =
        probe(backendProbe, () -> server.backend().getState(PROBE_TASK));
    List<String> stopped = new ArrayList<>();
    List<String> consuming = new ArrayList<>();
    for (Worker worker : server.workers()) {
      (worker.isRunning() ? consuming : stopped).add(worker.consumerTag());
    }
    return new Report(
        outcome(broker), outcome(backend), List.copyOf(consuming), List.copyOf(stopped));
  }

  private static CompletableFuture<@Nullable Void> probe(
      AtomicReference<@Nullable CompletableFuture<@Nullable Void>> last, Runnable read) {
    CompletableFuture<@Nullable Void> running = last.get();
    if (running != null && !running.isDone()) {
      return running;
    }
    CompletableFuture<@Nullable Void> result = new CompletableFuture<>();
    if (!last.compareAndSet(running, result)) {
      return Objects.requireNonNull(last.get()); // another check started one just now: share it
    }
    Thread.ofVirtual()
        .name("machinery-health-probe")
        .start(
            () -> {
              try {
                read.run();
                result.complete(null);
              } catch (Throwable t) {
                result.completeExceptionally(t);
              }
            });
    return result;
  }

  /** Null when the probe answered, else why not. */
  private @Nullable String outcome(CompletableFuture<@Nullable Void> probe) {
    try {
      probe.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      return null;
    } catch (TimeoutException e) {
      return "no answer within " + timeout;
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      return LogText.of(String.valueOf(cause));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted while waiting for the probe";
    }
  }

  /**
   * One check's result.
   *
   * @param brokerError why the broker did not answer; null when it did
   * @param backendError why the backend did not answer; null when it did
   * @param consumingWorkers consumer tags of the server's workers that are consuming
   * @param stoppedWorkers consumer tags of the server's workers that were launched and have stopped
   */
  public record Report(
      @Nullable String brokerError,
      @Nullable String backendError,
      List<String> consumingWorkers,
      List<String> stoppedWorkers) {
    /**
     * Tells whether the server looks healthy.
     *
     * @return true when the broker and the backend answered and no launched worker has stopped
     */
    public boolean healthy() {
      return brokerError == null && backendError == null && stoppedWorkers.isEmpty();
    }

    @Override
    public String toString() {
      return (healthy() ? "UP" : "DOWN")
          + " broker="
          + (brokerError == null ? "up" : brokerError)
          + " backend="
          + (backendError == null ? "up" : backendError)
          + " workers="
          + consumingWorkers
          + (stoppedWorkers.isEmpty() ? "" : " stopped=" + stoppedWorkers);
    }
  }
}
