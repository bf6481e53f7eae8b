package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.KeyValue;
import io.lettuce.core.api.StatefulRedisConnection;
import io.machinery.State;
import io.machinery.broker.redis.FailoverTraffic.Sent;
import io.machinery.client.redis.RedisSession;
import io.machinery.client.redis.testing.OwnSentinelGroup;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A producer and a worker (Redis broker and backend) on a Sentinel URL go on through {@code
 * SENTINEL FAILOVER}, and after their primary died: a primary A, its replica B and one Sentinel,
 * all of this test's own.
 *
 * <p>What a Sentinel failover guarantees, and what this test holds the library to. {@code SENTINEL
 * FAILOVER} is not Redis' coordinated {@code FAILOVER}: the Sentinel promotes B ({@code REPLICAOF
 * NO ONE}) without pausing A, and demotes A only about ten seconds after it announced the new
 * primary ({@code +switch-master}). A write A acknowledges after B's promotion never reaches B and
 * is dropped when A resynchronises from B. So:
 *
 * <ul>
 *   <li>a task whose send returned before the replica had caught up (here: before a {@code WAIT 1}
 *       that returned before the failover was requested) is never lost;
 *   <li>a task whose send returned after the sessions learned of the switch (the Sentinel's {@code
 *       +switch-master}, which the sessions subscribe to) is never lost;
 *   <li>a task acknowledged by A in between (the replica's last sync to the switch, measured and
 *       logged here: a fraction of a second, the time the Sentinel takes to see B's promotion) may
 *       be lost, as with go-redis' failover client.
 * </ul>
 *
 * Before, the sessions stayed on A until the Sentinel demoted it and killed its clients, so every
 * task sent in those ten seconds was acknowledged and then lost. When A dies instead, nothing it
 * acknowledged is lost (its shutdown waits for the replica) and the sessions reconnect to B as soon
 * as the Sentinel names it.
 */
class RedisSentinelFailoverIT {
  private static final Logger log = LoggerFactory.getLogger(RedisSentinelFailoverIT.class);
  private static final String MASTER = "failover-it";
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);

  /** How long a send waits for the replica with {@link RedisBroker.Builder#replicaAcks}. */
  private static final Duration ACK_TIMEOUT = Duration.ofMillis(300);

  /**
   * How long after the test's own subscriber saw {@code +switch-master} a send may still have been
   * acknowledged by A: the sessions' subscriber sees it at about the same time, and a reply to a
   * command A took before the drop may arrive a moment later.
   */
  private static final Duration SWITCH_SLACK = Duration.ofMillis(500);

  private OwnSentinelGroup group;

  /** A primary A, its replica B and a Sentinel that knows both; a subscription to its switches. */
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

  /** The worker's and the producer's settings: the Sentinel URL and its master name. */
  private Config config(String queue) {
    String url = group.sentinelUrl();
    return Config.builder()
        .broker(url)
        .resultBackend(url)
        .defaultQueue(queue)
        .redis(RedisConfig.DEFAULT.withMasterName(MASTER).withReadTimeout(COMMAND_TIMEOUT))
        .build();
  }

  /** A connection to one server, not through the Sentinel. */
  private static RedisSession direct(OwnRedisServer server) {
    return RedisSession.open(
        server.url(),
        Config.builder().redis(RedisConfig.DEFAULT.withReadTimeout(COMMAND_TIMEOUT)).build());
  }

  @Test
  void aWorkerOnTheSentinelUrlGoesOnThroughASentinelFailoverAndLosesNoAcknowledgedTask()
      throws Exception {
    Config config = config("sentinel_failover_tasks");
    try (RedisSession adminA = direct(group.primary());
        RedisSession adminB = direct(group.replica());
        StatefulRedisConnection<String, String> roleOfB = group.connect(group.replica());
        FailoverTraffic traffic = FailoverTraffic.start(config, "sentinel-failover")) {

      // before: 100 tasks, run, and a sync point with the replica
      List<Sent> sent = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        sent.add(new Sent(traffic.send(), System.nanoTime()));
      }
      await()
          .atMost(PATIENCE)
          .until(
              () ->
                  FaultWork.states(adminA, FailoverTraffic.uuids(sent))
                          .getOrDefault(State.SUCCESS, 0)
                      == 100);

      // during: a producer sends a task every 2 ms through the failover
      traffic.startProducer();
      long promotedAt;
      long syncedAt;
      try {
        await().atMost(PATIENCE).until(() -> traffic.acked().size() >= 100);
        syncedAt = System.nanoTime();
        assertThat(adminA.await(adminA.commands().waitForReplication(1, 5_000)))
            .as("replicas that acknowledged every write so far")
            .isEqualTo(1);
        group.requestFailover();
        promotedAt = awaitPromotion(roleOfB);
        long settled = group.awaitSwitch() + SWITCH_SLACK.toNanos();
        // after: the producer goes on until 200 of its tasks were acknowledged after the switch
        await().atMost(PATIENCE).until(() -> traffic.ackedAfter(settled) >= 200);
      } finally {
        traffic.stopProducer();
      }
      long settled = group.switchSeenAt() + SWITCH_SLACK.toNanos();

      List<Sent> mustSucceed = new ArrayList<>(sent);
      List<Sent> atRisk = new ArrayList<>();
      for (Sent s : traffic.acked()) {
        (s.ackedAt() < syncedAt || s.ackedAt() > settled ? mustSucceed : atRisk).add(s);
      }
      awaitSucceeded(
          adminB,
          mustSucceed,
          lost ->
              lost.size()
                  + " of "
                  + mustSucceed.size()
                  + " tasks acknowledged outside the failover's window have not succeeded on the"
                  + " new primary; they were acknowledged at (ms after the switch) "
                  + lost.stream()
                      .map(s -> (s.ackedAt() - group.switchSeenAt()) / 1_000_000)
                      .limit(20)
                      .toList());
      // the tasks acknowledged by A in the window that reached B succeed too, once the worker
      // drained B's queue; the others are the measured loss
      await()
          .atMost(PATIENCE)
          .until(
              () ->
                  atRisk.stream()
                      .allMatch(
                          s -> {
                            byte[] state = adminB.await(adminB.commands().get(s.uuid()));
                            return state == null
                                || WireCodec.decodeTaskState(state).state() == State.SUCCESS;
                          }));
      List<Sent> lostInWindow = notSucceeded(adminB, atRisk);
      log.info(
          "Sentinel failover: B promoted {} ms after the sync point, +switch-master seen {} ms"
              + " after the promotion; {} tasks acknowledged in the window, {} of them lost; {}"
              + " tasks ran twice; {} sends failed (longest send {} ms); worker errors: {}; send"
              + " latency before the failover (no replica acknowledgement): {}",
          (promotedAt - syncedAt) / 1_000_000,
          (group.switchSeenAt() - promotedAt) / 1_000_000,
          atRisk.size(),
          lostInWindow.size(),
          traffic.ranTwice().size(),
          traffic.sendErrors().size(),
          traffic.longestSend().toMillis(),
          traffic.workerErrors().stream().map(Throwable::toString).limit(3).toList(),
          traffic.sendLatencies(0, syncedAt));

      assertThat(lostInWindow)
          .as("tasks lost, all acknowledged between the sync point and the switch")
          .allMatch(s -> s.ackedAt() >= syncedAt && s.ackedAt() <= settled);
      traffic.assertRanTwiceOnlyIfTakenBefore(
          settled, "a worker took before it moved to the new primary");
      traffic.assertSendsFailedClearlyWithin(COMMAND_TIMEOUT.plusSeconds(1));

      // the worker goes on: tasks sent now run on the new primary
      traffic.assertWorkerGoesOn(adminB, PATIENCE);
    }
  }

  /**
   * The primary dies (SIGTERM, after its replica caught up: Redis' shutdown waits for it): the
   * Sentinel sees it down within a second and promotes B, and the producer and the worker go on
   * there by themselves. Nothing the dead primary acknowledged is lost; a send while no primary
   * answers fails within its timeout, with a clear error.
   */
  @Test
  void aWorkerOnTheSentinelUrlGoesOnAfterThePrimaryDies() throws Exception {
    group.admin().sync().set(MASTER, "down-after-milliseconds", "1000");
    Config config = config("sentinel_crash_tasks");
    try (RedisSession adminB = direct(group.replica());
        FailoverTraffic traffic = FailoverTraffic.start(config, "sentinel-crash")) {

      traffic.startProducer();
      long diedAt;
      try {
        await().atMost(PATIENCE).until(() -> traffic.acked().size() >= 100);
        group.primary().close();
        diedAt = System.nanoTime();
        long switchSeenAt = group.awaitSwitch();
        await().atMost(PATIENCE).until(() -> traffic.ackedAfter(switchSeenAt) >= 200);
      } finally {
        traffic.stopProducer();
      }
      long firstAckAfter =
          traffic.acked().stream()
              .mapToLong(Sent::ackedAt)
              .filter(t -> t > diedAt)
              .min()
              .orElseThrow();
      List<Sent> all = new ArrayList<>(traffic.acked());
      awaitSucceeded(
          adminB, all, lost -> lost.size() + " of " + all.size() + " acknowledged tasks were lost");
      log.info(
          "Primary died: +switch-master {} ms later, the first send after {} ms; {} sends failed"
              + " (longest send {} ms); {} tasks ran twice; worker errors: {}",
          (group.switchSeenAt() - diedAt) / 1_000_000,
          (firstAckAfter - diedAt) / 1_000_000,
          traffic.sendErrors().size(),
          traffic.longestSend().toMillis(),
          traffic.ranTwice().size(),
          traffic.workerErrors().stream().map(Throwable::toString).limit(3).toList());
      traffic.assertSendsFailedClearlyWithin(COMMAND_TIMEOUT.plusSeconds(1));
      traffic.assertRanTwiceOnlyIfTakenBefore(diedAt, "taken before the primary died");
      assertThat(traffic.worker().isRunning()).isTrue();
      traffic.worker().quit();
    }
  }

  /**
   * Waits until every task of {@code sent} succeeded on the new primary; else fails with what
   * {@code describeLost} says of those that did not.
   */
  private static void awaitSucceeded(
      RedisSession newPrimary, List<Sent> sent, Function<List<Sent>, String> describeLost) {
    List<String> uuids = FailoverTraffic.uuids(sent);
    try {
      await()
          .atMost(PATIENCE)
          .until(
              () ->
                  FaultWork.states(newPrimary, uuids).getOrDefault(State.SUCCESS, 0)
                      == uuids.size());
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new AssertionError(describeLost.apply(notSucceeded(newPrimary, sent)), e);
    }
  }

  /** Polls B's role until it is a primary; when that was seen (System.nanoTime). */
  private static long awaitPromotion(StatefulRedisConnection<String, String> roleOfB) {
    await()
        .atMost(PATIENCE)
        .pollInterval(Duration.ofMillis(1))
        .ignoreExceptions() // the promotion kills B's clients; Lettuce reconnects
        .until(() -> "master".equals(String.valueOf(roleOfB.sync().role().get(0))));
    return System.nanoTime();
  }

  /**
   * With {@link RedisBroker.Builder#replicaAcks} a Sentinel failover loses no task whose send
   * returned: the traffic of the first test (a producer sending every 2 ms through {@code SENTINEL
   * FAILOVER}, a worker running the tasks), on a primary A, its replica B and one Sentinel of this
   * test's own, with every send waiting for B.
   *
   * <p>Without the setting, the tasks A acknowledged between B's promotion and the Sentinel's
   * {@code +switch-master} are lost (the first test measures them: a fraction of a second's worth).
   * With it, such a send fails instead (A has no replica once B is promoted), as do the sends on B
   * until the Sentinel has turned A into B's replica (about ten seconds): the price of asking for a
   * replica when the group has one. Every task whose send returned runs: it succeeds on the new
   * primary, or it ran on the old one before the switch (where its result may stay: the worker's
   * own writes do not wait for replicas).
   */
  @Test
  void withReplicaAcksNoTaskWhoseSendReturnedIsLostInASentinelFailover() throws Exception {
    Config config = config("replica_acks_failover_tasks");
    try (RedisSession adminB = direct(group.replica());
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
      State now = state == null ? null : WireCodec.decodeTaskState(state).state();
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
            .anyMatch(m -> new String(m, StandardCharsets.UTF_8).contains(s.uuid()))) {
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
      List<KeyValue<String, byte[]>> states =
          redis.await(redis.commands().mget(chunk.stream().map(Sent::uuid).toArray(String[]::new)));
      for (int i = 0; i < chunk.size(); i++) {
        KeyValue<String, byte[]> state = states.get(i);
        if (!state.hasValue()
            || WireCodec.decodeTaskState(state.getValue()).state() != State.SUCCESS) {
          out.add(chunk.get(i));
        }
      }
    }
    return out;
  }
}
