package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.OwnRedisServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
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

  /**
   * How long after the test's own subscriber saw {@code +switch-master} a send may still have been
   * acknowledged by A: the sessions' subscriber sees it at about the same time, and a reply to a
   * command A took before the drop may arrive a moment later.
   */
  private static final Duration SWITCH_SLACK = Duration.ofMillis(500);

  /** A sent task: its UUID and when its send returned (System.nanoTime). */
  private record Sent(String uuid, long ackedAt) {}

  private OwnRedisServer a;
  private OwnRedisServer b;
  private OwnRedisServer sentinel;
  private RedisClient lettuce;
  private StatefulRedisSentinelConnection<String, String> sentinelAdmin;
  private StatefulRedisPubSubConnection<String, String> events;

  /** When the test's own subscriber saw {@code +switch-master} (System.nanoTime), or 0. */
  private final AtomicLong switchSeenAt = new AtomicLong();

  /** A primary A, its replica B and a Sentinel that knows both; a subscription to its switches. */
  @BeforeEach
  void startPrimaryReplicaAndSentinel() throws Exception {
    int portA = OwnRedisServer.freePort();
    int portB = OwnRedisServer.freePort();
    int portS = OwnRedisServer.freePort();
    a =
        OwnRedisServer.start(
            Files.createTempDirectory("redis-sentinel-failover-a"),
            portA,
            OwnRedisServer.plainArgs(portA, "--appendonly", "no"));
    b =
        OwnRedisServer.start(
            Files.createTempDirectory("redis-sentinel-failover-b"),
            portB,
            OwnRedisServer.plainArgs(
                portB, "--appendonly", "no", "--replicaof", "127.0.0.1", "" + portA));
    Path sentinelDirectory = Files.createTempDirectory("redis-sentinel-failover-s");
    Files.writeString(
        sentinelDirectory.resolve("sentinel.conf"),
        "port "
            + portS
            + "\nbind 127.0.0.1\nsentinel monitor "
            + MASTER
            + " 127.0.0.1 "
            + portA
            + " 1\n");
    sentinel =
        OwnRedisServer.start(sentinelDirectory, portS, List.of("sentinel.conf", "--sentinel"));
    lettuce = RedisClient.create();
    sentinelAdmin = lettuce.connectSentinel(RedisURI.create("127.0.0.1", portS));
    // the Sentinel picks only a replica whose INFO it read in the last 5 s (every 10 s by default)
    sentinelAdmin
        .sync()
        .dispatch(
            io.lettuce.core.protocol.CommandType.SENTINEL,
            new io.lettuce.core.output.StatusOutput<>(io.lettuce.core.codec.StringCodec.UTF8),
            new io.lettuce.core.protocol.CommandArgs<>(io.lettuce.core.codec.StringCodec.UTF8)
                .add("DEBUG")
                .add("INFO-PERIOD")
                .add(500));
    await()
        .atMost(PATIENCE)
        .until(
            () ->
                sentinelAdmin.sync().replicas(MASTER).stream()
                    .anyMatch(
                        r ->
                            r.get("port").equals("" + portB)
                                && r.get("flags").equals("slave")
                                && "ok".equals(r.get("master-link-status"))));
    events = lettuce.connectPubSub(RedisURI.create("127.0.0.1", portS));
    events.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            if (message.startsWith(MASTER + " ")) {
              switchSeenAt.compareAndSet(0, System.nanoTime());
            }
          }
        });
    events.sync().subscribe("+switch-master");
  }

  @AfterEach
  void stop() {
    for (AutoCloseable c : new AutoCloseable[] {events, sentinelAdmin, sentinel, b, a}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // the rest still closes
      }
    }
    if (lettuce != null) {
      lettuce.shutdown();
    }
  }

  /** The worker's and the producer's settings: the Sentinel URL and its master name. */
  private Config config(String queue) {
    String url = "redis://127.0.0.1:" + sentinel.port();
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

  /** The task the tests send: counts its runs and when the first began. */
  private static TaskFunction work(Map<String, AtomicInteger> runs, Map<String, Long> firstRunAt) {
    return TaskFunction.withContext(
        List.of(),
        false,
        (context, args) -> {
          String uuid = context.signature().uuid();
          firstRunAt.putIfAbsent(uuid, System.nanoTime());
          runs.computeIfAbsent(uuid, u -> new AtomicInteger()).incrementAndGet();
          LockSupport.parkNanos(Duration.ofMillis(2).toNanos());
          return null;
        });
  }

  @Test
  void aWorkerOnTheSentinelUrlGoesOnThroughASentinelFailoverAndLosesNoAcknowledgedTask()
      throws Exception {
    Config config = config("sentinel_failover_tasks");
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    Map<String, Long> firstRunAt = new ConcurrentHashMap<>();
    Queue<Throwable> workerErrors = new ConcurrentLinkedQueue<>();
    try (RedisSession adminA = direct(a);
        RedisSession adminB = direct(b);
        StatefulRedisConnection<String, String> roleOfB =
            lettuce.connect(RedisURI.create("127.0.0.1", b.port()));
        // a short lease: messages the worker settled on the old primary after the promotion are
        // back in B's processing list, and the stray sweep (every half lease) returns them
        RedisBroker broker =
            RedisBroker.builder(config).leaseTimeout(Duration.ofSeconds(4)).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("work", work(runs, firstRunAt));
      Worker worker =
          server
              .workerBuilder("sentinel-failover")
              .concurrency(4)
              .errorHandler(workerErrors::add)
              .build();
      worker.launchAsync();

      // before: 100 tasks, run, and a sync point with the replica
      List<Sent> sent = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        sent.add(new Sent(send(server), System.nanoTime()));
      }
      await()
          .atMost(PATIENCE)
          .until(() -> FaultWork.states(adminA, uuids(sent)).getOrDefault(State.SUCCESS, 0) == 100);

      // during: a producer sends a task every 2 ms through the failover
      Queue<Sent> acked = new ConcurrentLinkedQueue<>();
      Queue<Throwable> sendErrors = new ConcurrentLinkedQueue<>();
      AtomicLong longestSend = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      Thread producer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    while (!stop.get()) {
                      long start = System.nanoTime();
                      try {
                        String uuid = send(server);
                        acked.add(new Sent(uuid, System.nanoTime()));
                      } catch (MachineryException e) {
                        sendErrors.add(e);
                      }
                      longestSend.accumulateAndGet(System.nanoTime() - start, Math::max);
                      LockSupport.parkNanos(Duration.ofMillis(2).toNanos());
                    }
                  });
      long promotedAt;
      long syncedAt;
      try {
        await().atMost(PATIENCE).until(() -> acked.size() >= 100);
        syncedAt = System.nanoTime();
        assertThat(adminA.await(adminA.commands().waitForReplication(1, 5_000)))
            .as("replicas that acknowledged every write so far")
            .isEqualTo(1);
        assertThat(sentinelAdmin.sync().failover(MASTER)).isEqualTo("OK");
        promotedAt = awaitPromotion(roleOfB);
        await().atMost(PATIENCE).until(() -> switchSeenAt.get() != 0);
        long settled = switchSeenAt.get() + SWITCH_SLACK.toNanos();
        // after: the producer goes on until 200 of its tasks were acknowledged after the switch
        await()
            .atMost(PATIENCE)
            .until(() -> acked.stream().filter(s -> s.ackedAt() > settled).count() >= 200);
      } finally {
        stop.set(true);
        producer.join();
      }
      long settled = switchSeenAt.get() + SWITCH_SLACK.toNanos();

      List<Sent> mustSucceed = new ArrayList<>(sent);
      List<Sent> atRisk = new ArrayList<>();
      for (Sent s : acked) {
        (s.ackedAt() < syncedAt || s.ackedAt() > settled ? mustSucceed : atRisk).add(s);
      }
      List<String> mustSucceedUuids = uuids(mustSucceed);
      try {
        await()
            .atMost(PATIENCE)
            .until(
                () ->
                    FaultWork.states(adminB, mustSucceedUuids).getOrDefault(State.SUCCESS, 0)
                        == mustSucceedUuids.size());
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        List<Sent> lost = lost(adminB, mustSucceed);
        throw new AssertionError(
            lost.size()
                + " of "
                + mustSucceed.size()
                + " tasks acknowledged outside the failover's window have not succeeded on the"
                + " new primary; they were acknowledged at (ms after the switch) "
                + lost.stream()
                    .map(s -> (s.ackedAt() - switchSeenAt.get()) / 1_000_000)
                    .limit(20)
                    .toList(),
            e);
      }
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
                                || io.machinery.wire.WireCodec.decodeTaskState(state).state()
                                    == State.SUCCESS;
                          }));
      List<Sent> lostInWindow = lost(adminB, atRisk);
      long duplicates = runs.values().stream().filter(n -> n.get() > 1).count();
      log.info(
          "Sentinel failover: B promoted {} ms after the sync point, +switch-master seen {} ms"
              + " after the promotion; {} tasks acknowledged in the window, {} of them lost; {}"
              + " tasks ran twice; {} sends failed (longest send {} ms); worker errors: {}",
          (promotedAt - syncedAt) / 1_000_000,
          (switchSeenAt.get() - promotedAt) / 1_000_000,
          atRisk.size(),
          lostInWindow.size(),
          duplicates,
          sendErrors.size(),
          longestSend.get() / 1_000_000,
          workerErrors.stream().map(Throwable::toString).limit(3).toList());

      assertThat(lostInWindow)
          .as("tasks lost, all acknowledged between the sync point and the switch")
          .allMatch(s -> s.ackedAt() >= syncedAt && s.ackedAt() <= settled);
      assertThat(runs.entrySet())
          .as("tasks that ran twice: only those a worker took before it moved to the new primary")
          .filteredOn(e -> e.getValue().get() > 1)
          .allMatch(e -> firstRunAt.get(e.getKey()) < settled);
      assertThat(sendErrors)
          .as("sends refused during the switch, each with a clear error")
          .allSatisfy(e -> assertThat(e).hasMessageContaining("Redis"));
      assertThat(Duration.ofNanos(longestSend.get()))
          .as("the longest send, refused or not")
          .isLessThan(COMMAND_TIMEOUT.plusSeconds(1));

      // the worker goes on: tasks sent now run on the new primary
      List<String> later = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        later.add(send(server));
      }
      await()
          .atMost(PATIENCE)
          .until(() -> FaultWork.states(adminB, later).getOrDefault(State.SUCCESS, 0) == 50);
      assertThat(worker.isRunning()).isTrue();
      worker.quit();
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
    sentinelAdmin.sync().set(MASTER, "down-after-milliseconds", "1000");
    Config config = config("sentinel_crash_tasks");
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    Map<String, Long> firstRunAt = new ConcurrentHashMap<>();
    Queue<Throwable> workerErrors = new ConcurrentLinkedQueue<>();
    try (RedisSession adminB = direct(b);
        RedisBroker broker =
            RedisBroker.builder(config).leaseTimeout(Duration.ofSeconds(4)).build();
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("work", work(runs, firstRunAt));
      Worker worker =
          server
              .workerBuilder("sentinel-crash")
              .concurrency(4)
              .errorHandler(workerErrors::add)
              .build();
      worker.launchAsync();

      Queue<Sent> acked = new ConcurrentLinkedQueue<>();
      Queue<Throwable> sendErrors = new ConcurrentLinkedQueue<>();
      AtomicLong longestSend = new AtomicLong();
      AtomicBoolean stop = new AtomicBoolean();
      Thread producer =
          Thread.ofVirtual()
              .start(
                  () -> {
                    while (!stop.get()) {
                      long start = System.nanoTime();
                      try {
                        String uuid = send(server);
                        acked.add(new Sent(uuid, System.nanoTime()));
                      } catch (MachineryException e) {
                        sendErrors.add(e);
                      }
                      longestSend.accumulateAndGet(System.nanoTime() - start, Math::max);
                      LockSupport.parkNanos(Duration.ofMillis(2).toNanos());
                    }
                  });
      long diedAt;
      try {
        await().atMost(PATIENCE).until(() -> acked.size() >= 100);
        a.close();
        diedAt = System.nanoTime();
        await().atMost(PATIENCE).until(() -> switchSeenAt.get() != 0);
        await()
            .atMost(PATIENCE)
            .until(
                () -> acked.stream().filter(s -> s.ackedAt() > switchSeenAt.get()).count() >= 200);
      } finally {
        stop.set(true);
        producer.join();
      }
      long firstAckAfter =
          acked.stream().mapToLong(Sent::ackedAt).filter(t -> t > diedAt).min().orElseThrow();
      List<Sent> all = new ArrayList<>(acked);
      List<String> uuids = uuids(all);
      try {
        await()
            .atMost(PATIENCE)
            .until(
                () ->
                    FaultWork.states(adminB, uuids).getOrDefault(State.SUCCESS, 0) == uuids.size());
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        throw new AssertionError(
            lost(adminB, all).size() + " of " + all.size() + " acknowledged tasks were lost", e);
      }
      log.info(
          "Primary died: +switch-master {} ms later, the first send after {} ms; {} sends failed"
              + " (longest send {} ms); {} tasks ran twice; worker errors: {}",
          (switchSeenAt.get() - diedAt) / 1_000_000,
          (firstAckAfter - diedAt) / 1_000_000,
          sendErrors.size(),
          longestSend.get() / 1_000_000,
          runs.values().stream().filter(n -> n.get() > 1).count(),
          workerErrors.stream().map(Throwable::toString).limit(3).toList());
      assertThat(sendErrors)
          .as("sends refused while no primary answered, each with a clear error")
          .allSatisfy(e -> assertThat(e).hasMessageContaining("Redis"));
      assertThat(Duration.ofNanos(longestSend.get()))
          .as("the longest send, refused or not")
          .isLessThan(COMMAND_TIMEOUT.plusSeconds(1));
      assertThat(runs.entrySet())
          .as("tasks that ran twice: only those running when the primary died")
          .filteredOn(e -> e.getValue().get() > 1)
          .allMatch(e -> firstRunAt.get(e.getKey()) < diedAt);
      assertThat(worker.isRunning()).isTrue();
      worker.quit();
    }
  }

  private static String send(Server server) {
    return server.sendTask(Signature.create("work")).signature().uuid();
  }

  private static List<String> uuids(List<Sent> sent) {
    return sent.stream().map(Sent::uuid).toList();
  }

  /** The tasks of {@code sent} whose state on the new primary is not SUCCESS. */
  private static List<Sent> lost(RedisSession newPrimary, List<Sent> sent) {
    List<Sent> lost = new ArrayList<>();
    for (Sent s : sent) {
      byte[] state = newPrimary.await(newPrimary.commands().get(s.uuid()));
      if (state == null
          || io.machinery.wire.WireCodec.decodeTaskState(state).state() != State.SUCCESS) {
        lost.add(s);
      }
    }
    return lost;
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
}
