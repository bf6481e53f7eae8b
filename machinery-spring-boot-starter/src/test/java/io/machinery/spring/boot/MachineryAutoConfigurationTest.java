package io.machinery.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.MachineryException;
import io.machinery.MigratingBackend;
import io.machinery.MigratingBroker;
import io.machinery.QueueBound;
import io.machinery.QueueFullException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskBreaker;
import io.machinery.TaskContext;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.embedded.EagerLock;
import io.machinery.embedded.ManualClock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.embedded.VirtualTime;
import io.machinery.lock.redis.RedisLock;
import io.machinery.micrometer.MachineryMetrics;
import io.machinery.periodic.PeriodicConfig;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.spi.Lock;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;

/** The starter's conditions and wiring on core's in-JVM broker and backend (no server needed). */
class MachineryAutoConfigurationTest {
  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(
              AutoConfigurations.of(
                  MachineryAutoConfiguration.class,
                  MachineryHealthAutoConfiguration.class,
                  MachineryMetricsAutoConfiguration.class));

  private final ApplicationContextRunner memory =
      runner.withPropertyValues("machinery.broker=memory://", "machinery.result_backend=memory://");

  @Test
  void queueBoundsComeFromPropertiesAndBeans() {
    memory
        .withPropertyValues(
            "machinery.worker.enabled=false",
            "machinery.default_queue=bounded_props",
            "machinery.bounds.bounded_props.max-pending=1",
            "machinery.bounds[other.queue].max-pending=1",
            "machinery.bounds[other.queue].max-wait=50ms")
        .withBean(QueueBound.class, () -> QueueBound.reject("from_bean", 1))
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              Server server = context.getBean(Server.class);
              for (String queue : List.of("bounded_props", "other.queue", "from_bean")) {
                server.sendTask(Signature.builder("noop").routingKey(queue).build());
                assertThatThrownBy(
                        () -> server.sendTask(Signature.builder("noop").routingKey(queue).build()))
                    .as(queue)
                    .isInstanceOfSatisfying(
                        QueueFullException.class,
                        e ->
                            assertThat(e.waited())
                                .isGreaterThanOrEqualTo(
                                    queue.equals("other.queue")
                                        ? Duration.ofMillis(50)
                                        : Duration.ZERO));
              }
            });
  }

  @Test
  void breakersComeFromWorkerProperties() {
    memory
        .withPropertyValues(
            "machinery.worker.concurrency=1",
            "machinery.worker.breakers.refused.window=1",
            "machinery.worker.breakers.refused.open-for=1h",
            "machinery.worker.breakers.refused.shared=true",
            "machinery.worker.breakers.other.failure-rate=0.25")
        .withBean(RefusingTask.class)
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              Server server = context.getBean(Server.class);
              assertThatThrownBy(
                      () ->
                          server.sendTask(Signature.create("refused")).get(Duration.ofSeconds(10)))
                  .hasMessageContaining("connection refused");
              assertThat(context.getBean(MachineryWorkers.class).workers())
                  .singleElement()
                  .satisfies(
                      worker ->
                          assertThat(worker.breakerStates())
                              .containsEntry("refused", TaskBreaker.State.OPEN));
              // shared: its opening is in the control plane for every worker
              await()
                  .atMost(Duration.ofSeconds(10))
                  .until(
                      () ->
                          server
                              .controlPlane()
                              .orElseThrow()
                              .openBreakers()
                              .containsKey("refused"));
            });
  }

  @Test
  void anInvalidBreakerStopsTheStartWithTheKeyNamed() {
    memory
        .withPropertyValues("machinery.worker.breakers.emails.failure-rate=2")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .hasStackTraceContaining(
                        "invalid machinery.worker.breakers.emails properties: failureRate must be"));
  }

  @Test
  void aBatchedTaskMethodRunsItsTasksTogetherAndEachGetsItsOwnResult() {
    memory
        .withBean(BatchedTasks.class)
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              Server server = context.getBean(Server.class);
              List<AsyncResult> results =
                  server.sendTasks(
                      List.of(
                          Signature.create("shout", Arg.of("a")),
                          Signature.create("shout", Arg.of("b")),
                          Signature.create("shout", Arg.of("c"))));
              assertThat(results.get(0).get(Duration.ofSeconds(10))).containsExactly("A!");
              assertThat(results.get(1).get(Duration.ofSeconds(10))).containsExactly("B!");
              assertThat(results.get(2).get(Duration.ofSeconds(10))).containsExactly("C!");
              assertThat(context.getBean(BatchedTasks.class).batches).containsExactly(3);
            });
  }

  @Test
  void aBatchedTaskMethodWithoutAListParameterFailsTheStartWithTheReason() {
    memory
        .withBean(NotABatch.class)
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .hasStackTraceContaining("@MachineryTask(\"lonely\")")
                    .hasStackTraceContaining(
                        "a batched task method takes one List<A> parameter (each task's argument),"
                            + " not [class java.lang.String]"));
  }

  /** A batched task: three tasks fill a batch, which otherwise waits a minute. */
  static class BatchedTasks {
    final List<Integer> batches = new java.util.concurrent.CopyOnWriteArrayList<>();

    @MachineryTask(value = "shout", batchSize = 3, batchDelayMillis = 60_000)
    public List<String> shout(List<String> words) {
      batches.add(words.size());
      return words.stream().map(w -> w.toUpperCase(java.util.Locale.ROOT) + "!").toList();
    }
  }

  static class NotABatch {
    @MachineryTask(value = "lonely", batchSize = 3)
    public String lonely(String word) {
      return word;
    }
  }

  /** A task whose downstream refuses every connection. */
  static class RefusingTask {
    @MachineryTask("refused")
    public String refused() throws java.io.IOException {
      throw new java.io.IOException("connection refused");
    }
  }

  @Test
  void aBoundWithoutMaxPendingStopsTheStartWithTheKeyNamed() {
    memory
        .withPropertyValues("machinery.bounds.emails.max-wait=1s")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .hasStackTraceContaining(
                        "invalid machinery.bounds.emails properties: max-pending is required"));
  }

  /** The broker's and the result backend's migration settings, which follow one pattern. */
  enum Migration {
    BROKER(
        "machinery.broker",
        "machinery.result_backend",
        "machinery.migrate-from-broker",
        "kafka://old:9092",
        Broker.class,
        MigratingBroker.class,
        Config::migrateFromBroker,
        Server::broker),
    RESULT_BACKEND(
        "machinery.result_backend",
        "machinery.broker",
        "machinery.migrate-from-result-backend",
        "cassandra://old:9042",
        Backend.class,
        MigratingBackend.class,
        Config::migrateFromResultBackend,
        Server::backend);

    final String target;
    final String other;
    final String from;
    final String unservedUrl;
    final Class<?> part;
    final Class<?> migrating;
    final Function<Config, String> configured;
    final Function<Server, Object> used;

    Migration(
        String target,
        String other,
        String from,
        String unservedUrl,
        Class<?> part,
        Class<?> migrating,
        Function<Config, String> configured,
        Function<Server, Object> used) {
      this.target = target;
      this.other = other;
      this.from = from;
      this.unservedUrl = unservedUrl;
      this.part = part;
      this.migrating = migrating;
      this.configured = configured;
      this.used = used;
    }

    ApplicationContextRunner migrating(ApplicationContextRunner runner, String to, String from) {
      return runner.withPropertyValues(
          target + "=" + to, other + "=memory://", this.from + "=" + from);
    }
  }

  @ParameterizedTest
  @EnumSource(Migration.class)
  void aMigrationPropertyMakesAMigratingPartAndAMigrationToItselfIsRefused(Migration migration) {
    migration
        .migrating(runner, "memory://new", "memory://old")
        .withPropertyValues("machinery.worker.enabled=false")
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              assertThat(migration.configured.apply(context.getBean(Config.class)))
                  .isEqualTo("memory://old");
              Object part = context.getBean(migration.part);
              assertThat(part).isInstanceOf(migration.migrating);
              assertThat(migration.used.apply(context.getBean(Server.class))).isSameAs(part);
            });
    migration
        .migrating(runner, "memory://", "memory://")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .hasStackTraceContaining(migration.from + " names " + migration.target));
    migration
        .migrating(runner, "memory://", migration.unservedUrl)
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .as("the error names the setting that holds the URL")
                    .hasStackTraceContaining(
                        migration.from + " is " + migration.unservedUrl + " and no module"));
  }

  /** The replica acknowledgement of the Redis broker's sends, and its rule's message. */
  @Test
  void replicaAcksMapOntoConfigInMilliseconds() {
    memory
        .withPropertyValues(
            "machinery.redis.replica_acks=2", "machinery.redis.replica-ack-timeout=150")
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              Config config = context.getBean(Config.class);
              assertThat(config.redis().replicaAcks()).isEqualTo(2);
              assertThat(config.redis().replicaAckTimeout()).isEqualTo(Duration.ofMillis(150));
            });
    memory
        .withPropertyValues("machinery.redis.replica_acks=1")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .hasStackTraceContaining("redis.replica_ack_timeout) must be at least 1 ms"));
  }

  @Test
  void goConfigNamesMapOntoConfig() {
    memory
        .withPropertyValues(
            "machinery.default_queue=orders",
            "machinery.results_expire_in=60",
            "machinery.max-message-bytes=4096",
            "machinery.strict_uuids=false",
            "machinery.amqp.exchange=orders_exchange",
            "machinery.amqp.prefetch_count=7",
            "machinery.amqp.queue_declare_args.x-max-priority=10",
            "machinery.amqp.queue_declare_args.x-queue-type=classic",
            "machinery.redis.max_idle_timeout=30",
            "machinery.redis.wait=true",
            "machinery.redis.normal_tasks_poll_period=250",
            "machinery.redis.delayed_tasks_key=orders_delayed")
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              Config config = context.getBean(Config.class);
              assertThat(config.defaultQueue()).isEqualTo("orders");
              assertThat(config.resultsExpireIn()).isEqualTo(60);
              assertThat(config.maxMessageBytes()).isEqualTo(4096);
              assertThat(config.strictUuids()).isFalse();
              assertThat(config.amqp().exchange()).isEqualTo("orders_exchange");
              assertThat(config.amqp().prefetchCount()).isEqualTo(7);
              assertThat(config.amqp().queueDeclareArgs())
                  .containsEntry("x-max-priority", 10L)
                  .containsEntry("x-queue-type", "classic");
              assertThat(config.redis().idleTimeout()).isEqualTo(Duration.ofSeconds(30));
              assertThat(config.redis().waitForConnection()).isTrue();
              assertThat(config.redis().normalTasksPollPeriod()).isEqualTo(Duration.ofMillis(250));
              assertThat(config.redis().delayedTasksKey()).isEqualTo("orders_delayed");
              // Unset keys keep Go's defaults.
              assertThat(config.amqp().bindingKey()).isEqualTo(Config.DEFAULT.amqp().bindingKey());
              assertThat(config.noUnixSignals()).isTrue();
            });
  }

  @Test
  void anInvalidValueFailsTheStartNamingTheKey() {
    memory
        .withPropertyValues("machinery.results_expire_in=-5")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("results_expire_in must be >= 0"));
  }

  @Test
  void memorySchemeRunsAnnotatedTasksOnTheApplicationsWorkers() {
    memory
        .withUserConfiguration(MathTasks.class)
        .run(
            context -> {
              assertThat(context)
                  .hasSingleBean(MemoryBroker.class)
                  .hasSingleBean(MemoryBackend.class)
                  .hasSingleBean(Server.class)
                  .hasSingleBean(MachineryWorkers.class);
              Server server = context.getBean(Server.class);
              assertThat(server.registeredTaskNames()).contains("add", "whoami");
              List<Object> sum =
                  server
                      .sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L), Arg.of(4L)))
                      .get(Duration.ofSeconds(10));
              assertThat(sum).containsExactly(9L);
              // A task named with a queue gets its own worker; the signature's routing key sends it
              // there.
              assertThat(context.getBean(MachineryWorkers.class).workers())
                  .extracting(w -> w.customQueue())
                  .containsExactlyInAnyOrder("", "spring_test_other");
              List<Object> who =
                  server
                      .sendTask(Signature.builder("whoami").routingKey("spring_test_other").build())
                      .get(Duration.ofSeconds(10));
              assertThat(who).containsExactly("ran from spring_test_other");
            });
  }

  @Test
  void aManualClockBeanPutsTheServerAndItsMemoryPartsInVirtualTime() {
    memory
        .withUserConfiguration(MathTasks.class)
        .withBean(ManualClock.class, () -> ManualClock.at("2026-01-01T00:00:00Z"))
        .withBean(
            PeriodicConfig.class, () -> PeriodicConfig.builder().backgroundThread(false).build())
        .run(
            context -> {
              Server server = context.getBean(Server.class);
              ManualClock clock = context.getBean(ManualClock.class);
              assertThat(server.clock()).isSameAs(clock);
              assertThat(server.periodicScheduler().config().backgroundThread()).isFalse();
              VirtualTime time = VirtualTime.of(server);

              AsyncResult later =
                  server.sendTask(
                      Signature.builder("add")
                          .args(List.of(Arg.of(2L), Arg.of(3L)))
                          .eta(clock.instant().plus(Duration.ofHours(1)))
                          .build());
              time.advance(Duration.ofMinutes(59));
              assertThat(later.state())
                  .as("due in an hour of the manual clock, not of the system's")
                  .isEqualTo(State.PENDING);
              time.advance(Duration.ofMinutes(1));
              assertThat(later.poll()).containsExactly(5L);
            });
  }

  @Test
  void anApplicationsOwnClockBeanIsLeftAlone() {
    memory
        .withBean(
            java.time.Clock.class,
            () -> java.time.Clock.fixed(java.time.Instant.EPOCH, java.time.ZoneOffset.UTC))
        .run(
            context ->
                assertThat(context.getBean(Server.class).clock())
                    .isNotSameAs(context.getBean(java.time.Clock.class)));
  }

  @Test
  void workerCustomizersAdjustEachWorkerInOrderAfterTheProperties() {
    memory
        .withPropertyValues("machinery.worker.concurrency=3")
        .withUserConfiguration(MathTasks.class, Customizers.class)
        .run(
            context -> {
              assertThat(context.getBean(MachineryWorkers.class).workers())
                  .extracting(w -> w.customQueue() + ":" + w.concurrency())
                  .containsExactlyInAnyOrder(":3", "spring_test_other:7");
              assertThat(context.getBean(Customizers.class).seen)
                  .containsExactly(
                      "first " + Config.DEFAULT.defaultQueue(),
                      "second " + Config.DEFAULT.defaultQueue(),
                      "first spring_test_other",
                      "second spring_test_other");
            });
  }

  @Test
  void workersStopWithTheContext() {
    memory
        .withUserConfiguration(MathTasks.class)
        .run(
            context -> {
              MachineryWorkers workers = context.getBean(MachineryWorkers.class);
              List<io.machinery.Worker> running = workers.workers();
              assertThat(running).allMatch(io.machinery.Worker::isRunning);
              context.close();
              assertThat(running).noneMatch(io.machinery.Worker::isRunning);
              assertThat(workers.isRunning()).isFalse();
            });
  }

  @Test
  void workersCanBeSwitchedOffForASendOnlyService() {
    memory
        .withPropertyValues("machinery.worker.enabled=false")
        .run(
            context -> {
              assertThat(context)
                  .hasSingleBean(Server.class)
                  .doesNotHaveBean(MachineryWorkers.class);
              Health health =
                  context.getBean("machineryHealthIndicator", HealthIndicator.class).health();
              assertThat(health.getStatus()).isEqualTo(Status.UP);
            });
  }

  @Test
  void applicationBeansReplaceEveryPart() {
    runner
        .withPropertyValues(
            "machinery.broker=redis://127.0.0.1:1", "machinery.result_backend=redis://127.0.0.1:1")
        .withUserConfiguration(OwnParts.class)
        .run(
            context -> {
              // Port 1 is never contacted: the application's broker and backend are used instead.
              assertThat(context).hasNotFailed().doesNotHaveBean(RedisBroker.class);
              assertThat(context.getBean(Server.class).broker())
                  .isSameAs(context.getBean(Broker.class));
              assertThat(context.getBean(Config.class).defaultQueue()).isEqualTo("own_queue");
            });
  }

  @Test
  void anApplicationsConfigBeanChoosesTheParts() {
    runner
        .withUserConfiguration(OwnConfig.class)
        .run(
            context -> {
              // No machinery.* properties at all: Go's default URLs (amqp://) would not be what the
              // application asked for.
              assertThat(context).hasNotFailed();
              assertThat(context.getBean(Server.class).broker()).isInstanceOf(MemoryBroker.class);
              assertThat(context.getBean(Server.class).backend()).isInstanceOf(MemoryBackend.class);
              assertThat(context.getBean(Server.class).lock()).isInstanceOf(EagerLock.class);
            });
  }

  @Test
  void anExplicitLockUrlNothingServesFailsClearly() {
    memory
        .withPropertyValues("machinery.lock=etcd://127.0.0.1:2379")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining(
                        "machinery.lock is etcd://127.0.0.1:2379 and no lock serves it"));
  }

  @Test
  void aRedisUrlWithoutTheRedisModuleSaysWhichModuleToAdd() {
    runner
        .withPropertyValues(
            "machinery.broker=redis://:secret@127.0.0.1:1", "machinery.result_backend=memory://")
        .withClassLoader(new FilteredClassLoader(RedisBroker.class, RedisLock.class))
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("machinery.broker is redis://127.0.0.1:1")
                    .hasMessageContaining("add io.machinery:machinery-broker-redis")
                    .hasMessageNotContaining("secret"));
  }

  @Test
  void anUnservedSchemeFailsClearly() {
    runner
        .withPropertyValues(
            "machinery.broker=memory://", "machinery.result-backend=mongodb://127.0.0.1:27017")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("machinery.result_backend is mongodb://127.0.0.1:27017")
                    .hasMessageContaining("no module of this starter serves the scheme 'mongodb'"));
  }

  @Test
  void twoMethodsWithOneTaskNameFailTheStart() {
    memory
        .withUserConfiguration(MathTasks.class, Clash.class)
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("task name 'add' is used by two")
                    .hasMessageContaining("$Tasks.add")
                    .hasMessageContaining("ClashTasks.add"));
  }

  @Test
  void healthIsUpWhileWorkersConsumeAndDownAfterTheyStop() {
    memory
        .withUserConfiguration(MathTasks.class)
        .run(
            context -> {
              HealthIndicator indicator =
                  context.getBean("machineryHealthIndicator", HealthIndicator.class);
              Health up = indicator.health();
              assertThat(up.getStatus()).isEqualTo(Status.UP);
              assertThat(up.getDetails().get("broker")).asString().startsWith("memory://");
              context.getBean(MachineryWorkers.class).stop();
              assertThat(indicator.health().getStatus()).isEqualTo(Status.DOWN);
            });
  }

  @Test
  void healthIsDownWhileAWorkerTriesToStart() {
    memory
        .withUserConfiguration(RefusingBroker.class)
        .run(
            context -> {
              assertThat(context).hasNotFailed(); // the worker tries again; the application starts
              Health health =
                  context.getBean("machineryHealthIndicator", HealthIndicator.class).health();
              assertThat(health.getStatus()).isEqualTo(Status.DOWN);
              String tag =
                  context.getBean(MachineryWorkers.class).workers().getFirst().consumerTag();
              assertThat(health.getDetails().get("startingWorkers")).isEqualTo(List.of(tag));
            });
  }

  @Test
  void healthIsDownWhileAConsumerThatEndedIsReplaced() {
    memory
        .withUserConfiguration(MathTasks.class, EndingBroker.class)
        .run(
            context -> {
              HealthIndicator indicator =
                  context.getBean("machineryHealthIndicator", HealthIndicator.class);
              EndingBroker.Control control = context.getBean(EndingBroker.Control.class);
              String tag =
                  context.getBean(MachineryWorkers.class).workers().getFirst().consumerTag();
              await().atMost(Duration.ofSeconds(10)).until(() -> control.handlers.containsKey(tag));
              assertThat(indicator.health().getStatus()).isEqualTo(Status.UP);

              control.refusing.set(true);
              control.handlers.get(tag).consumptionEnded(new IllegalStateException("test fake"));
              Health replacing = indicator.health();
              assertThat(replacing.getStatus())
                  .as("while its consumer is replaced")
                  .isEqualTo(Status.DOWN);
              assertThat(replacing.getDetails().get("startingWorkers")).isEqualTo(List.of(tag));

              control.refusing.set(false);
              await()
                  .atMost(Duration.ofSeconds(10))
                  .until(() -> indicator.health().getStatus().equals(Status.UP)); // 1 s later
              assertThat(
                      context
                          .getBean(Server.class)
                          .sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L)))
                          .get(Duration.ofSeconds(10)))
                  .as("run by the new consumer")
                  .containsExactly(5L);
            });
  }

  @Test
  void healthIsDownWhenTheBackendFails() {
    memory
        .withUserConfiguration(FailingBackend.class)
        .run(
            context -> {
              Health health =
                  context.getBean("machineryHealthIndicator", HealthIndicator.class).health();
              assertThat(health.getStatus()).isEqualTo(Status.DOWN);
              // The probe's error is a detail (core's HealthCheck report), the broker's probe
              // answered.
              assertThat(health.getDetails().get("backendError"))
                  .asString()
                  .contains("backend unreachable (test fake)");
              assertThat(health.getDetails()).doesNotContainKey("brokerError");
            });
  }

  @Test
  void noHealthIndicatorWithoutSpringBootHealth() {
    memory
        .withClassLoader(new FilteredClassLoader(HealthIndicator.class))
        .run(
            context ->
                assertThat(context).hasNotFailed().doesNotHaveBean("machineryHealthIndicator"));
  }

  @Test
  void metricsCountTasksAndWatchSlotsInTheApplicationsRegistry() {
    memory
        .withUserConfiguration(MathTasks.class, Registry.class)
        .run(
            context -> {
              assertThat(context).hasSingleBean(MachineryMetrics.class);
              Server server = context.getBean(Server.class);
              assertThat(
                      server
                          .sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L)))
                          .get(Duration.ofSeconds(10)))
                  .containsExactly(5L);
              MeterRegistry registry = context.getBean(MeterRegistry.class);
              // The listener was registered on the auto-configured Server: its send and the
              // worker's run were counted.
              assertThat(registry.get("machinery.tasks.sent").tag("task", "add").counter().count())
                  .isEqualTo(1.0);
              await()
                  .atMost(Duration.ofSeconds(5))
                  .untilAsserted(
                      () ->
                          assertThat(
                                  registry
                                      .get("machinery.tasks.succeeded")
                                      .tag("task", "add")
                                      .counter()
                                      .count())
                              .isEqualTo(1.0));
              // Every one of the starter's workers got its slot gauges as it started.
              for (io.machinery.Worker worker : context.getBean(MachineryWorkers.class).workers()) {
                assertThat(
                        registry
                            .get("machinery.worker.slots")
                            .tag("worker", worker.consumerTag())
                            .tag("state", "free")
                            .gauge()
                            .value())
                    .isEqualTo(worker.concurrency());
              }
              // The memory broker has an inspector, so the queues the workers consume got depth
              // gauges; all is consumed.
              assertThat(
                      registry
                          .get("machinery.queue.pending")
                          .tag("queue", server.config().defaultQueue())
                          .gauge()
                          .value())
                  .isZero();
              assertThat(
                      registry
                          .get("machinery.queue.pending")
                          .tag("queue", "spring_test_other")
                          .gauge()
                          .value())
                  .isZero();
            });
  }

  @Test
  void noMetricsWithoutARegistry() {
    memory.run(
        context -> assertThat(context).hasNotFailed().doesNotHaveBean(MachineryMetrics.class));
  }

  @Test
  void noMetricsWithoutTheMicrometerModule() {
    memory
        .withUserConfiguration(Registry.class)
        .withClassLoader(new FilteredClassLoader(MachineryMetrics.class))
        .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean("machineryMetrics"));
  }

  @Test
  void anApplicationsMetricsBeanIsTheOneRegistered() {
    memory
        .withUserConfiguration(Registry.class, OwnMetrics.class)
        .run(
            context -> {
              assertThat(context).hasSingleBean(MachineryMetrics.class);
              context
                  .getBean(Server.class)
                  .sendTask(Signature.create("add", Arg.of(1L)))
                  .get(Duration.ofSeconds(10));
              MeterRegistry registry = context.getBean(MeterRegistry.class);
              assertThat(registry.get("machinery.tasks.sent").tag("app", "own").counter().count())
                  .isEqualTo(1.0);
            });
  }

  @Configuration(proxyBeanMethods = false)
  static class Registry {
    @Bean
    MeterRegistry meterRegistry() {
      return new SimpleMeterRegistry();
    }
  }

  @Configuration(proxyBeanMethods = false)
  @Import(MathTasks.class)
  static class OwnMetrics {
    @Bean
    MachineryMetrics ownMetrics(MeterRegistry registry) {
      return MachineryMetrics.builder(registry).tags(Tags.of("app", "own")).build();
    }
  }

  /**
   * Two customizers, declared in the reverse of their order: the later one gives the extra queue's
   * worker its own concurrency, over the property's.
   */
  @Configuration(proxyBeanMethods = false)
  static class Customizers {
    final List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();

    @Bean
    @org.springframework.core.annotation.Order(2)
    MachineryWorkerCustomizer second() {
      return (queue, worker) -> {
        seen.add("second " + queue);
        if (queue.equals("spring_test_other")) {
          worker.concurrency(7);
        }
      };
    }

    @Bean
    @org.springframework.core.annotation.Order(1)
    MachineryWorkerCustomizer first() {
      return (queue, worker) -> seen.add("first " + queue);
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class MathTasks {
    @Bean
    Tasks tasks() {
      return new Tasks();
    }
  }

  static class Tasks {
    @MachineryTask("add")
    public long add(long... numbers) {
      return LongStream.of(numbers).sum();
    }

    /** Only the extra worker consumes this queue: the default one never sees the message. */
    @MachineryTask(value = "whoami", queue = "spring_test_other")
    public String whoami(TaskContext context) {
      return "ran from " + context.signature().routingKey();
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class Clash {
    @Bean
    ClashTasks clashTasks() {
      return new ClashTasks();
    }
  }

  static class ClashTasks {
    @MachineryTask("add")
    public long add(long a, long b) {
      return a + b;
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnParts {
    @Bean
    Config config() {
      return Config.builder()
          .broker("redis://127.0.0.1:1")
          .resultBackend("redis://127.0.0.1:1")
          .defaultQueue("own_queue")
          .build();
    }

    @Bean
    Broker broker() {
      return MemoryBroker.create();
    }

    @Bean
    Backend backend() {
      return MemoryBackend.create();
    }

    @Bean
    Lock lock() {
      return EagerLock.create();
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnConfig {
    @Bean
    Config config() {
      return Config.builder().broker("memory://").resultBackend("memory://").build();
    }
  }

  /**
   * A fake: a memory broker whose {@code startConsuming} first passes its arguments to {@code
   * beforeStart}, which may throw as a server refusing the consumer would.
   */
  static Broker memoryBrokerStarting(java.util.function.Consumer<Object[]> beforeStart) {
    MemoryBroker memory = MemoryBroker.create();
    return (Broker)
        Proxy.newProxyInstance(
            Broker.class.getClassLoader(),
            new Class<?>[] {Broker.class},
            (proxy, method, args) -> {
              if (method.getName().equals("startConsuming")) {
                beforeStart.accept(args);
              }
              try {
                return method.invoke(memory, args);
              } catch (java.lang.reflect.InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  @Configuration(proxyBeanMethods = false)
  static class RefusingBroker {
    /**
     * A fake: a memory broker whose server fails every start, as Redis out of memory does (the
     * Redis broker's RedisWorkerStartIT shows that with a real server).
     */
    @Bean
    Broker broker() {
      return memoryBrokerStarting(
          args -> {
            throw new MachineryException("OOM command not allowed (test fake)");
          });
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class EndingBroker {
    /** The latest consumer's handler of each worker (by tag), and whether starts fail. */
    static final class Control {
      final java.util.Map<String, io.machinery.spi.DeliveryHandler> handlers =
          new java.util.concurrent.ConcurrentHashMap<>();
      final java.util.concurrent.atomic.AtomicBoolean refusing =
          new java.util.concurrent.atomic.AtomicBoolean();
    }

    @Bean
    Control control() {
      return new Control();
    }

    /**
     * A fake: a memory broker that hands the test its consumers' handlers (to end one as a fetch
     * loop that died would) and fails starts while told to, as Redis out of memory does.
     */
    @Bean
    Broker broker(Control control) {
      return memoryBrokerStarting(
          args -> {
            if (control.refusing.get()) {
              throw new MachineryException("OOM command not allowed (test fake)");
            }
            control.handlers.put((String) args[0], (io.machinery.spi.DeliveryHandler) args[2]);
          });
    }
  }

  static class FailingBackend {
    /** A fake: a backend whose every call fails, as an unreachable server's does. */
    @Bean
    Backend backend() {
      return (Backend)
          Proxy.newProxyInstance(
              Backend.class.getClassLoader(),
              new Class<?>[] {Backend.class},
              (proxy, method, args) -> {
                if (method.getName().equals("close")) {
                  return null;
                }
                if (method.isDefault()) {
                  return InvocationHandler.invokeDefault(proxy, method, args);
                }
                throw new IllegalStateException("backend unreachable (test fake)");
              });
    }
  }
}
