package io.machinery.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.BatchPolicy;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskBreaker;
import io.machinery.TaskDeferral;
import io.machinery.TaskFailedException;
import io.machinery.TaskFunction;
import io.machinery.TaskListener;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.spi.Backend;
import io.machinery.spi.Inspector;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Counters, timers and gauges recorded from a real worker on the memory broker and backend. */
class MachineryMetricsTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final java.util.Set<String> histograms =
      java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final CountDownLatch release = new CountDownLatch(1);
  private MemoryBroker broker;
  private MemoryBackend backend;
  private MachineryMetrics metrics;
  private Server server;

  @BeforeEach
  void setUp() {
    registry
        .config()
        .meterFilter(
            new io.micrometer.core.instrument.config.MeterFilter() {
              @Override
              public io.micrometer.core.instrument.distribution.DistributionStatisticConfig
                  configure(
                      io.micrometer.core.instrument.Meter.Id id,
                      io.micrometer.core.instrument.distribution.DistributionStatisticConfig c) {
                if (Boolean.TRUE.equals(c.isPercentileHistogram())) {
                  histograms.add(id.getName());
                }
                return c;
              }
            });
    broker = MemoryBroker.create(config, Clock.systemUTC());
    backend = MemoryBackend.create(config, Clock.systemUTC());
    metrics =
        MachineryMetrics.builder(registry)
            .tags(Tags.of("app", "test"))
            .publishPercentileHistogram(true)
            .queueSampleInterval(Duration.ZERO)
            .build();
    server =
        Server.builder().config(config).broker(broker).backend(backend).listener(metrics).build();
    server.registerTask("hello", TaskFunction.of(() -> "hi"));
    server.registerTask(
        "boom",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("it broke");
            }));
    server.registerTask("hold", TaskFunction.of(() -> release.await(10, TimeUnit.SECONDS)));
  }

  @AfterEach
  void tearDown() {
    release.countDown();
    server.close();
    broker.close();
    backend.close();
  }

  private double count(String name, String task) {
    var counter = registry.find(name).tags("task", task, "app", "test").counter();
    return counter == null ? 0 : counter.count();
  }

  @Test
  void countsEveryOutcomeByTaskName() {
    Worker worker = server.newWorker("metrics-1", 2);
    worker.launchAsync();

    server.sendTask(Signature.create("hello")).get(TIMEOUT);
    server.sendTask(Signature.create("hello")).get(TIMEOUT);
    AsyncResult boom = server.sendTask(Signature.builder("boom").retryCount(1).build());
    broker.pushRaw(config.defaultQueue(), "not json".getBytes(StandardCharsets.UTF_8));

    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                count(MachineryMetrics.FAILED, "boom") == 1
                    && count(MachineryMetrics.DEAD_LETTERED, "unknown") == 1);
    assertThat(boom.signature().uuid()).isNotEmpty();
    assertThat(count(MachineryMetrics.SENT, "hello")).isEqualTo(2);
    assertThat(
            registry
                .get(MachineryMetrics.SENT)
                .tags("task", "hello", "exception", "none")
                .counter()
                .count())
        .isEqualTo(2);
    assertThat(count(MachineryMetrics.SENT, "boom"))
        .as("the first send and the retry")
        .isEqualTo(2);
    assertThat(count(MachineryMetrics.RECEIVED, "hello")).isEqualTo(2);
    assertThat(count(MachineryMetrics.SUCCEEDED, "hello")).isEqualTo(2);
    assertThat(count(MachineryMetrics.RECEIVED, "boom")).isEqualTo(2);
    assertThat(count(MachineryMetrics.RETRIED, "boom")).isEqualTo(1);
    assertThat(count(MachineryMetrics.FAILED, "boom")).isEqualTo(1);
    assertThat(count(MachineryMetrics.SUCCEEDED, "boom")).isZero();

    Timer run =
        registry.get(MachineryMetrics.RUN).tags("task", "hello", "state", "SUCCESS").timer();
    assertThat(run.count()).isEqualTo(2);
    assertThat(histograms)
        .as("percentile histograms asked for (SimpleMeterRegistry itself keeps no buckets)")
        .contains(MachineryMetrics.RUN, MachineryMetrics.LATENCY);
    assertThat(
            registry
                .get(MachineryMetrics.RUN)
                .tags("task", "boom", "state", "RETRY")
                .timer()
                .count())
        .isEqualTo(1);
    assertThat(registry.get(MachineryMetrics.LATENCY).tags("task", "hello").timer().count())
        .isEqualTo(2);
  }

  @Test
  void anOutcomeThatWasNotRecordedCountsApartFromTheRecordedOnes() {
    // the backend refuses the SUCCESS of task "hello": with one bookkeeping attempt the worker
    // gives up and dead-letters the message, so the run's outcome is not recorded
    Backend refusingSuccess =
        (Backend)
            Proxy.newProxyInstance(
                Backend.class.getClassLoader(),
                new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("setStateSuccess")) {
                    throw new IllegalStateException("the result store is down");
                  }
                  try {
                    return method.invoke(backend, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    try (Server refusing =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(refusingSuccess)
            .listener(metrics)
            .build()) {
      refusing.registerTask("hello", TaskFunction.of(() -> "hi"));
      refusing
          .workerBuilder("metrics-unrecorded")
          .concurrency(1)
          .bookkeepingAttempts(1)
          .build()
          .launchAsync();
      refusing.sendTask(Signature.create("hello"));
      await().atMost(TIMEOUT).until(() -> count(MachineryMetrics.DEAD_LETTERED, "hello") == 1);
    }
    assertThat(count(MachineryMetrics.SUCCEEDED, "hello")).isZero();
    assertThat(
            registry
                .get(MachineryMetrics.UNRECORDED)
                .tags("task", "hello", "state", "SUCCESS", "app", "test")
                .counter()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get(MachineryMetrics.RUN)
                .tags("task", "hello", "state", "SUCCESS")
                .timer()
                .count())
        .as("the function did run")
        .isEqualTo(1);
  }

  /**
   * A task the worker abandoned at shutdown (its message handed back to the broker) reached the
   * listener's {@code notRun} and no meter: received, but in no outcome counter. It counts in
   * {@value MachineryMetrics#NOT_RUN}.
   */
  @Test
  void aTaskAbandonedAtShutdownCountsAsNotRun() {
    Worker worker = server.newWorker("metrics-abandon", 1);
    worker.launchAsync();
    server.sendTask(Signature.create("hold"));
    await().atMost(TIMEOUT).until(() -> worker.runningTasks() == 1);

    worker.quitAbruptly();

    await().atMost(TIMEOUT).until(() -> count(MachineryMetrics.NOT_RUN, "hold") == 1);
    assertThat(
            registry
                .get(MachineryMetrics.NOT_RUN)
                .tags("task", "hold", "reason", "shutdown")
                .counter()
                .count())
        .as("the cause is a tag: a deploy's shutdown, not an outage")
        .isEqualTo(1);
    assertThat(count(MachineryMetrics.RECEIVED, "hold")).isEqualTo(1);
    for (String outcome :
        List.of(
            MachineryMetrics.SUCCEEDED,
            MachineryMetrics.FAILED,
            MachineryMetrics.RETRIED,
            MachineryMetrics.UNRECORDED)) {
      assertThat(count(outcome, "hold")).as(outcome).isZero();
    }
    assertThat(broker.inspector().orElseThrow().queue("").pending())
        .as("handed back to the broker")
        .isEqualTo(1);
  }

  /**
   * Each cause of a task that did not run is a {@code reason} tag of its own, in lower case, so an
   * alert can watch {@code backend_failed} and leave a deploy's {@code shutdown} alone.
   */
  @Test
  void eachCauseOfATaskThatDidNotRunIsAReasonTag() {
    Signature hello = Signature.create("hello");
    for (TaskListener.NotRunCause cause : TaskListener.NotRunCause.values()) {
      metrics.notRun(hello, cause, "details for people");
    }
    metrics.notRun(hello, TaskListener.NotRunCause.BACKEND_FAILED, "again");

    assertThat(registry.find(MachineryMetrics.NOT_RUN).tags("task", "hello").counters())
        .extracting(c -> c.getId().getTag("reason"), c -> c.count())
        .containsExactlyInAnyOrder(
            org.assertj.core.groups.Tuple.tuple("shutdown", 1.0),
            org.assertj.core.groups.Tuple.tuple("backend_failed", 2.0),
            org.assertj.core.groups.Tuple.tuple("error", 1.0));
  }

  /**
   * Closing a binding removes its gauges; a worker made again under the same tag took them over, so
   * closing the first one's binding leaves them to the second, and closing the second removes them.
   */
  @Test
  void closingABindingRemovesItsGaugesUnlessALaterBindTookThemOver() {
    Worker first = server.newWorker("metrics-unbind", 2);
    MachineryMetrics.Binding firstGauges = metrics.bindWorker(first);
    Worker second = server.newWorker("metrics-unbind", 3);
    MachineryMetrics.Binding secondGauges = metrics.bindWorker(second);

    firstGauges.close();
    assertThat(
            registry
                .get(MachineryMetrics.SLOTS)
                .tags("worker", "metrics-unbind", "state", "free")
                .gauge()
                .value())
        .as("the second worker's, still there")
        .isEqualTo(3);

    secondGauges.close();
    secondGauges.close(); // idempotent
    assertThat(registry.getMeters())
        .noneMatch(m -> "metrics-unbind".equals(m.getId().getTag("worker")));

    MachineryMetrics.Binding again = metrics.bindWorker(second);
    assertThat(consuming("metrics-unbind")).as("bound again after a close").isZero();
    again.close();
    assertThat(registry.find(MachineryMetrics.CONSUMING).gauges()).isEmpty();
  }

  @Test
  void batchedFunctionsRecordTheSizeAndRunTimeOfEachCall() {
    server.registerTask(
        "tally",
        TaskFunction.batched(
            Long.class,
            BatchPolicy.of(4, Duration.ofMinutes(10)), // runs when full
            args -> {
              if (args.contains(0L)) {
                throw new IllegalArgumentException("zero");
              }
              return args;
            }));
    server.newWorker("w", 4).launchAsync();

    for (List<Long> batch : List.of(List.of(1L, 2L, 3L, 4L), List.of(0L, 5L, 6L, 7L))) {
      List<AsyncResult> results =
          server.sendTasks(batch.stream().map(n -> Signature.create("tally", Arg.of(n))).toList());
      for (AsyncResult result : results) {
        try {
          result.get(TIMEOUT);
        } catch (TaskFailedException expected) {
          assertThat(expected).hasMessage("zero"); // the second batch fails as a whole
        }
      }
    }

    var sizes = registry.find("machinery.batch.size").tags("task", "tally", "app", "test");
    assertThat(sizes.summary()).isNotNull();
    assertThat(sizes.summary().count()).isEqualTo(2);
    assertThat(sizes.summary().totalAmount()).isEqualTo(8);
    for (String exception : List.of("none", "IllegalArgumentException")) {
      Timer run =
          registry
              .find("machinery.batch.run")
              .tags("task", "tally", "app", "test", "exception", exception)
              .timer();
      assertThat(run).as(exception).isNotNull();
      assertThat(run.count()).as(exception).isEqualTo(1);
    }
    assertThat(histograms).contains("machinery.batch.run");
  }

  @Test
  void latencyRunsFromTheEtaWhenTheTaskWaitedForIt() {
    // a manual wall clock: the task is "sent" at t0 with an ETA of t0+5s and starts at t0+7s
    Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
    Signature delayed =
        Signature.builder("hello")
            .eta(t0.plusSeconds(5))
            .header(MachineryMetrics.SENT_AT_HEADER, t0.toString())
            .build();
    MachineryMetrics fixed =
        MachineryMetrics.builder(registry)
            .clock(Clock.fixed(t0.plusSeconds(7), java.time.ZoneOffset.UTC))
            .build();

    fixed.started(delayed);
    fixed.started(
        Signature.builder("hello").header(MachineryMetrics.SENT_AT_HEADER, t0.toString()).build());
    fixed.started(
        Signature.builder("hello").header(MachineryMetrics.SENT_AT_HEADER, "yesterday").build());

    Timer latency = registry.get(MachineryMetrics.LATENCY).tags("task", "hello").timer();
    assertThat(latency.count()).as("no latency from an unreadable header").isEqualTo(2);
    assertThat(latency.max(TimeUnit.SECONDS)).isEqualTo(7);
    assertThat(latency.totalTime(TimeUnit.SECONDS)).isEqualTo(2 + 7);
  }

  @Test
  void slotGaugesShowBusyAndFreeSlots() {
    Worker worker = server.newWorker("metrics-slots", 3);
    metrics.bindWorker(worker);
    worker.launchAsync();

    server.sendTask(Signature.create("hold"));

    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                registry
                        .get(MachineryMetrics.SLOTS)
                        .tags("worker", "metrics-slots", "state", "busy")
                        .gauge()
                        .value()
                    == 1);
    assertThat(
            registry
                .get(MachineryMetrics.SLOTS)
                .tags("worker", "metrics-slots", "state", "free")
                .gauge()
                .value())
        .isEqualTo(2);
    release.countDown();
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                registry
                        .get(MachineryMetrics.SLOTS)
                        .tags("worker", "metrics-slots", "state", "busy")
                        .gauge()
                        .value()
                    == 0);
  }

  @Test
  void theConsumingGaugeIsOneOnlyWhileTheWorkerFetches() {
    Worker worker =
        server
            .workerBuilder("metrics-consuming")
            .concurrency(1)
            .heartbeatInterval(Duration.ofMillis(100)) // follows the pause flag at each beat
            .build();
    metrics.bindWorker(worker);
    assertThat(consuming("metrics-consuming")).as("before its launch").isZero();
    server.controlPlane().orElseThrow().pause(config.defaultQueue());
    worker.launchAsync();
    assertThat(consuming("metrics-consuming")).as("its queue paused").isZero();
    server.controlPlane().orElseThrow().resume(config.defaultQueue());
    await().atMost(TIMEOUT).until(() -> consuming("metrics-consuming") == 1);
    worker.quit();
    assertThat(consuming("metrics-consuming")).as("stopped").isZero();
  }

  @Test
  void theConsumingGaugeIsZeroWhileTheWorkerTriesToStart() {
    java.util.concurrent.atomic.AtomicBoolean refusing =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    // a fake: the memory broker, whose starts fail as Redis out of memory fails them until told
    io.machinery.spi.Broker refusingBroker =
        (io.machinery.spi.Broker)
            Proxy.newProxyInstance(
                io.machinery.spi.Broker.class.getClassLoader(),
                new Class<?>[] {io.machinery.spi.Broker.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("startConsuming") && refusing.get()) {
                    throw new io.machinery.MachineryException(
                        "OOM command not allowed (test fake)");
                  }
                  try {
                    return method.invoke(broker, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    try (Server refused =
        Server.builder().config(config).broker(refusingBroker).backend(backend).build()) {
      Worker worker = refused.workerBuilder("metrics-starting").concurrency(1).build();
      metrics.bindWorker(worker);
      worker.launchAsync();
      assertThat(worker.isStarting()).isTrue();
      assertThat(consuming("metrics-starting")).as("while it tries to start").isZero();
      refusing.set(false);
      await().atMost(TIMEOUT).until(() -> consuming("metrics-starting") == 1); // 1 s later
      worker.quit();
    }
  }

  private double consuming(String worker) {
    return registry.get(MachineryMetrics.CONSUMING).tags("worker", worker).gauge().value();
  }

  @Test
  void breakerGaugesCountTheKeysThatAreNotClosed() {
    Worker worker =
        server
            .workerBuilder("metrics-breakers")
            .concurrency(1)
            .breaker("boom", TaskBreaker.builder().window(1).openFor(Duration.ofHours(1)).build())
            .build();
    metrics.bindWorker(worker);
    worker.launchAsync();
    assertThat(breakers("metrics-breakers", "open")).isZero();

    assertThatThrownBy(() -> server.sendTask(Signature.create("boom")).get(TIMEOUT))
        .hasMessageContaining("it broke");

    assertThat(breakers("metrics-breakers", "open")).isEqualTo(1);
    assertThat(breakers("metrics-breakers", "half_open")).isZero();

    server.sendTask(Signature.create("boom")); // parked while the breaker is open
    server.sendTask(Signature.create("nobody_has_this"));
    // the parked task comes back only when the hour is up; the unregistered one is handed back
    // again 100 ms later, doubling, so it may have been counted more than once by the time we look
    await()
        .atMost(TIMEOUT)
        .until(
            () ->
                deferred("boom", "breaker") == 1
                    && deferred("nobody_has_this", "unregistered") >= 1);
    assertThat(count(MachineryMetrics.RECEIVED, "boom"))
        .as("a parked task is not received")
        .isEqualTo(1);
  }

  private double deferred(String task, String reason) {
    var counter =
        registry
            .find(MachineryMetrics.DEFERRED)
            .tags("task", task, "reason", reason, "app", "test")
            .counter();
    return counter == null ? 0 : counter.count();
  }

  private double breakers(String worker, String state) {
    return registry
        .get(MachineryMetrics.BREAKERS)
        .tags("worker", worker, "state", state)
        .gauge()
        .value();
  }

  @Test
  void queueGaugesReadTheInspector() {
    Inspector inspector = broker.inspector().orElseThrow();
    metrics.bindQueue(inspector, "");
    String queue = config.defaultQueue();

    server.sendTask(Signature.create("hello"));
    server.sendTask(Signature.create("hello"));
    server.sendTask(Signature.builder("hello").eta(Instant.now().plusSeconds(3600)).build());
    // the gauges must keep their sampler alive: Micrometer holds a gauge's object weakly unless
    // told otherwise
    java.lang.ref.WeakReference<Object> canary = new java.lang.ref.WeakReference<>(new Object());
    await()
        .atMost(TIMEOUT)
        .until(
            () -> {
              System.gc();
              return canary.get() == null;
            });

    assertThat(registry.get(MachineryMetrics.QUEUE_PENDING).tags("queue", queue).gauge().value())
        .isEqualTo(2);
    assertThat(registry.get(MachineryMetrics.QUEUE_DELAYED).tags("queue", queue).gauge().value())
        .isEqualTo(1);
    assertThat(
            registry.get(MachineryMetrics.QUEUE_DEAD_LETTERS).tags("queue", queue).gauge().value())
        .isZero();
    assertThat(
            registry
                .get(MachineryMetrics.QUEUE_OLDEST_AGE)
                .tags("queue", queue)
                .timeGauge()
                .value(TimeUnit.MILLISECONDS))
        .isGreaterThanOrEqualTo(0);

    inspector.purge(queue);
    assertThat(registry.get(MachineryMetrics.QUEUE_PENDING).tags("queue", queue).gauge().value())
        .isZero();
  }

  @Test
  void aWorkerMadeAgainUnderTheSameTagTakesOverItsGauges() {
    Worker first = server.newWorker("metrics-again", 2);
    metrics.bindWorker(first);
    first.launchAsync();
    await().atMost(TIMEOUT).until(() -> consuming("metrics-again") == 1);
    first.quit();
    assertThat(consuming("metrics-again")).as("stopped").isZero();

    // a restart in the same registry: a new worker object, the same consumer tag
    Worker second = server.newWorker("metrics-again", 3);
    metrics.bindWorker(second);
    second.launchAsync();
    await().atMost(TIMEOUT).until(() -> consuming("metrics-again") == 1);
    assertThat(
            registry
                .get(MachineryMetrics.SLOTS)
                .tags("worker", "metrics-again", "state", "free")
                .gauge()
                .value())
        .as("the new worker's concurrency")
        .isEqualTo(3);
    assertThat(first.isRunning()).isFalse(); // the first is still reachable: it was not GC'd
  }

  @Test
  void taskNamesNotRegisteredHereMakeBoundedSeries() {
    String huge = "x".repeat(100_000);
    metrics.deferred(
        Signature.create(huge),
        "q",
        new TaskDeferral(TaskDeferral.Reason.UNREGISTERED, huge, Duration.ofSeconds(1), 1));
    for (int i = 0; i < 1_000; i++) {
      Signature stranger = Signature.create("stranger-" + i);
      metrics.deferred(
          stranger,
          "q",
          new TaskDeferral(TaskDeferral.Reason.UNREGISTERED, stranger.name(), Duration.ZERO, 1));
      metrics.deadLettered("q", stranger, "named an unknown task too long");
    }
    // a task registered here keeps its own series past the bound
    metrics.received(Signature.create("hello"), "q");
    metrics.deadLettered("q", Signature.create("hello"), "its outcome could not be recorded");

    var deferred = registry.find(MachineryMetrics.DEFERRED).counters();
    assertThat(deferred).hasSize(MachineryMetrics.MAX_FOREIGN_TASK_NAMES + 1);
    assertThat(deferred.stream().mapToDouble(c -> c.count()).sum()).isEqualTo(1_001);
    assertThat(deferred).allSatisfy(c -> assertThat(c.getId().getTag("task")).hasSizeLessThan(300));
    assertThat(count(MachineryMetrics.DEFERRED, MachineryMetrics.OTHER_TASKS))
        .isEqualTo(1_001 - MachineryMetrics.MAX_FOREIGN_TASK_NAMES);
    assertThat(registry.find(MachineryMetrics.DEAD_LETTERED).counters())
        .hasSizeLessThanOrEqualTo(MachineryMetrics.MAX_FOREIGN_TASK_NAMES + 2);
    assertThat(count(MachineryMetrics.DEAD_LETTERED, "hello")).isEqualTo(1);
  }

  @Test
  void anErrorOfAnAnonymousClassIsTaggedWithItsBinaryName() {
    RuntimeException anonymous = new IllegalStateException("refused") {};
    metrics.sent(Signature.create("hello"), anonymous);

    assertThat(
            registry
                .get(MachineryMetrics.SENT)
                .tags("task", "hello", "exception", anonymous.getClass().getName())
                .counter()
                .count())
        .as("not an empty tag value, which Prometheus reads as no label")
        .isEqualTo(1);
  }

  @Test
  void removingAQueuesMetersLetsGoOfItsInspector() {
    MemoryBroker closed = MemoryBroker.create(config, Clock.systemUTC());
    Inspector inspector = closed.inspector().orElseThrow();
    java.lang.ref.WeakReference<Inspector> held = new java.lang.ref.WeakReference<>(inspector);
    metrics.bindQueue(inspector, "short_lived");
    assertThat(registry.get(MachineryMetrics.QUEUE_PENDING).tags("queue", "short_lived").gauge())
        .isNotNull();
    closed.close();
    closed = null;
    inspector = null;

    // what the design notes tell a user to do to drop a queue's series
    registry.getMeters().stream()
        .filter(m -> "short_lived".equals(m.getId().getTag("queue")))
        .toList()
        .forEach(registry::remove);

    await()
        .atMost(TIMEOUT)
        .until(
            () -> {
              System.gc();
              return held.get() == null;
            });
  }
}
