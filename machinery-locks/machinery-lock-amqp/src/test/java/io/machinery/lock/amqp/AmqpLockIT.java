package io.machinery.lock.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.spi.Lock;
import io.machinery.testkit.LockContract;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The lock contract on the real RabbitMQ, and what the lock leaves there. */
class AmqpLockIT extends LockContract {
  @Override
  protected Lock createLock() {
    return AmqpLock.create(Config.builder().broker(TestEndpoints.amqpUrl()).build());
  }

  /** A key's queue would stay a month ({@link AmqpLock#IDLE_EXPIRY}). */
  @Override
  protected void forget(List<String> keys) {
    try (Connection connection =
            AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection();
        Channel channel = connection.createChannel()) {
      for (String key : keys) {
        channel.queueDelete(AmqpLock.queue(key));
      }
    } catch (IOException | TimeoutException e) {
      throw new IllegalStateException("deleting the lock queues of " + keys.size() + " keys", e);
    }
  }

  /**
   * Another process's lock (a connection of its own) sees the lock taken, and the key's queue holds
   * the one message, persistent, whose TTL ends at the asked expiry.
   */
  @Test
  void aLockIsOneMessageInADurableQueueThatAnotherProcessCannotAddTo() throws Exception {
    String key = key();
    assertThat(lock.tryLock(key, nanosFromNow(Duration.ofMinutes(1)))).isTrue();
    try (AmqpLock other = AmqpLock.create(Config.builder().lock(TestEndpoints.amqpUrl()).build())) {
      assertThat(other.tryLock(key, nanosFromNow(Duration.ofMinutes(1)))).isFalse();
    }
    try (Connection connection =
            AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection();
        Channel channel = connection.createChannel()) {
      String queue = AmqpLock.queue(key);
      assertThat(channel.queueDeclarePassive(queue).getMessageCount()).isEqualTo(1);
      channel.queueDelete(queue);
    }
  }

  /**
   * The TTL is what is left when the publish goes, not when the try began: a first try connects
   * before it publishes, and RabbitMQ times the TTL from the publish's arrival, so every moment in
   * between would make the lock end that much late (and the next tick find it still held).
   */
  @Test
  void theHoldIsReadFromTheClockJustBeforeThePublish() throws Exception {
    Instant start = Instant.now();
    AtomicInteger reads = new AtomicInteger();
    Clock steppingClock = // 400 ms later at each read: a slow connect, seen by the lock
        new Clock() {
          @Override
          public Instant instant() {
            return start.plusMillis(400L * reads.getAndIncrement());
          }

          @Override
          public ZoneId getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(ZoneId zone) {
            return this;
          }
        };
    String key = key();
    long expiresAt = start.getEpochSecond() * 1_000_000_000L + start.getNano() + 1_000_000_000L;
    try (AmqpLock fresh =
        AmqpLock.builder(Config.builder().lock(TestEndpoints.amqpUrl()).build())
            .clock(steppingClock)
            .build()) {
      assertThat(fresh.tryLock(key, expiresAt)).isTrue();
    }
    try (Connection connection =
            AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection();
        Channel channel = connection.createChannel()) {
      String queue = AmqpLock.queue(key);
      GetResponse held = channel.basicGet(queue, false);
      assertThat(held.getProps().getExpiration())
          .as("1 s left before connecting, 600 ms before the publish: held 600 ms")
          .isEqualTo("600");
      channel.queueDelete(queue);
    }
  }

  @Test
  void aKeyTooLongForAQueueNameLocksUnderItsHash() {
    String key = key() + "x".repeat(300);
    assertThat(AmqpLock.queue(key)).startsWith("machinery_lock.").hasSize(15 + 64);
    assertThat(lock.tryLock(key, nanosFromNow(Duration.ofSeconds(30)))).isTrue();
    assertThat(lock.tryLock(key, nanosFromNow(Duration.ofSeconds(30)))).isFalse();
  }

  @Test
  void anExpiryInThePastTakesNothing() {
    assertThat(lock.tryLock(key(), nanosFromNow(Duration.ofSeconds(-1)))).isFalse();
  }
}
