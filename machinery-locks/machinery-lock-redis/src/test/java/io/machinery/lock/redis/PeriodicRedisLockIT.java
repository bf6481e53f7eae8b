package io.machinery.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
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
 * Two servers, each with its own connection to Redis, schedule the same periodic task: over many
 * ticks of a manual clock, exactly one of them sends each run, and the lock sits in Redis under
 * Go's key with Go's value.
 */
class PeriodicRedisLockIT {
  private static final String SPEC = "* * * * *";
  private static final String NAME = "every-minute";
  private static final int TICKS = 40;

  private final ManualClock clock = ManualClock.at(Instant.now().truncatedTo(ChronoUnit.MINUTES));
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
  void twoServersSharingARedisLockFireOncePerTick() {
    String url = TestEndpoints.redisUrl();
    // A program name of its own, so that runs of this test never meet each other's keys.
    String program = "periodic-it-" + UUID.randomUUID();
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
      RedisLock lock =
          closing(
              RedisLock.builder(Config.builder().lock(url).build())
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
    String key = "machinery_lock_" + program + NAME + SPEC;
    assertThat(servers.get(0).periodicEntries().get(0).lockKey()).isEqualTo(key);

    RedisClient client = RedisClient.create(url);
    closing(client::shutdown);
    StatefulRedisConnection<String, String> redis = closing(client.connect());

    Instant start = clock.instant();
    for (int tick = 1; tick <= TICKS; tick++) {
      clock.set(start.plus(Duration.ofMinutes(tick)));
      List<CompletableFuture<List<PeriodicRun>>> both =
          servers.stream()
              .map(s -> CompletableFuture.supplyAsync(s.periodicScheduler()::runDue))
              .toList();
      List<PeriodicRun> runs = both.stream().flatMap(f -> f.join().stream()).toList();
      assertThat(runs)
          .extracting(PeriodicRun::outcome)
          .as("tick %d: %s", tick, runs)
          .containsExactlyInAnyOrder(Outcome.SENT, Outcome.LOCKED_ELSEWHERE);
      long nextTickNanos =
          start.plus(Duration.ofMinutes(tick + 1)).getEpochSecond() * 1_000_000_000L;
      assertThat(redis.sync().get(key))
          .as("Go's lock value: the next run in Unix ns, minus one")
          .isEqualTo(Long.toString(nextTickNanos - 1));
    }
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(executions).hasValue(TICKS));
    redis.sync().del(key);
  }
}
