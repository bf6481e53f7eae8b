package io.machinery.lock.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.periodic.PeriodicRun;
import io.machinery.periodic.PeriodicRun.Outcome;
import io.machinery.testkit.TestEndpoints;
import io.machinery.testkit.TwoSchedulers;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two servers, each locking in RabbitMQ over a connection of its own, schedule the same periodic
 * task every second: at each tick exactly one of them sends the run, and the tick's lock lapses in
 * RabbitMQ by itself (its queue is empty again) before the test moves to the next tick.
 *
 * <p>The connections are open before the first tick, as a running server's are after its first
 * lock: the lock lapses in RabbitMQ's real time, 1 s after the winner's publish here (the manual
 * clock stands still, so each try has the whole second left), so two servers whose tries come
 * further apart than that both fire (as with any lock that lapses by itself), and opening a
 * connection on a busy 2-core host can take a good part of a second.
 *
 * <p>The locks spin their retries ({@code retryInterval(ZERO)}, Go's way), which a live deployment
 * should not (see {@code AmqpLock}'s design notes: a tick's first tries can meet the previous
 * tick's message in the moment it outlives its expiry, and spinning retries can all fall in that
 * moment). Here no try meets it: the test moves to the next tick only once the previous tick's
 * message has lapsed, and the manual clock, not real time, says when a tick comes.
 */
class PeriodicAmqpLockIT {
  private static final String SPEC = "@every 1s";
  private static final String NAME = "every-second";
  private static final int TICKS = 5;

  private final ManualClock clock = ManualClock.at(Instant.now().truncatedTo(ChronoUnit.SECONDS));

  private final List<AmqpClient> clients = new ArrayList<>();

  @AfterEach
  void closeClients() {
    clients.forEach(AmqpClient::close);
  }

  /** A server's own connection, open. */
  private AmqpClient connectedClient() {
    AmqpClient client =
        AmqpClient.builder(AmqpUrl.parseAll(TestEndpoints.amqpUrl(), ","))
            .connectionName("periodic-lock-it")
            .build();
    clients.add(client);
    AmqpClient.closeQuietly(client.openChannel());
    return client;
  }

  @Test
  void twoServersSharingAnAmqpLockFireOncePerTick() throws Exception {
    try (TwoSchedulers two =
            TwoSchedulers.start(
                clock,
                SPEC,
                NAME,
                () ->
                    AmqpLock.builder(Config.DEFAULT)
                        .client(connectedClient())
                        .clock(clock)
                        .retryInterval(Duration.ZERO)
                        .build());
        Connection connection =
            AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection()) {
      Channel channel = connection.createChannel();
      String queue = AmqpLock.queue(two.lockKey());

      Instant start = clock.instant();
      for (int tick = 1; tick <= TICKS; tick++) {
        clock.set(start.plus(Duration.ofSeconds(tick)));
        List<PeriodicRun> runs = two.runDueOnBoth();
        assertThat(runs)
            .extracting(PeriodicRun::outcome)
            .as("tick %d: %s; lock tries: %s", tick, runs, two.lastTries())
            .containsExactlyInAnyOrder(Outcome.SENT, Outcome.LOCKED_ELSEWHERE);
        assertThat(channel.queueDeclarePassive(queue).getMessageCount()).isEqualTo(1);
        await("the lock of tick " + tick + " lapses in RabbitMQ")
            .atMost(Duration.ofSeconds(10))
            .until(() -> channel.queueDeclarePassive(queue).getMessageCount() == 0);
      }
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(() -> assertThat(two.executions()).isEqualTo(TICKS));
      channel.queueDelete(queue);
    }
  }
}
