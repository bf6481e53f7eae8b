package io.machinery.broker.redis;

import static org.awaitility.Awaitility.await;

import io.machinery.State;
import io.machinery.broker.redis.FailoverTraffic.Sent;
import io.machinery.client.redis.RedisSession;
import io.machinery.client.redis.testing.OwnSentinelGroup;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * With {@link RedisBroker.Builder#replicaAcks} a Sentinel failover loses no task whose send
 * returned: the traffic of {@link RedisSentinelFailoverIT} (a producer sending every 2 ms through
 * {@code SENTINEL FAILOVER}, a worker running the tasks), on a primary A, its replica B and one
 * Sentinel of this test's own, with every send waiting for B.
 *
 * <p>Without the setting, the tasks A acknowledged between B's promotion and the Sentinel's {@code
 * +switch-master} are lost (RedisSentinelFailoverIT measures them: a fraction of a second's worth).
 * With it, such a send fails instead (A has no replica once B is promoted), as do the sends on B
 * until the Sentinel has turned A into B's replica (about ten seconds): the price of asking for a
 * replica when the group has one. Every task whose send returned runs: it succeeds on the new
 * primary, or it ran on the old one before the switch (where its result may stay: the worker's own
 * writes do not wait for replicas).
 */
class RedisSentinelReplicaAcksIT {
  private static final Logger log = LoggerFactory.getLogger(RedisSentinelReplicaAcksIT.class);
  private static final String MASTER = "replica-acks-it";
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);
  private static final Duration ACK_TIMEOUT = Duration.ofMillis(300);

  /**
   * How long after the test saw {@code +switch-master} the sessions may still be on the old
   * primary.
   */
  private static final Duration SWITCH_SLACK = Duration.ofMillis(500);

  private OwnSentinelGroup group;

  @BeforeEach
  void startPrimaryReplicaAndSentinel() throws Exception {
    group = OwnSentinelGroup.start(MASTER, PATIENCE);
  }

  @AfterEach
  void stop() {
    if (group != null) {
      group.close();
    }
  }

  /**
   * For each task of {@code sent} that did not succeed on {@code redis}: its state, when its send
   * returned (ms after the switch), and the lists and sets of {@code redis} that hold its message.
   */
  private static List<String> whereabouts(
      RedisSession redis, List<Sent> sent, long switchedAt, FailoverTraffic traffic) {
    List<String> out = new ArrayList<>();
    List<String> keys = redis.await(redis.commands().keys("*"));
    for (Sent s : sent) {
      byte[] state = redis.await(redis.commands().get(s.uuid()));
      State now = state == null ? null : io.machinery.wire.WireCodec.decodeTaskState(state).state();
      if (now == State.SUCCESS) {
        continue;
      }
      List<String> holders = new ArrayList<>();
      for (String key : keys) {
        String type = redis.await(redis.commands().type(key));
        List<byte[]> members =
            switch (type) {
              case "list" -> redis.await(redis.commands().lrange(key, 0, -1));
              case "zset" -> redis.await(redis.commands().zrange(key, 0, -1));
              default -> List.of();
            };
        if (members.stream()
            .anyMatch(
                m -> new String(m, java.nio.charset.StandardCharsets.UTF_8).contains(s.uuid()))) {
          holders.add(key);
        }
      }
      out.add(
          s.uuid()
              + " "
              + now
              + " acked at "
              + (s.ackedAt() - switchedAt) / 1_000_000
              + " ms, held by "
              + holders
              + ", "
              + traffic.runsOf(s.uuid(), switchedAt));
    }
    return out;
  }

  /** The tasks of {@code sent} without a SUCCESS state on {@code redis}. */
  private static List<Sent> notSucceeded(RedisSession redis, List<Sent> sent) {
    List<Sent> out = new ArrayList<>();
    for (int from = 0; from < sent.size(); from += 500) {
      List<Sent> chunk = sent.subList(from, Math.min(sent.size(), from + 500));
      List<io.lettuce.core.KeyValue<String, byte[]>> states =
          redis.await(redis.commands().mget(chunk.stream().map(Sent::uuid).toArray(String[]::new)));
      for (int i = 0; i < chunk.size(); i++) {
        io.lettuce.core.KeyValue<String, byte[]> state = states.get(i);
        if (!state.hasValue()
            || io.machinery.wire.WireCodec.decodeTaskState(state.getValue()).state()
                != State.SUCCESS) {
          out.add(chunk.get(i));
        }
      }
    }
    return out;
  }

  @Test
  void noTaskWhoseSendReturnedIsLostInASentinelFailover() throws Exception {
    String url = group.sentinelUrl();
    Config config =
        Config.builder()
            .broker(url)
            .resultBackend(url)
            .defaultQueue("replica_acks_failover_tasks")
            .redis(RedisConfig.DEFAULT.withMasterName(MASTER).withReadTimeout(COMMAND_TIMEOUT))
            .build();
    try (RedisSession adminB =
            RedisSession.open(
                group.replica().url(),
                Config.builder()
                    .redis(RedisConfig.DEFAULT.withReadTimeout(COMMAND_TIMEOUT))
                    .build());
        FailoverTraffic traffic =
            FailoverTraffic.start(
                config, "replica-acks-failover", broker -> broker.replicaAcks(1, ACK_TIMEOUT))) {

      List<Sent> sent = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        sent.add(new Sent(traffic.send(), System.nanoTime()));
      }
      traffic.startProducer();
      long requestedAt;
      long switchedAt;
      try {
        await().atMost(PATIENCE).until(() -> traffic.acked().size() >= 100);
        requestedAt = System.nanoTime();
        group.requestFailover();
        switchedAt = group.awaitSwitch();
        // sends succeed again once A is B's replica; 200 of them after the switch
        await().atMost(PATIENCE).until(() -> traffic.ackedAfter(switchedAt) >= 200);
      } finally {
        traffic.stopProducer();
      }
      long stoppedAt = System.nanoTime();
      sent.addAll(traffic.acked());

      // Every task whose send returned succeeds on the new primary, except one that ran on the old
      // primary before the switch: its result may have stayed there (the worker's state writes do
      // not wait for replicas) while its acknowledgement, which Lettuce sends again on the new
      // connection when the switch cut its reply, removed its message from the new primary. That
      // task ran once; it is not lost.
      long settled = switchedAt + SWITCH_SLACK.toNanos();
      List<Sent> unaccounted = new ArrayList<>();
      try {
        await()
            .atMost(PATIENCE)
            .until(
                () -> {
                  unaccounted.clear();
                  for (Sent s : notSucceeded(adminB, sent)) {
                    if (!traffic.ranBefore(s.uuid(), settled)) {
                      unaccounted.add(s);
                    }
                  }
                  return unaccounted.isEmpty();
                });
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        throw new AssertionError(
            unaccounted.size()
                + " of "
                + sent.size()
                + " tasks whose send returned neither succeeded on the new primary nor ran before"
                + " the switch: "
                + whereabouts(adminB, unaccounted, switchedAt, traffic),
            e);
      }
      List<Sent> resultOnOldPrimary = notSucceeded(adminB, sent);
      log.info(
          "Sentinel failover with replica acknowledgement: {} sends returned, none lost ({} ran on"
              + " the old primary before the switch and have no SUCCESS on the new one: {}); {} the"
              + " failover was requested; +switch-master {} ms after the request; {} tasks ran"
              + " twice; send latency before the failover: {}; after the switch: {}",
          sent.size(),
          resultOnOldPrimary.size(),
          whereabouts(adminB, resultOnOldPrimary, switchedAt, traffic),
          traffic.failureSpan(requestedAt),
          (switchedAt - requestedAt) / 1_000_000,
          traffic.ranTwice().size(),
          traffic.sendLatencies(0, requestedAt),
          traffic.sendLatencies(switchedAt, stoppedAt));

      log.info(
          "The refusals: {}",
          traffic.sendErrors().stream().map(Throwable::getMessage).distinct().limit(4).toList());
      traffic.assertSendsFailedClearlyWithin(COMMAND_TIMEOUT.plusSeconds(1));
      traffic.assertRanTwiceOnlyIfTakenBefore(
          settled, "a worker took before it moved to the new primary");
      traffic.assertWorkerGoesOn(adminB, PATIENCE);
    }
  }
}
