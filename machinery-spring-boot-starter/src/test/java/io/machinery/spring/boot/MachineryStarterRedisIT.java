package io.machinery.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskContext;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.lock.redis.RedisLock;
import io.machinery.testkit.DroppingTcpProxy;
import io.machinery.testkit.TestEndpoints;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Lazy;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A Spring Boot application on the real Redis at REDIS_URL: auto-configured parts, a chord, health,
 * shutdown.
 */
@SpringBootTest(classes = MachineryStarterRedisIT.App.class)
class MachineryStarterRedisIT {
  private static final String QUEUE = "spring_it_" + UUID.randomUUID().toString().substring(0, 8);
  private static String redisUrl = "";

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(ItTasks.class)
  static class App {}

  @BeforeAll
  static void endpoints() {
    redisUrl =
        TestEndpoints.redisUrl(); // skips, or fails under CI=true, before the context is made
  }

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) {
    registry.add("machinery.broker", () -> redisUrl);
    registry.add("machinery.result_backend", () -> redisUrl);
    registry.add("machinery.default_queue", () -> QUEUE);
    registry.add("machinery.redis.delayed_tasks_key", () -> QUEUE + "_delayed");
    registry.add("machinery.redis.fairness", () -> "true");
  }

  @Autowired Server server;
  @Autowired MachineryWorkers workers;
  @Autowired MeterRegistry meters;

  @Autowired
  @Qualifier("machineryHealthIndicator")
  HealthIndicator health;

  /**
   * {@code machinery.redis.fairness}: keyed tasks wait in their key's lane (on a queue no worker
   * consumes; the first one, sent to an empty queue, goes to the plain list for an idle consumer).
   */
  @Test
  void fairnessFromThePropertiesPutsKeyedTasksInTheirLanes() {
    String idle = QUEUE + "_idle";
    io.machinery.Inspection inspection = io.machinery.Inspection.of(server);
    try {
      for (int i = 0; i < 3; i++) {
        server.sendTask(Signature.builder("add").routingKey(idle).fairnessKey("tenant-7").build());
      }
      assertThat(inspection.fairnessKeys(idle, 10)).containsEntry("tenant-7", 2L);
    } finally {
      inspection.purge(idle);
    }
  }

  @Test
  void theUrlSchemePicksTheRedisModules() {
    assertThat(server.broker()).isInstanceOf(RedisBroker.class);
    assertThat(server.backend()).isInstanceOf(RedisBackend.class);
    assertThat(server.lock()).isInstanceOf(RedisLock.class);
    assertThat(server.config().defaultQueue()).isEqualTo(QUEUE);
  }

  @Test
  void aChordRunsOnTheApplicationsWorker() {
    Chord chord =
        Chord.of(
            Group.of(
                Signature.create("add", Arg.of(1L), Arg.of(1L)),
                Signature.create("add", Arg.of(2L), Arg.of(2L)),
                Signature.create("add", Arg.of(5L), Arg.of(6L))),
            Signature.create("multiply"));
    List<Object> product = server.sendChord(chord, 3).get(Duration.ofSeconds(20));
    assertThat(product).containsExactly(88L);
  }

  /**
   * Actuator's registry gets the metrics module's meters, and they move as the Redis worker runs
   * tasks.
   */
  @Test
  void metricsCountTasksRunOnRedis() throws Exception {
    double before = succeeded("add");
    assertThat(
            server
                .sendTask(Signature.create("add", Arg.of(20L), Arg.of(22L)))
                .get(Duration.ofSeconds(20)))
        .containsExactly(42L);
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(() -> assertThat(succeeded("add")).isEqualTo(before + 1));
    assertThat(
            meters
                .get("machinery.task.run")
                .tag("task", "add")
                .tag("state", "SUCCESS")
                .timer()
                .count())
        .isPositive();
    assertThat(
            meters
                .get("machinery.worker.slots")
                .tag("worker", "machinery_worker")
                .tag("state", "free")
                .gauge()
                .value())
        .isPositive();
  }

  private double succeeded(String task) {
    Counter counter = meters.find("machinery.tasks.succeeded").tag("task", task).counter();
    return counter == null ? 0 : counter.count();
  }

  @Test
  void healthIsUpWithTheBrokerWithoutCredentials() {
    Health result = health.health();
    assertThat(result.getStatus()).isEqualTo(Status.UP);
    assertThat(result.getDetails().get("broker"))
        .asString()
        .startsWith("redis://")
        .doesNotContain("@");
    assertThat(result.getDetails().get("workers"))
        .asInstanceOf(InstanceOfAssertFactories.LIST)
        .containsExactly("machinery_worker");
  }

  /**
   * Closing the context lets a running task finish and store SUCCESS, within the graceful timeout.
   */
  @Test
  void stoppingTheContextLetsRunningTasksFinish() {
    String queue = QUEUE + "_stop";
    ApplicationContextRunner runner =
        new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(MachineryAutoConfiguration.class))
            .withUserConfiguration(ItTasks.class)
            .withPropertyValues(
                "machinery.broker=" + redisUrl,
                "machinery.result_backend=" + redisUrl,
                "machinery.default_queue=" + queue,
                "machinery.worker.graceful-timeout=10s");
    Signature task = Signature.create("work", Arg.of(1500L));
    runner.run(
        context -> {
          Server app = context.getBean(Server.class);
          app.sendTask(task);
          await()
              .atMost(Duration.ofSeconds(10))
              .until(() -> app.asyncResult(task.uuid()).state() == State.STARTED);
          context.close();
        });
    Config config = Config.builder().broker(redisUrl).resultBackend(redisUrl).build();
    try (RedisBackend backend = RedisBackend.create(config)) {
      assertThat(backend.getState(task.uuid()))
          .hasValueSatisfying(
              state -> {
                assertThat(state.state()).isEqualTo(State.SUCCESS);
                assertThat(state.results())
                    .singleElement()
                    .satisfies(r -> assertThat(r.value()).isEqualTo("worked 1500 ms"));
              });
    }
  }

  /** A task bean first made after the start (by the test), whose task names a queue of its own. */
  @Lazy
  static class LateTasks {
    static final String QUEUE = "spring_it_late_lazy";

    @MachineryTask(value = "late_whoami", queue = QUEUE)
    public String whoami(TaskContext context) {
      return "ran from " + context.signature().routingKey();
    }
  }

  /**
   * A {@code @Lazy} task bean made while Redis cannot be reached: {@code getBean} returns at once
   * (its worker starts in the background, as the others do, instead of waiting for Redis's timeouts
   * in the caller's thread), the health names the worker as starting, and once Redis is back the
   * worker runs the task sent to its queue before the bean existed.
   */
  @Test
  void aLazyTaskBeanMadeWhileRedisIsCutOffIsReturnedAtOnceAndItsWorkerStartsLater()
      throws Exception {
    URI redis = URI.create(redisUrl);
    try (DroppingTcpProxy proxy = DroppingTcpProxy.start(redis.getHost(), redis.getPort())) {
      String viaProxy =
          new URI(
                  "redis",
                  redis.getUserInfo(),
                  "127.0.0.1",
                  proxy.port(),
                  redis.getPath(),
                  null,
                  null)
              .toString();
      String queue = QUEUE + "_late";
      ApplicationContextRunner runner =
          new ApplicationContextRunner()
              .withConfiguration(
                  AutoConfigurations.of(
                      MachineryAutoConfiguration.class, MachineryHealthAutoConfiguration.class))
              .withUserConfiguration(LateTasks.class)
              .withPropertyValues(
                  "machinery.broker=" + viaProxy,
                  "machinery.result_backend=" + redisUrl,
                  "machinery.default_queue=" + queue,
                  "machinery.redis.delayed_tasks_key=" + queue + "_delayed",
                  "machinery.redis.read_timeout=5");
      runner.run(
          context -> {
            assertThat(context).hasNotFailed();
            AsyncResult early =
                context
                    .getBean(Server.class)
                    .sendTask(Signature.builder("late_whoami").routingKey(LateTasks.QUEUE).build());
            proxy.cut();

            CompletableFuture<LateTasks> made =
                CompletableFuture.supplyAsync(() -> context.getBean(LateTasks.class));
            try {
              assertThat(made.get(2, TimeUnit.SECONDS)).isNotNull();
            } catch (TimeoutException e) {
              throw new AssertionError("getBean waits for the unreachable broker", e);
            }
            Health health =
                context.getBean("machineryHealthIndicator", HealthIndicator.class).health();
            assertThat(health.getStatus()).isEqualTo(Status.DOWN);
            assertThat(health.getDetails().get("startingWorkers"))
                .asInstanceOf(InstanceOfAssertFactories.LIST)
                .contains("machinery_worker_" + LateTasks.QUEUE);

            proxy.resume();
            assertThat(early.get(Duration.ofSeconds(60)))
                .containsExactly("ran from " + LateTasks.QUEUE);
            // the worker is listed once its launch has returned, which may be after its first task
            MachineryWorkers workers = context.getBean(MachineryWorkers.class);
            await()
                .atMost(Duration.ofSeconds(10))
                .untilAsserted(
                    () ->
                        assertThat(workers.workers())
                            .extracting(io.machinery.Worker::customQueue)
                            .containsExactlyInAnyOrder("", LateTasks.QUEUE));
          });
    }
  }
}
