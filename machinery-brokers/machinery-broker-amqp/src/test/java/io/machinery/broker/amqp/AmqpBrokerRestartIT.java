package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * RabbitMQ is restarted while a worker holds running tasks and senders keep sending. The worker and
 * the senders recover by themselves; no task is lost; tasks whose acknowledgement died with the
 * connection run again (counted). A second worker launched while RabbitMQ is down (its broker built
 * before, with a 1 s timeout, so that its first start fails rather than waits) keeps trying and
 * consumes once RabbitMQ is back.
 */
@Tag("disruptive") // stops or alarms the shared RabbitMQ: make test runs it alone, after the
// parallel build
class AmqpBrokerRestartIT {
  private static final int BEFORE = 2_000;
  private static final int DURING = 1_000;
  private static final int CONCURRENCY = 10;
  private static final int LATE = 20;

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  @Test
  void theWorkerAndTheSendersRecoverFromARabbitMqRestart() throws Exception {
    String url = TestEndpoints.amqpUrl();
    String services = TestEndpoints.servicesScript();
    Config config = BrokerContract.uniqueQueue(Config.builder().broker(url).build(), "restart_it_");
    RabbitAdmin.track(config.defaultQueue());
    Config lateConfig = BrokerContract.uniqueQueue(config, "restart_late_it_");
    RabbitAdmin.track(lateConfig.defaultQueue());
    Queue<Long> lateRuns = new ConcurrentLinkedQueue<>();
    Map<Long, Integer> runs = new ConcurrentHashMap<>();
    AtomicInteger entered = new AtomicInteger();
    AtomicInteger brokerErrors = new AtomicInteger();
    CountDownLatch gate = new CountDownLatch(1);
    Queue<AsyncResult> results = new ConcurrentLinkedQueue<>();

    try (AmqpBroker broker =
            AmqpBroker.builder(config).publishTimeout(Duration.ofSeconds(90)).build();
        MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
        Server server = Server.builder().config(config).broker(broker).backend(backend).build();
        AmqpBroker lateBroker =
            AmqpBroker.builder(lateConfig).publishTimeout(Duration.ofSeconds(1)).build();
        Server lateServer =
            Server.builder().config(lateConfig).broker(lateBroker).backend(backend).build()) {
      lateServer.registerTask(
          "late",
          TaskFunction.of(
              Long.class,
              index -> {
                lateRuns.add(index);
                return true;
              }));
      server.registerTask(
          "gated",
          TaskFunction.of(
              Long.class,
              index -> {
                entered.incrementAndGet();
                // the first tasks hold their slots until RabbitMQ is down, so their acks are lost
                // with the connection
                boolean opened = gate.await(90, TimeUnit.SECONDS);
                runs.merge(index, 1, Integer::sum);
                return opened;
              }));
      server
          .workerBuilder("restart-it")
          .concurrency(CONCURRENCY)
          .errorHandler(e -> brokerErrors.incrementAndGet())
          .build()
          .launchAsync();
      for (long i = 0; i < BEFORE; i++) {
        results.add(server.sendTask(Signature.create("gated", Arg.of(i))));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> entered.get() == CONCURRENCY);

      long restartStarted = System.nanoTime();
      Process restart =
          new ProcessBuilder(services, "restart", "rabbitmq")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      await().atMost(Duration.ofSeconds(60)).until(() -> brokerErrors.get() > 0);
      double lostAfter = (System.nanoTime() - restartStarted) / 1e9;
      gate.countDown();

      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> !accepts(url));
      Worker late = lateServer.workerBuilder("restart-late-it").concurrency(2).build();
      late.launchAsync();
      assertThat(late.isStarting())
          .as("a worker launched while RabbitMQ is down keeps trying to start")
          .isTrue();
      assertThat(late.isRunning()).isTrue();

      AtomicInteger sentDuring = new AtomicInteger();
      Thread sender =
          Thread.ofVirtual()
              .start(
                  () -> {
                    for (long i = BEFORE; i < BEFORE + DURING; i++) {
                      results.add(
                          server.sendTask(
                              Signature.create(
                                  "gated", Arg.of(i)))); // waits while RabbitMQ is away
                      sentDuring.incrementAndGet();
                    }
                  });
      assertThat(restart.waitFor(120, TimeUnit.SECONDS)).as("the restart finished").isTrue();
      assertThat(restart.exitValue()).as("services.sh restart rabbitmq").isZero();
      double restartSeconds = (System.nanoTime() - restartStarted) / 1e9;

      await().atMost(Duration.ofMinutes(3)).until(() -> runs.size() == BEFORE + DURING);
      sender.join();

      // the retries are at most 30 s apart (Worker.START_BACKOFF)
      await().atMost(Duration.ofSeconds(90)).until(() -> !late.isStarting());
      assertThat(late.isRunning()).as("the late worker started").isTrue();
      for (long i = 0; i < LATE; i++) {
        results.add(
            server.sendTask(
                Signature.builder("late")
                    .args(Arg.of(i))
                    .routingKey(lateConfig.defaultQueue())
                    .build()));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> lateRuns.size() == LATE);
      double allDoneSeconds = (System.nanoTime() - restartStarted) / 1e9;
      int executions = runs.values().stream().mapToInt(Integer::intValue).sum();
      System.out.printf(
          "[AmqpBrokerRestartIT] %d tasks (%d sent before, %d during the restart); connection loss"
              + " seen %.1f s after the restart began; restart took %.1f s; all tasks done %.1f s after it began;"
              + " executions %d, duplicates %d; broker errors reported %d%n",
          BEFORE + DURING,
          BEFORE,
          sentDuring.get(),
          lostAfter,
          restartSeconds,
          allDoneSeconds,
          executions,
          executions - (BEFORE + DURING),
          brokerErrors.get());
      assertThat(runs).hasSize(BEFORE + DURING);
      assertThat(lateRuns).as("the late worker ran each task once").hasSize(LATE);
      assertThat(executions - (BEFORE + DURING))
          .as("only tasks in flight at the restart ran twice")
          .isLessThanOrEqualTo(CONCURRENCY + 3 * CONCURRENCY);
      assertThat(results)
          .hasSize(BEFORE + DURING + LATE)
          .allSatisfy(
              r ->
                  assertThat(r.get(Duration.ofSeconds(30)))
                      .as("final state SUCCESS")
                      .containsExactly(true));
    }
  }

  /** Whether RabbitMQ's AMQP port takes connections. */
  private static boolean accepts(String amqpUrl) {
    URI uri = URI.create(amqpUrl);
    try (Socket socket = new Socket()) {
      socket.connect(
          new InetSocketAddress(uri.getHost(), uri.getPort() < 0 ? 5672 : uri.getPort()), 1_000);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
