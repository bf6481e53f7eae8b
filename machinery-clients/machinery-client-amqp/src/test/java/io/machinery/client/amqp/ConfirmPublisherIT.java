package io.machinery.client.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The confirming publisher against RabbitMQ itself: a channel RabbitMQ closes for one publish's
 * error fails none of the others on it.
 */
class ConfirmPublisherIT {
  private static final AMQP.BasicProperties PERSISTENT =
      new AMQP.BasicProperties.Builder().deliveryMode(2).build();

  @Test
  void publishesOnAChannelRabbitMqClosedForAnotherPublishAreSentAgainAndOnlyTheCulpritFails()
      throws Exception {
    int rounds = 10;
    int beside = 40;
    String missing = "machinery-missing-" + UUID.randomUUID();
    try (AmqpClient client =
            AmqpClient.builder(List.of(AmqpUrl.parse(TestEndpoints.amqpUrl())))
                .connectionName("confirm-publisher-it")
                .publisherChannels(1) // every publish shares the channel the culprit closes
                .build();
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
      // exclusive: RabbitMQ deletes it with the client's connection
      String queue =
          client.call(
              "declare the test queue",
              channel -> channel.queueDeclare("", false, true, true, null).getQueue());
      for (int round = 0; round < rounds; round++) {
        CountDownLatch culpritWriting = new CountDownLatch(1);
        List<Future<?>> others = new ArrayList<>();
        for (int i = 0; i < beside; i++) {
          others.add(
              threads.submit(
                  () -> {
                    culpritWriting.await();
                    // written behind the culprit: those written before its channel.close comes
                    // back are discarded with the channel
                    client.publish("", queue, PERSISTENT, new byte[] {1});
                    return null;
                  }));
        }
        // a publish to an exchange that does not exist: RabbitMQ closes the channel (404); the
        // setup runs under the channel's lock just before the message, so the others wait for
        // the lock and are written right after it
        assertThatThrownBy(
                () ->
                    client.publishOrdered(
                        "culprit",
                        channel -> culpritWriting.countDown(),
                        missing,
                        "nowhere",
                        PERSISTENT,
                        new byte[] {2}))
            .isInstanceOfSatisfying(
                AmqpOperationException.class,
                e -> assertThat(e.replyCode()).isEqualTo(AmqpOperationException.NOT_FOUND))
            .hasMessageContaining(missing);
        for (Future<?> f : others) {
          f.get(60, TimeUnit.SECONDS); // sent again on a fresh channel, not failed with the 404
        }
      }
      int expected = rounds * beside;
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> client.call("count", channel -> channel.messageCount(queue)),
              count -> count >= expected); // at-least-once
    }
  }
}
