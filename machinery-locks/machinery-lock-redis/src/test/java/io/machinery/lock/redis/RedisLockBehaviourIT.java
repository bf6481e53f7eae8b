package io.machinery.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Go's periodic-task lock protocol on the wire, and what Go's racy fallback becomes here. */
class RedisLockBehaviourIT {
  private RedisLock lock;
  private RedisSession redis;
  private String key;

  @BeforeEach
  void setUp() {
    Config config = Config.builder().lock(TestEndpoints.redisUrl()).build();
    lock = RedisLock.builder(config).retries(2).retryInterval(Duration.ofMillis(150)).build();
    redis = RedisSession.open(TestEndpoints.redisUrl(), config);
    key = "machinery_lock_it" + UUID.randomUUID();
  }

  @AfterEach
  void tearDown() {
    redis.await(redis.commands().del(key));
    redis.close();
    lock.close();
  }

  private static long nanos(Instant instant) {
    return instant.getEpochSecond() * 1_000_000_000L + instant.getNano();
  }

  private String stored() {
    byte[] value = redis.await(redis.commands().get(key));
    return value == null ? null : new String(value, StandardCharsets.UTF_8);
  }

  private void store(String value) {
    redis.await(redis.commands().set(key, value.getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void theKeyHoldsTheExpiryInNanosecondsAndExpiresThen() {
    long expiry = nanos(Instant.now().plusSeconds(30));
    assertThat(lock.tryLock(key, expiry)).isTrue();
    assertThat(stored()).isEqualTo(Long.toString(expiry));
    assertThat(redis.await(redis.commands().pttl(key))).isBetween(28_000L, 30_001L);
  }

  @Test
  void aStaleLockWithoutExpiryIsTakenOverAsGoDoes() {
    store(Long.toString(nanos(Instant.now().minusSeconds(5))));
    long expiry = nanos(Instant.now().plusSeconds(30));
    assertThat(lock.tryLock(key, expiry)).isTrue();
    assertThat(stored()).isEqualTo(Long.toString(expiry));
    assertThat(redis.await(redis.commands().pttl(key))).isPositive();
  }

  @Test
  void aLiveLockWithoutExpiryOrAValueGoCannotParseIsNotTaken() {
    store(Long.toString(nanos(Instant.now().plusSeconds(60))));
    assertThat(lock.tryLock(key, nanos(Instant.now().plusSeconds(30)))).isFalse();
    store("not a number");
    assertThat(lock.tryLock(key, nanos(Instant.now().plusSeconds(30)))).isFalse();
    store("0");
    assertThat(lock.tryLock(key, nanos(Instant.now().plusSeconds(30)))).isFalse();
  }

  @Test
  void anExpiryInThePastTakesNothing() {
    assertThat(lock.tryLock(key, nanos(Instant.now().minusSeconds(1)))).isFalse();
    assertThat(stored()).isNull();
  }

  @Test
  void retriesWaitTheirIntervalBetweenAttempts() {
    assertThat(lock.tryLock(key, nanos(Instant.now().plusSeconds(30)))).isTrue();
    long start = System.nanoTime();
    assertThat(lock.tryLockWithRetries(key, nanos(Instant.now().plusSeconds(30)))).isFalse();
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(Duration.ofMillis(300));
  }

  @Test
  void unlockReleasesOnlyAKeyHoldingTheGivenValue() {
    long mine = nanos(Instant.now().plusSeconds(30));
    assertThat(lock.tryLock(key, mine)).isTrue();
    assertThat(lock.unlock(key, mine + 1)).isFalse();
    assertThat(stored()).isEqualTo(Long.toString(mine));
    assertThat(lock.unlock(key, mine)).isTrue();
    assertThat(stored()).isNull();
  }

  @Test
  void theUrlComesFromTheLockThenTheBackendThenTheBroker() {
    try (RedisLock fromBackend =
        RedisLock.create(Config.builder().resultBackend(TestEndpoints.redisUrl()).build())) {
      assertThat(fromBackend.tryLock(key, nanos(Instant.now().plusSeconds(30)))).isTrue();
    }
    assertThatThrownBy(
            () ->
                RedisLock.create(
                    Config.builder().lock("amqp://guest:secret@localhost:5672/").build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("secret");
    assertThatThrownBy(() -> RedisLock.create(Config.DEFAULT))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aLockOnASessionItWasGivenUsesItAndLeavesItOpen() {
    RedisLock shared =
        RedisLock.builder(Config.builder().build()).session(redis).build(); // no URL needed
    long expiry = nanos(Instant.now().plusSeconds(30));
    assertThat(shared.tryLock(key, expiry)).isTrue();
    assertThat(stored()).isEqualTo(Long.toString(expiry));
    shared.close();
    assertThat(redis.isConnected()).isTrue();
    assertThat(stored()).isEqualTo(Long.toString(expiry));
  }
}
