package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.State;
import io.machinery.client.redis.RedisSession;
import io.machinery.client.redis.testing.OwnCluster;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A producer and a worker (Redis broker and backend) on a Redis Cluster of the test's own (three
 * primaries, each with a replica) go on through a {@code CLUSTER FAILOVER} of the primary that
 * holds the queue's slot. That failover is coordinated: the primary pauses writes until its replica
 * has caught up, then the replica takes over and the old primary answers {@code MOVED}. So no
 * acknowledged task may be lost, whenever it was sent, and the worker reports no error: its
 * blocking move, which the failover ends on the old primary ({@code MOVED} or {@code UNBLOCKED}),
 * goes on on the new one.
 */
class RedisClusterFailoverIT {
  private static final Logger log = LoggerFactory.getLogger(RedisClusterFailoverIT.class);
  private static final String QUEUE = "cluster_failover_tasks";
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);

  @Test
  void aWorkerOnAClusterGoesOnThroughAFailoverOfItsQueuesPrimaryAndLosesNoTask() throws Exception {
    try (OwnCluster cluster = OwnCluster.start(PATIENCE)) {
      String url = cluster.url();
      Config config =
          Config.builder()
              .broker(url)
              .resultBackend(url)
              .defaultQueue(QUEUE)
              .redis(RedisConfig.DEFAULT.withReadTimeout(COMMAND_TIMEOUT))
              .build();
      try (RedisSession admin = RedisSession.open(url, config);
          FailoverTraffic traffic = FailoverTraffic.start(config, "cluster-failover")) {
        List<String> sent = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          sent.add(traffic.send());
        }
        await()
            .atMost(PATIENCE)
            .until(() -> FaultWork.states(admin, sent).getOrDefault(State.SUCCESS, 0) == 100);

        // a producer sends a task every 2 ms through the failover
        traffic.startProducer();
        long failedOverAt;
        try {
          await().atMost(PATIENCE).until(() -> traffic.acked().size() >= 100);
          cluster.failOver(QUEUE);
          failedOverAt = System.nanoTime();
          int ackedAtFailover = traffic.acked().size();
          // the producer goes on until 200 more of its tasks were acknowledged
          await().atMost(PATIENCE).until(() -> traffic.acked().size() >= ackedAtFailover + 200);
        } finally {
          traffic.stopProducer();
        }
        sent.addAll(FailoverTraffic.uuids(traffic.acked()));

        long start = System.nanoTime();
        await()
            .atMost(PATIENCE)
            .until(
                () -> FaultWork.states(admin, sent).getOrDefault(State.SUCCESS, 0) == sent.size());
        log.info(
            "Cluster failover: all {} tasks succeeded {} ms after the old primary turned replica;"
                + " {} tasks ran twice; {} of {} sends failed (longest send {} ms); worker"
                + " errors: {}",
            sent.size(),
            (System.nanoTime() - failedOverAt) / 1_000_000,
            traffic.ranTwice().size(),
            traffic.sendErrors().size(),
            sent.size() - 100 + traffic.sendErrors().size(),
            traffic.longestSend().toMillis(),
            traffic.workerErrors().stream().map(Throwable::toString).limit(3).toList());
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PATIENCE);
        traffic.assertRanTwiceOnlyIfTakenBefore(failedOverAt, "taken before the failover");
        traffic.assertSendsFailedClearlyWithin(COMMAND_TIMEOUT.plusSeconds(1));
        assertThat(traffic.workerErrors())
            .as("errors the worker reported: a routine failover is none")
            .isEmpty();

        // the worker goes on: tasks sent now run on the new primary
        traffic.assertWorkerGoesOn(admin, PATIENCE);
      }
    }
  }
}
