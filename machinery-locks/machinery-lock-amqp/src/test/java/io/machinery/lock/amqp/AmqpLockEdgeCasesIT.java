package io.machinery.lock.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Dag;
import io.machinery.Group;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.embedded.ManualClock;
import io.machinery.internal.GoTime;
import io.machinery.periodic.PeriodicConfig;
import io.machinery.periodic.PeriodicRun;
import io.machinery.periodic.PeriodicRun.Outcome;
import io.machinery.periodic.PeriodicScheduler;
import io.machinery.periodic.PeriodicSender;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The AMQP periodic lock at the edges of a tick and of RabbitMQ's reach:
 *
 * <ul>
 *   <li>a tick's lock holds until its expiry, so a late server's tries for that tick, however late,
 *       are all refused (the run is never sent twice);
 *   <li>the next tick, tried from that expiry on, is taken on a retry when its first try meets the
 *       previous tick's message in the moment that outlives its expiry;
 *   <li>{@code tryLockWithRetries} throws when no try reached RabbitMQ, and the scheduler reports
 *       such a run FAILED, not LOCKED_ELSEWHERE ("another server fired it").
 * </ul>
 */
class AmqpLockEdgeCasesIT {
  private static final String UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/";

  private static long nanosFromNow(Duration d) {
    return GoTime.unixNanos(Instant.now().plus(d));
  }

  /**
   * Two servers try the same tick (the same expiry value, as every scheduler computes it: next fire
   * time - 1 ns); the loser, late, tries again every 20 ms right up to the expiry, as a slow server
   * or a loser's retries would. None of its tries takes the tick: the winner's message lapses at
   * the expiry, not before (a lock that ended early let a try in that last stretch in, and the run
   * went twice).
   */
  @Test
  void theSameTickCannotBeTakenTwice() throws Exception {
    String key = "machinery_lock_edge_" + UUID.randomUUID();
    Config config = Config.builder().broker(TestEndpoints.amqpUrl()).build();
    try (AmqpLock winner = AmqpLock.create(config);
        AmqpLock late = AmqpLock.create(config)) {
      // both servers are connected already, as running ones are
      winner.tryLock(key + "-warm", nanosFromNow(Duration.ofMillis(100)));
      late.tryLock(key + "-warm", nanosFromNow(Duration.ofMillis(100)));
      long tick = nanosFromNow(Duration.ofSeconds(2)); // "@every 2s": the next tick - 1 ns
      assertThat(winner.tryLock(key, tick)).isTrue();
      List<String> taken = new CopyOnWriteArrayList<>();
      // the late server tries the same tick every 20 ms until the winner's lock expires
      Duration untilExpiry = Duration.ofNanos(tick - GoTime.unixNanos(Instant.now()));
      await()
          .pollDelay(Duration.ZERO)
          .pollInterval(Duration.ofMillis(20))
          .during(untilExpiry)
          .atMost(untilExpiry.plusSeconds(2))
          .until(
              () -> {
                long before = tick - GoTime.unixNanos(Instant.now());
                if (late.tryLock(key, tick)) {
                  taken.add("taken again " + before / 1_000_000 + " ms before the expiry");
                }
                return true;
              });
      assertThat(taken).as("a second server's tries for the tick the winner holds").isEmpty();
    } finally {
      deleteQueue(key);
      deleteQueue(key + "-warm");
    }
  }

  /**
   * The next tick's lock expires a period later; its first try, right at the previous tick's
   * expiry, can meet the previous tick's message in the moment it outlives that expiry, and the
   * retries (100 ms apart by default) take the tick then.
   */
  @Test
  void theNextTickIsTakenRightAfterThePreviousOneExpires() throws Exception {
    String key = "machinery_lock_edge_" + UUID.randomUUID();
    Config config = Config.builder().broker(TestEndpoints.amqpUrl()).build();
    try (AmqpLock previousWinner = AmqpLock.create(config);
        AmqpLock next = AmqpLock.create(config)) {
      next.tryLock(key + "-warm", nanosFromNow(Duration.ofMillis(100))); // connected already
      long tick = nanosFromNow(Duration.ofMillis(500)); // "@every 500ms"
      assertThat(previousWinner.tryLock(key, tick)).isTrue();
      await("the previous tick's expiry")
          .pollInterval(Duration.ofMillis(1))
          .atMost(Duration.ofSeconds(5))
          .until(() -> GoTime.unixNanos(Instant.now()) > tick);
      assertThat(next.tryLockWithRetries(key, tick + Duration.ofMillis(500).toNanos()))
          .as("the next tick, tried as it begins")
          .isTrue();
    } finally {
      deleteQueue(key);
      deleteQueue(key + "-warm");
    }
  }

  /**
   * A lock whose RabbitMQ cannot be reached, giving up on connecting after 1 s (the publish
   * timeout) instead of 30 s.
   */
  private static AmqpLock unreachableLock(AmqpClient client) {
    return AmqpLock.builder(Config.DEFAULT)
        .client(client)
        .retries(1)
        .retryInterval(Duration.ZERO)
        .build();
  }

  private static AmqpClient unreachableClient() {
    return AmqpClient.builder(AmqpUrl.parseAll(UNREACHABLE, ","))
        .publishTimeout(Duration.ofSeconds(1))
        .build();
  }

  /**
   * The Lock SPI says tryLockWithRetries throws MachineryException when the store cannot be
   * reached: a false would read as "another server fired it".
   */
  @Test
  void anUnreachableStoreIsAFailedRunNotALockedOne() {
    try (AmqpClient client = unreachableClient();
        AmqpLock lock = unreachableLock(client)) {
      assertThatThrownBy(() -> lock.tryLockWithRetries("k", nanosFromNow(Duration.ofMinutes(1))))
          .as(
              "Lock.tryLockWithRetries: @throws MachineryException when the store cannot be reached")
          .isInstanceOf(MachineryException.class);
    }
  }

  /** The scheduler's outcome for a tick whose lock store cannot be reached. */
  @Test
  void theSchedulerReportsAnUnreachableLockStoreAsAFailure() {
    ManualClock clock = ManualClock.at(Instant.now().truncatedTo(ChronoUnit.MINUTES));
    try (AmqpClient client = unreachableClient();
        AmqpLock lock = unreachableLock(client);
        PeriodicScheduler scheduler =
            PeriodicScheduler.create(
                new NoSender(),
                lock,
                clock,
                PeriodicConfig.builder()
                    .programName("edge")
                    .zone(ZoneOffset.UTC)
                    .backgroundThread(false)
                    .build())) {
      scheduler.registerTask("* * * * *", "edge-" + UUID.randomUUID(), Signature.create("t"));
      clock.set(clock.instant().plus(Duration.ofMinutes(1)));
      List<PeriodicRun> runs = scheduler.runDue();
      assertThat(runs).extracting(PeriodicRun::outcome).containsExactly(Outcome.FAILED);
    }
  }

  private static void deleteQueue(String key) throws Exception {
    try (Connection connection =
            AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection();
        Channel channel = connection.createChannel()) {
      channel.queueDelete(AmqpLock.queue(key));
    }
  }

  private static final class NoSender implements PeriodicSender {
    @Override
    public Signature sendTask(Signature task) {
      return task;
    }

    @Override
    public List<Signature> sendGroup(Group group, int sendConcurrency) {
      return group.tasks();
    }

    @Override
    public void sendChain(Chain chain) {}

    @Override
    public void sendChord(Chord chord, int sendConcurrency) {}

    @Override
    public void sendDag(Dag dag) {}
  }
}
