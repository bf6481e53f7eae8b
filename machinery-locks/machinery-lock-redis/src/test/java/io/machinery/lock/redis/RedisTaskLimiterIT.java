package io.machinery.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.TaskLimit;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.spi.TaskLimiter.Decision;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Redis task limiter against a single Redis server and the 3-master cluster: the rate's
 * arithmetic on Redis's clock, the cap across limiters (processes), and the lease that brings a
 * dead holder's slot back while a live one's is renewed.
 */
class RedisTaskLimiterIT {
  private static final Duration LEASE = Duration.ofSeconds(1);

  static List<String> urls() {
    return List.of(TestEndpoints.redisUrl(), TestEndpoints.redisClusterUrl());
  }

  private static RedisTaskLimiter limiter(String url) {
    return RedisTaskLimiter.builder(Config.builder().lock(url).build()).lease(LEASE).build();
  }

  private static String key() {
    return "test:" + UUID.randomUUID();
  }

  @ParameterizedTest
  @MethodSource("urls")
  void aRateAdmitsItsBurstThenSaysHowLongToWait(String url) {
    try (RedisTaskLimiter limiter = limiter(url)) {
      TaskLimit limit = TaskLimit.builder().rate(2, Duration.ofMinutes(1)).burst(2).build();
      String key = key();
      assertThat(limiter.tryAcquire(key, limit, "a")).isEqualTo(Decision.ADMITTED);
      assertThat(limiter.tryAcquire(key, limit, "b")).isEqualTo(Decision.ADMITTED);
      Decision refused = limiter.tryAcquire(key, limit, "c");
      assertThat(refused.admitted()).isFalse();
      // the next token comes 30 s after the first start
      assertThat(refused.retryAfter()).isBetween(Duration.ofSeconds(25), Duration.ofSeconds(30));
      assertThat(limiter.tryAcquire(key(), limit, "c")).isEqualTo(Decision.ADMITTED);
    }
  }

  @ParameterizedTest
  @MethodSource("urls")
  void aCapHoldsAcrossLimitersAndARefusalTakesNoToken(String url) {
    try (RedisTaskLimiter one = limiter(url);
        RedisTaskLimiter two = limiter(url)) {
      TaskLimit limit =
          TaskLimit.builder().rate(1, Duration.ofMinutes(1)).burst(2).maxConcurrent(1).build();
      String key = key();
      assertThat(one.tryAcquire(key, limit, "a")).isEqualTo(Decision.ADMITTED);
      assertThat(two.tryAcquire(key, limit, "b")).isEqualTo(Decision.FULL);
      assertThat(two.tryAcquire(key, limit, "b")).isEqualTo(Decision.FULL);
      one.release(key, limit, "a");
      assertThat(two.tryAcquire(key, limit, "b")).isEqualTo(Decision.ADMITTED);
      assertThat(two.heldSlots()).isEqualTo(1);
      two.release(key, limit, "b");
      assertThat(two.heldSlots()).isZero();
    }
  }

  @Test
  void aDeadHoldersSlotComesBackAfterItsLease() {
    String url = TestEndpoints.redisUrl();
    TaskLimit limit = TaskLimit.maxConcurrent(1);
    String key = key();
    try (RedisTaskLimiter survivor = limiter(url)) {
      RedisTaskLimiter dying = limiter(url);
      assertThat(dying.tryAcquire(key, limit, "dying")).isEqualTo(Decision.ADMITTED);
      dying.close(); // stops renewing without releasing: what a killed worker leaves
      assertThat(survivor.tryAcquire(key, limit, "s")).isEqualTo(Decision.FULL);
      await()
          .atMost(LEASE.multipliedBy(5))
          .until(() -> survivor.tryAcquire(key, limit, "s").admitted());
    }
  }

  @Test
  void aLiveHoldersSlotIsRenewedPastItsFirstLease() {
    String url = TestEndpoints.redisUrl();
    TaskLimit limit = TaskLimit.maxConcurrent(1);
    String key = key();
    try (RedisTaskLimiter holder = limiter(url);
        RedisTaskLimiter other = limiter(url);
        RedisSession redis = RedisSession.open(url, Config.DEFAULT)) {
      assertThat(holder.tryAcquire(key, limit, "h")).isEqualTo(Decision.ADMITTED);
      String running = RedisTaskLimiter.runningKey(key);
      double firstExpiry = redis.await(redis.commands().zscore(running, "h".getBytes()));
      // wait, on Redis's clock, until the first lease has lapsed
      await()
          .atMost(LEASE.multipliedBy(5))
          .until(() -> micros(redis.await(redis.commands().time())) > firstExpiry);
      assertThat(other.tryAcquire(key, limit, "o")).isEqualTo(Decision.FULL);
      assertThat(redis.await(redis.commands().zscore(running, "h".getBytes())))
          .isGreaterThan(firstExpiry);
      holder.release(key, limit, "h");
      assertThat(other.tryAcquire(key, limit, "o")).isEqualTo(Decision.ADMITTED);
    }
  }

  private static double micros(List<byte[]> time) {
    return Long.parseLong(new String(time.get(0))) * 1e6 + Long.parseLong(new String(time.get(1)));
  }

  @Test
  void badSettingsAreRefusedWithWhatToFix() {
    Config noRedis = Config.builder().broker("amqp://localhost").build();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> RedisTaskLimiter.create(noRedis))
        .hasMessageContaining("no Redis URL for the lock or task limiter");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> RedisTaskLimiter.builder(Config.DEFAULT).lease(Duration.ofMillis(10)))
        .hasMessageContaining("lease must be from 1 second");
  }
}
