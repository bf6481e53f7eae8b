package io.machinery.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.periodic.PeriodicRun;
import io.machinery.periodic.PeriodicRun.Outcome;
import io.machinery.testkit.TestEndpoints;
import io.machinery.testkit.TwoSchedulers;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
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

  @Test
  void twoServersSharingARedisLockFireOncePerTick() throws Exception {
    String url = TestEndpoints.redisUrl();
    RedisClient client = RedisClient.create(url);
    try (TwoSchedulers two =
            TwoSchedulers.start(
                clock,
                SPEC,
                NAME,
                () ->
                    RedisLock.builder(Config.builder().lock(url).build())
                        .clock(clock)
                        .retryInterval(Duration.ZERO)
                        .build());
        StatefulRedisConnection<String, String> redis = client.connect()) {
      String key = two.lockKey();
      assertThat(key).startsWith("machinery_lock_periodic-it-").endsWith(NAME + SPEC); // Go's

      Instant start = clock.instant();
      for (int tick = 1; tick <= TICKS; tick++) {
        clock.set(start.plus(Duration.ofMinutes(tick)));
        List<PeriodicRun> runs = two.runDueOnBoth();
        assertThat(runs)
            .extracting(PeriodicRun::outcome)
            .as("tick %d: %s; lock tries: %s", tick, runs, two.lastTries())
            .containsExactlyInAnyOrder(Outcome.SENT, Outcome.LOCKED_ELSEWHERE);
        long nextTickNanos =
            start.plus(Duration.ofMinutes(tick + 1)).getEpochSecond() * 1_000_000_000L;
        assertThat(redis.sync().get(key))
            .as("Go's lock value: the next run in Unix ns, minus one")
            .isEqualTo(Long.toString(nextTickNanos - 1));
      }
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(() -> assertThat(two.executions()).isEqualTo(TICKS));
      redis.sync().del(key);
    } finally {
      client.shutdown();
    }
  }
}
