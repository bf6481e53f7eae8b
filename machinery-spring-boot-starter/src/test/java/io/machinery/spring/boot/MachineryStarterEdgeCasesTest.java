package io.machinery.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskContext;
import io.machinery.Worker;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.ConfigurableBeanFactory;
import org.springframework.boot.LazyInitializationBeanFactoryPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.util.TestPropertyValues;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Lazy;
import org.springframework.context.annotation.Scope;
import org.springframework.context.annotation.ScopedProxyMode;

/** The starter's edge cases: scoped task beans, when the workers learn their queues. */
class MachineryStarterEdgeCasesTest {
  private final ApplicationContextRunner memory =
      new ApplicationContextRunner()
          .withConfiguration(
              AutoConfigurations.of(
                  MachineryAutoConfiguration.class, MachineryHealthAutoConfiguration.class))
          .withPropertyValues("machinery.broker=memory://", "machinery.result_backend=memory://");

  @Test
  void aScopedProxyTaskBeanRunsItsTaskThroughTheProxy() {
    memory
        .withUserConfiguration(ScopedTasks.class)
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              Server server = context.getBean(Server.class);
              // Each call makes a new target bean ("scopedTarget.scopedTasks"): that is the same
              // task, not a second method with its name.
              for (int i = 0; i < 2; i++) {
                assertThat(
                        server
                            .sendTask(Signature.create("scoped_add", Arg.of(2L), Arg.of(3L)))
                            .get(Duration.ofSeconds(10)))
                    .containsExactly(5L);
              }
            });
  }

  @Test
  void aTaskQueueGetsItsWorkerEvenWhenTheWorkersBeanIsMadeEarly() {
    // EarlyUser needs MachineryWorkers before QueueTasks, whose task names a queue, exists.
    memory
        .withUserConfiguration(EarlyUser.class, QueueTasks.class)
        .run(MachineryStarterEdgeCasesTest::consumesAndRunsEdgeOther);
  }

  @Test
  void anUnreachableRedisBrokerFailsTheStartNamingItsUrlWithoutThePassword() {
    new ApplicationContextRunner()
        .withConfiguration(
            AutoConfigurations.of(
                MachineryAutoConfiguration.class, MachineryHealthAutoConfiguration.class))
        .withPropertyValues(
            "machinery.broker=redis://:secret@127.0.0.1:1",
            "machinery.result_backend=memory://",
            "machinery.redis.connect_timeout=1")
        .withUserConfiguration(QueueTasks.class)
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .hasStackTraceContaining("could not connect to Redis at redis://127.0.0.1:1")
                    .hasMessageNotContaining("secret")
                    .rootCause()
                    .hasMessageNotContaining("secret"));
  }

  @Test
  void afterAStopAndAStartTheWorkerGaugesReadTheNewWorkers() {
    memory
        .withConfiguration(AutoConfigurations.of(MachineryMetricsAutoConfiguration.class))
        .withUserConfiguration(QueueTasks.class)
        .withBean(MeterRegistry.class, SimpleMeterRegistry::new)
        .run(
            context -> {
              MeterRegistry registry = context.getBean(MeterRegistry.class);
              MachineryWorkers workers = context.getBean(MachineryWorkers.class);
              String tag = workers.workers().getFirst().consumerTag();
              assertThat(consuming(registry, tag)).isEqualTo(1.0);

              context.stop();
              assertThat(consuming(registry, tag)).isZero();
              context.start();
              Worker restarted = workers.workers().getFirst();
              assertThat(restarted.isRunning()).isTrue();
              assertThat(consuming(registry, tag))
                  .as("the gauge reads the worker of this start, not the stopped one")
                  .isEqualTo(1.0);
              assertThat(registry.find("machinery.worker.consuming").tag("worker", tag).gauges())
                  .hasSize(1);
            });
  }

  private static double consuming(MeterRegistry registry, String tag) {
    return registry.get("machinery.worker.consuming").tag("worker", tag).gauge().value();
  }

  @Test
  void withLazyInitializationTaskBeansAreStillRegisteredAndConsumed() {
    // What spring.main.lazy-initialization=true adds to a SpringApplication's context.
    memory
        .withInitializer(
            context ->
                context.addBeanFactoryPostProcessor(
                    new LazyInitializationBeanFactoryPostProcessor()))
        .withUserConfiguration(QueueTasks.class)
        .run(MachineryStarterEdgeCasesTest::consumesAndRunsEdgeOther);
  }

  /**
   * A {@code @Lazy} task bean first made after the start, whose task names a queue no other task
   * names: its queue gets a worker then, customized as the others, which runs the task sent there
   * before the bean existed; after a stop and a start it still has one (only one).
   */
  @Test
  void aLazyTaskBeanMadeAfterTheStartGetsAWorkerOnItsQueue() {
    List<String> customized = new CopyOnWriteArrayList<>();
    memory
        .withUserConfiguration(LazyQueueTasks.class)
        .withBean(MachineryWorkerCustomizer.class, () -> (queue, worker) -> customized.add(queue))
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              MachineryWorkers workers = context.getBean(MachineryWorkers.class);
              assertWorkersOn(workers, "");
              AsyncResult early =
                  context
                      .getBean(Server.class)
                      .sendTask(
                          Signature.builder("edge_lazy_whoami").routingKey("edge_lazy").build());

              context.getBean(LazyQueueTasks.class); // first made now, the workers running

              assertThat(early.get(Duration.ofSeconds(10))).containsExactly("ran from edge_lazy");
              awaitWorkersOn(workers, "", "edge_lazy");
              assertThat(customized).contains("edge_lazy");
              context.stop();
              context.start();
              assertWorkersOn(workers, "", "edge_lazy");
            });
  }

  /**
   * A {@code @Lazy} task bean whose queue's worker cannot be made is made all the same (the worker
   * starts in the background, so its failure cannot reach {@code getBean}): the failure is logged,
   * and the health is DOWN naming the worker and why; the running workers go on.
   */
  @Test
  void aLazyTaskBeanWhoseWorkerCannotBeMadeLeavesTheHealthDownNamingIt() {
    memory
        .withUserConfiguration(LazyQueueTasks.class)
        .withBean(
            MachineryWorkerCustomizer.class,
            () ->
                (queue, worker) -> {
                  if (queue.equals("edge_lazy")) {
                    throw new IllegalStateException("no worker on edge_lazy in this test");
                  }
                })
        .run(
            context -> {
              MachineryWorkers workers = context.getBean(MachineryWorkers.class);
              HealthIndicator indicator =
                  context.getBean("machineryHealthIndicator", HealthIndicator.class);
              assertThat(indicator.health().getStatus()).isEqualTo(Status.UP);

              assertThat(context.getBean(LazyQueueTasks.class)).isNotNull();

              await()
                  .atMost(Duration.ofSeconds(10))
                  .untilAsserted(
                      () -> {
                        Health health = indicator.health();
                        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
                        assertThat(health.getDetails().get("failedWorkers"))
                            .isEqualTo(
                                Map.of(
                                    "machinery_worker_edge_lazy",
                                    "no worker on edge_lazy in this test"));
                      });
              assertWorkersOn(workers, "");
              assertThat(workers.isRunning()).isTrue();
            });
  }

  /**
   * A {@code @Lazy} task bean made while the workers are stopped starts no worker then; the next
   * start gives its queue one with the others.
   */
  @Test
  void aLazyTaskBeanMadeWhileTheWorkersAreStoppedIsConsumedFromTheNextStart() {
    memory
        .withUserConfiguration(LazyQueueTasks.class)
        .run(
            context -> {
              MachineryWorkers workers = context.getBean(MachineryWorkers.class);
              context.stop();
              context.getBean(LazyQueueTasks.class);
              assertThat(workers.workers()).isEmpty();
              context.start();
              assertWorkersOn(workers, "", "edge_lazy");
            });
  }

  /**
   * A customizer that makes a bean while {@code start()} runs, as another thread makes a
   * {@code @Lazy} task bean: the task bean's thread holds Spring's singleton lock while it hands
   * its queue over, the starting thread holds the workers' monitor while the customizer waits for
   * that lock. Neither waits for the other: the start ends, the bean is made, and its queue gets a
   * worker. Bounded: a deadlock fails the test (its context and daemon threads are left behind).
   */
  @Test
  void aCustomizerMakingABeanDuringAStartDoesNotDeadlockWithALazyTaskBeanMadeMeanwhile()
      throws Exception {
    AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext();
    TestPropertyValues.of("machinery.broker=memory://", "machinery.result_backend=memory://")
        .applyTo(context);
    context.register(CrossingBeans.class);
    boolean deadlocked = false;
    try {
      context.refresh();
      Crossing crossing = context.getBean(Crossing.class);
      context.stop();
      crossing.armed = true;

      CompletableFuture<Void> starting = new CompletableFuture<>();
      Thread.ofPlatform()
          .daemon()
          .name("test-start")
          .start(() -> complete(starting, context::start));
      assertThat(crossing.customizing.await(10, TimeUnit.SECONDS)).isTrue();
      CompletableFuture<Void> making = new CompletableFuture<>();
      Thread.ofPlatform()
          .daemon()
          .name("test-make-lazy")
          .start(() -> complete(making, () -> context.getBean(CrossingTasks.class)));
      try {
        CompletableFuture.allOf(starting, making).get(20, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        deadlocked = true; // closing would wait for the workers' monitor for ever
        throw new AssertionError(
            "the start and the lazy task bean wait for each other: "
                + threadDump("test-start", "test-make-lazy"),
            e);
      }

      MachineryWorkers workers = context.getBean(MachineryWorkers.class);
      awaitWorkersOn(workers, "", "edge_crossing");
    } finally {
      if (!deadlocked) {
        context.close();
      }
    }
  }

  private static void complete(CompletableFuture<Void> future, Runnable action) {
    try {
      action.run();
      future.complete(null);
    } catch (Throwable t) {
      future.completeExceptionally(t);
    }
  }

  private static String threadDump(String... names) {
    StringBuilder dump = new StringBuilder();
    for (ThreadInfo info : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
      if (List.of(names).contains(info.getThreadName())) {
        dump.append(info);
      }
    }
    return dump.toString();
  }

  /** The latches of the crossing test. */
  static final class Crossing {
    volatile boolean armed;
    final CountDownLatch customizing = new CountDownLatch(1);
    final CountDownLatch taskBeanInCreation = new CountDownLatch(1);
  }

  static class CrossingHelper {}

  static class CrossingTasks {
    @MachineryTask(value = "edge_crossing_whoami", queue = "edge_crossing")
    public String whoami(TaskContext context) {
      return "ran from " + context.signature().routingKey();
    }
  }

  @Configuration(proxyBeanMethods = false)
  @ImportAutoConfiguration(MachineryAutoConfiguration.class)
  static class CrossingBeans {
    @Bean
    Crossing crossing() {
      return new Crossing();
    }

    @Bean
    @Lazy
    CrossingHelper crossingHelper() {
      return new CrossingHelper();
    }

    @Bean
    @Lazy
    CrossingTasks crossingTasks(Crossing crossing) {
      crossing.taskBeanInCreation.countDown();
      return new CrossingTasks();
    }

    /** Once armed, waits in the start for the task bean to be in creation, then makes a bean. */
    @Bean
    MachineryWorkerCustomizer helperMaker(
        Crossing crossing, ObjectProvider<CrossingHelper> helper) {
      return (queue, worker) -> {
        if (!crossing.armed) {
          return;
        }
        crossing.customizing.countDown();
        try {
          if (!crossing.taskBeanInCreation.await(10, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the lazy task bean was not made");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException(e);
        }
        helper.getObject();
      };
    }
  }

  @Lazy
  static class LazyQueueTasks {
    @MachineryTask(value = "edge_lazy_whoami", queue = "edge_lazy")
    public String whoami(TaskContext context) {
      return "ran from " + context.signature().routingKey();
    }
  }

  @Scope(value = ConfigurableBeanFactory.SCOPE_PROTOTYPE, proxyMode = ScopedProxyMode.TARGET_CLASS)
  static class ScopedTasks {
    @MachineryTask("scoped_add")
    public long add(long... numbers) {
      return LongStream.of(numbers).sum();
    }
  }

  /** The running workers consume exactly {@code queues} ("" for the default queue). */
  private static void assertWorkersOn(MachineryWorkers workers, String... queues) {
    assertThat(workers.workers()).extracting(Worker::customQueue).containsExactlyInAnyOrder(queues);
  }

  /**
   * {@link #assertWorkersOn}, once a late start listed its worker (it does when its launch
   * returned, and the worker may have run a task a moment before that).
   */
  private static void awaitWorkersOn(MachineryWorkers workers, String... queues) {
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertWorkersOn(workers, queues));
  }

  /** An application bean that needs the workers (to list them, say). */
  static class EarlyUser {
    final MachineryWorkers workers;

    EarlyUser(MachineryWorkers workers) {
      this.workers = workers;
    }

    List<Worker> running() {
      return workers.workers();
    }
  }

  static class QueueTasks {
    @MachineryTask(value = "edge_whoami", queue = "edge_other")
    public String whoami(TaskContext context) {
      return "ran from " + context.signature().routingKey();
    }
  }

  /**
   * The default queue and QueueTasks' edge_other each have a worker, and edge_other's task runs.
   */
  private static void consumesAndRunsEdgeOther(AssertableApplicationContext context) {
    assertThat(context).hasNotFailed();
    assertWorkersOn(context.getBean(MachineryWorkers.class), "", "edge_other");
    assertThat(
            context
                .getBean(Server.class)
                .sendTask(Signature.builder("edge_whoami").routingKey("edge_other").build())
                .get(Duration.ofSeconds(10)))
        .containsExactly("ran from edge_other");
  }
}
