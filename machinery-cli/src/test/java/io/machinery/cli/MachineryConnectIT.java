package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Arg;
import io.machinery.Machinery;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.amqp.AmqpBroker;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.embedded.EagerLock;
import io.machinery.lock.amqp.AmqpLock;
import io.machinery.lock.redis.RedisLock;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * {@link Machinery#connect} with the modules' providers passed explicitly, on the real servers: the
 * URL picks the module, the server runs a task on what it built, and closing the server closes it.
 */
class MachineryConnectIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  private static Object addOnce(Server server) {
    server.registerTask("add", TaskFunction.varargs(long[].class, n -> n[0] + n[1]));
    server.newWorker("connect-it", 1).launchAsync();
    return server.sendTask(Signature.create("add", Arg.of(40L), Arg.of(2L))).getValue(PATIENCE);
  }

  @Test
  void aRedisUrlBuildsTheRedisBrokerBackendAndLock() {
    String url = TestEndpoints.redisUrl();
    Config config =
        Config.builder()
            .broker(url)
            .resultBackend(url)
            .defaultQueue("connect_" + UUID.randomUUID().toString().substring(0, 8))
            .build();
    Server server =
        Machinery.connect(
            config, RedisBroker.provider(), RedisBackend.provider(), RedisLock.provider());
    assertThat(server.broker()).isInstanceOf(RedisBroker.class);
    assertThat(server.backend()).isInstanceOf(RedisBackend.class);
    assertThat(server.lock()).isInstanceOf(RedisLock.class); // Go: no LOCK means the broker's URL
    assertThat(addOnce(server)).isEqualTo(42L);
    server.close();
    assertThatThrownBy(
            () -> server.broker().publish(Signature.create("late"), new byte[] {'{', '}'}))
        .as("the server closed the broker it built")
        .isNotNull();
  }

  /**
   * Without the AMQP lock's provider an AMQP broker URL gets the in-process lock, as in Go (whose
   * AMQP servers each fire every tick); with it, the lock in RabbitMQ.
   */
  @Test
  void anAmqpUrlBuildsTheAmqpBrokerAndBackendAndTheLockItsProviderServes() {
    String url = TestEndpoints.amqpUrl();
    Config config =
        Config.builder()
            .broker(url)
            .resultBackend(url)
            .defaultQueue("connect_" + UUID.randomUUID().toString().substring(0, 8))
            .build();
    Server server = Machinery.connect(config, AmqpBroker.provider(), AmqpBackend.provider());
    assertThat(server.broker()).isInstanceOf(AmqpBroker.class);
    assertThat(server.backend()).isInstanceOf(AmqpBackend.class);
    assertThat(server.lock()).isInstanceOf(EagerLock.class);
    assertThat(addOnce(server)).isEqualTo(42L);
    server.close();
    try (Server withLock =
        Machinery.connect(
            config, AmqpBroker.provider(), AmqpBackend.provider(), AmqpLock.provider())) {
      assertThat(withLock.lock()).isInstanceOf(AmqpLock.class);
      long inFiveSeconds = io.machinery.internal.GoTime.unixNanos(Instant.now().plusSeconds(5));
      assertThat(withLock.lock().tryLock("connect-it-" + UUID.randomUUID(), inFiveSeconds))
          .isTrue();
    }
    assertThatThrownBy(
            () -> server.broker().publish(Signature.create("late"), new byte[] {'{', '}'}))
        .as("the server closed the broker it built")
        .isNotNull();
  }
}
