package io.machinery.lock.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.machinery.periodic.PeriodicConfig;
import io.machinery.periodic.PeriodicRun;
import io.machinery.periodic.PeriodicRun.Outcome;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two servers, each locking in RabbitMQ over a connection of its own, schedule the same periodic
 * task every second: at each tick exactly one of them sends the run, and the tick's lock has lapsed
 * in RabbitMQ (its queue is empty again) before the next tick is due.
 */
class PeriodicAmqpLockIT {
  private static final String SPEC = "@every 1s";
  private static final String NAME = "every-second";
  private static final int TICKS = 5;

  private final ManualClock clock = ManualClock.at(Instant.now().truncatedTo(ChronoUnit.SECONDS));
  private final List<AutoCloseable> closeAfter = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : closeAfter.reversed()) {
      c.close();
    }
  }

  private <T extends AutoCloseable> T closing(T resource) {
    closeAfter.add(resource);
    return resource;
  }

  @Test
  void twoServersSharingAnAmqpLockFireOncePerTick() throws Exception {
    String program = "periodic-amqp-it-" + UUID.randomUUID(); // keys of this run's own
    PeriodicConfig periodic =
        PeriodicConfig.builder()
            .programName(program)
            .zone(ZoneOffset.UTC)
            .backgroundThread(false)
            .build();
    MemoryBroker broker = closing(MemoryBroker.create(Config.DEFAULT, clock));
    MemoryBackend backend = closing(MemoryBackend.create(Config.DEFAULT, clock));
    AtomicInteger executions = new AtomicInteger();
    List<Server> servers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      AmqpLock lock =
          closing(
              AmqpLock.builder(Config.builder().lock(TestEndpoints.amqpUrl()).build())
                  .clock(clock)
                  .retryInterval(Duration.ZERO)
                  .build());
      Server server =
          closing(
              Server.builder()
                  .clock(clock)
                  .broker(broker)
                  .backend(backend)
                  .lock(lock)
                  .periodic(periodic)
                  .build());
      server.registerTask("tick", TaskFunction.of(executions::incrementAndGet));
      server.registerPeriodicTask(SPEC, NAME, Signature.create("tick"));
      servers.add(server);
    }
    servers.get(0).newWorker("worker", 2).launchAsync();
    String queue = AmqpLock.queue(servers.get(0).periodicEntries().get(0).lockKey());
    Connection connection =
        closing(AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection());
    Channel channel = connection.createChannel();

    Instant start = clock.instant();
    for (int tick = 1; tick <= TICKS; tick++) {
      clock.set(start.plus(Duration.ofSeconds(tick)));
      List<CompletableFuture<List<PeriodicRun>>> both =
          servers.stream()
              .map(s -> CompletableFuture.supplyAsync(s.periodicScheduler()::runDue))
              .toList();
      List<PeriodicRun> runs = both.stream().flatMap(f -> f.join().stream()).toList();
      assertThat(runs)
          .extracting(PeriodicRun::outcome)
          .as("tick %d: %s", tick, runs)
          .containsExactlyInAnyOrder(Outcome.SENT, Outcome.LOCKED_ELSEWHERE);
      assertThat(channel.queueDeclarePassive(queue).getMessageCount()).isEqualTo(1);
      await("the lock of tick " + tick + " lapses in RabbitMQ")
          .atMost(Duration.ofSeconds(10))
          .until(() -> channel.queueDeclarePassive(queue).getMessageCount() == 0);
    }
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(executions).hasValue(TICKS));
    channel.queueDelete(queue);
  }
}
