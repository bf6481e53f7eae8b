package io.machinery.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.MachineryException;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.DroppingTcpProxy;
import io.machinery.testkit.TestEndpoints;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Redis periodic lock where its connection drops (through a {@link DroppingTcpProxy}) and where
 * its unlock meets a tick taken by another server:
 *
 * <ul>
 *   <li>a lock try that timed out while Redis was unreachable does not take the lock once the
 *       connection is back (as a plain command that timed out is never sent later);
 *   <li>{@code tryLockWithRetries} throws when no try reached Redis (the scheduler then reports the
 *       run FAILED, not LOCKED_ELSEWHERE);
 *   <li>{@code unlock} with a tick's value releases that tick's lock whoever took it (every server
 *       writes the same value for a tick, as Go does).
 * </ul>
 */
class RedisLockEdgeCasesIT {
  private static final Config CONFIG =
      Config.builder().redis(RedisConfig.DEFAULT.withReadTimeout(Duration.ofSeconds(1))).build();

  private DroppingTcpProxy proxy;
  private RedisSession viaProxy;
  private RedisSession direct;
  private String key;

  @BeforeEach
  void setUp() throws Exception {
    URI redis = URI.create(TestEndpoints.redisUrl());
    proxy = DroppingTcpProxy.start(redis.getHost(), redis.getPort() < 0 ? 6379 : redis.getPort());
    viaProxy = RedisSession.open("redis://127.0.0.1:" + proxy.port(), CONFIG);
    direct = RedisSession.open(TestEndpoints.redisUrl(), CONFIG);
    key = "machinery_lock_edge" + UUID.randomUUID();
  }

  @AfterEach
  void tearDown() {
    direct.await(direct.commands().del(key, key + "-plain", key + "-probe"));
    direct.close();
    viaProxy.close();
    proxy.close();
  }

  private static long nanos(Instant instant) {
    return instant.getEpochSecond() * 1_000_000_000L + instant.getNano();
  }

  private String stored(String k) {
    byte[] value = direct.await(direct.commands().get(k));
    return value == null ? null : new String(value, StandardCharsets.UTF_8);
  }

  private void cutAndWaitForLettuceToNotice() {
    proxy.cut();
    await("Lettuce notices the lost connection")
        .atMost(Duration.ofSeconds(10))
        .until(() -> !viaProxy.isConnected());
  }

  private void resumeAndWaitForReconnect() throws Exception {
    proxy.resume();
    await("Lettuce reconnects")
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(50))
        .until(viaProxy::isConnected);
    // a command sent now on the lock's connection runs after anything Lettuce buffered there
    await("the buffered commands have run")
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              try {
                viaProxy.await(
                    viaProxy.commands().set(key + "-probe", "x".getBytes(StandardCharsets.UTF_8)));
                return true;
              } catch (MachineryException e) {
                return false;
              }
            });
  }

  /**
   * Control: a plain command whose caller gave up (timed out while disconnected) is cancelled and
   * never sent after the reconnect, as RedisSession documents.
   */
  @Test
  void control_aPlainCommandThatTimedOutWhileDisconnectedIsNotSentLater() throws Exception {
    cutAndWaitForLettuceToNotice();
    assertThatThrownBy(
            () ->
                viaProxy.await(
                    viaProxy.commands().set(key + "-plain", "1".getBytes(StandardCharsets.UTF_8))))
        .isInstanceOf(MachineryException.class);
    resumeAndWaitForReconnect();
    assertThat(stored(key + "-plain")).isNull();
  }

  /**
   * A lock try that timed out while Redis was unreachable, reported as failed, is not run after the
   * reconnect: its script must leave Lettuce's buffer with its caller's timeout, as a plain command
   * does, or the tick's lock would be held although its caller was told it did not get it, so the
   * caller's own retry and every other server would be refused and no one would send the run.
   * (RedisScript.run has to cancel the command itself, not only the future it derives.)
   */
  @Test
  void aLockTryThatTimedOutWhileDisconnectedDoesNotTakeTheLockLater() throws Exception {
    try (RedisLock lock = RedisLock.builder(CONFIG).session(viaProxy).retries(0).build();
        RedisLock otherServer = RedisLock.builder(CONFIG).session(direct).retries(0).build()) {
      long tickLock = nanos(Instant.now().plusSeconds(120));
      cutAndWaitForLettuceToNotice();
      assertThatThrownBy(() -> lock.tryLock(key, tickLock))
          .as("the try times out: its caller is told it failed")
          .isInstanceOf(MachineryException.class);
      resumeAndWaitForReconnect();
      assertThat(stored(key))
          .as("a lock try reported as failed must not take the lock after the reconnect")
          .isNull();
      assertThat(otherServer.tryLock(key, tickLock))
          .as("so another server can still take this tick")
          .isTrue();
    }
  }

  /**
   * The SPI says tryLockWithRetries throws MachineryException when the store cannot be reached: a
   * false would read as "another server fired it" (DEBUG log, outcome LOCKED_ELSEWHERE) instead of
   * FAILED.
   */
  @Test
  void tryLockWithRetriesReportsAnUnreachableStore() throws Exception {
    try (RedisLock lock =
        RedisLock.builder(CONFIG)
            .session(viaProxy)
            .retries(1)
            .retryInterval(Duration.ZERO)
            .build()) {
      cutAndWaitForLettuceToNotice();
      long tickLock = nanos(Instant.now().plusSeconds(120));
      assertThatThrownBy(() -> lock.tryLockWithRetries(key, tickLock))
          .isInstanceOf(MachineryException.class);
    } finally {
      proxy.resume();
    }
  }

  /**
   * unlock checks the value, not who took the lock: every server computes the same value for a tick
   * (next fire time - 1 ns, Go's format), so the loser of a tick's race that unlocks it deletes the
   * winner's lock and a third try takes the same tick again, as RedisLock.unlock documents (the
   * scheduler never unlocks).
   */
  @Test
  void unlockWithATicksValueReleasesThatTicksLockWhoeverTookIt() {
    try (RedisLock winner = RedisLock.builder(CONFIG).session(direct).retries(0).build();
        RedisLock loser =
            RedisLock.create(Config.builder().lock(TestEndpoints.redisUrl()).build());
        RedisLock third =
            RedisLock.create(Config.builder().lock(TestEndpoints.redisUrl()).build())) {
      long tickLock = nanos(Instant.now().plusSeconds(60));
      assertThat(winner.tryLock(key, tickLock)).isTrue();
      assertThat(loser.tryLock(key, tickLock)).isFalse();
      assertThat(loser.unlock(key, tickLock)).as("the loser's unlock deletes the key").isTrue();
      assertThat(stored(key)).isNull();
      assertThat(third.tryLock(key, tickLock)).as("so the tick can be taken again").isTrue();
    }
  }
}
