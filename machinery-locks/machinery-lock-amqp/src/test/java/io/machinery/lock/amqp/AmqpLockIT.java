package io.machinery.lock.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.spi.Lock;
import io.machinery.testkit.LockContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The lock contract on the real RabbitMQ, and what the lock leaves there. */
class AmqpLockIT extends LockContract {
  @Override
  protected Lock createLock() {
    return AmqpLock.create(Config.builder().broker(TestEndpoints.amqpUrl()).build());
  }

  /**
   * Another process's lock (a connection of its own) sees the lock taken, and the key's queue holds
   * the one message, persistent, whose TTL ends a little before the asked expiry.
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
