package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
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
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
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
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A producer and a worker (Redis broker and backend) on a Redis Cluster of the test's own (three
 * primaries, each with a replica) go on through a {@code CLUSTER FAILOVER} of the primary that
 * holds the queue's slot. That failover is coordinated: the primary pauses writes until its replica
 * has caught up, then the replica takes over and the old primary answers {@code MOVED}. So no
 * acknowledged task may be lost, whenever it was sent.
 */
class RedisClusterFailoverIT {
  private static final Logger log = LoggerFactory.getLogger(RedisClusterFailoverIT.class);
  private static final String QUEUE = "cluster_failover_tasks";
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);

  @Test
  void aWorkerOnAClusterGoesOnThroughAFailoverOfItsQueuesPrimaryAndLosesNoTask() throws Exception {
    TestEndpoints.requireTool(
        Files.isExecutable(Path.of("/usr/bin/redis-cli")), "no redis-cli to create a cluster");
    List<OwnRedisServer> nodes = new ArrayList<>();
    RedisClient lettuce = RedisClient.create();
    try {
      for (int i = 0; i < 6; i++) {
        int port = OwnRedisServer.freePort();
        nodes.add(
            OwnRedisServer.start(
                Files.createTempDirectory("redis-cluster-failover-" + i),
                port,
                OwnRedisServer.plainArgs(
                    port,
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000")));
      }
      List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
      for (OwnRedisServer node : nodes) {
        create.add("127.0.0.1:" + node.port());
      }
      create.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
      run(create);
      await()
          .atMost(PATIENCE)
          .until(
              () ->
                  nodes.stream()
                      .allMatch(n -> clusterInfo(lettuce, n).contains("cluster_state:ok")));

      // the primary of the queue's slot and its replica
      String slotOwner;
      OwnRedisServer replica;
      try (StatefulRedisConnection<String, String> any =
          lettuce.connect(RedisURI.create("127.0.0.1", nodes.get(0).port()))) {
        long slot = any.sync().clusterKeyslot(QUEUE);
        String[] owner = null;
        List<String[]> lines = new ArrayList<>();
        for (String line : any.sync().clusterNodes().split("\n")) {
          String[] fields = line.trim().split(" ");
          lines.add(fields);
          if (fields[2].contains("master")) {
            for (int f = 8; f < fields.length; f++) {
              String[] range = fields[f].split("-");
              long from = Long.parseLong(range[0]);
              long to = range.length > 1 ? Long.parseLong(range[1]) : from;
              if (slot >= from && slot <= to) {
                owner = fields;
              }
            }
          }
        }
        assertThat(owner).as("the primary of slot %s", slot).isNotNull();
        slotOwner = owner[1];
        String ownerId = owner[0];
        String replicaAddress =
            lines.stream()
                .filter(f -> f[2].contains("slave") && f[3].equals(ownerId))
                .findFirst()
                .orElseThrow()[1];
        int replicaPort = Integer.parseInt(replicaAddress.split("[:@]")[1]);
        replica = nodes.stream().filter(n -> n.port() == replicaPort).findFirst().orElseThrow();
      }
      OwnRedisServer primary =
          nodes.stream()
              .filter(n -> slotOwner.startsWith("127.0.0.1:" + n.port() + "@"))
              .findFirst()
              .orElseThrow();

      String url =
          "redis://127.0.0.1:"
              + nodes.get(0).port()
              + ",127.0.0.1:"
              + nodes.get(1).port()
              + ",127.0.0.1:"
              + nodes.get(2).port();
      Config config =
          Config.builder()
              .broker(url)
              .resultBackend(url)
              .defaultQueue(QUEUE)
              .redis(RedisConfig.DEFAULT.withReadTimeout(COMMAND_TIMEOUT))
              .build();
      Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
      Map<String, Long> firstRunAt = new ConcurrentHashMap<>();
      Queue<Throwable> workerErrors = new ConcurrentLinkedQueue<>();
      try (RedisSession admin = RedisSession.open(url, config);
          StatefulRedisConnection<String, String> toReplica =
              lettuce.connect(RedisURI.create("127.0.0.1", replica.port()));
          StatefulRedisConnection<String, String> toPrimary =
              lettuce.connect(RedisURI.create("127.0.0.1", primary.port()));
          RedisBroker broker =
              RedisBroker.builder(config).leaseTimeout(Duration.ofSeconds(4)).build();
          RedisBackend backend = RedisBackend.create(config);
          Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
        server.registerTask(
            "work",
            TaskFunction.withContext(
                List.of(),
                false,
                (context, args) -> {
                  String uuid = context.signature().uuid();
                  firstRunAt.putIfAbsent(uuid, System.nanoTime());
                  runs.computeIfAbsent(uuid, u -> new AtomicInteger()).incrementAndGet();
                  LockSupport.parkNanos(Duration.ofMillis(2).toNanos());
                  return null;
                }));
        Worker worker =
            server
                .workerBuilder("cluster-failover")
                .concurrency(4)
                .errorHandler(workerErrors::add)
                .build();
        worker.launchAsync();

        List<String> sent = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
          sent.add(send(server));
        }
        await()
            .atMost(PATIENCE)
            .until(() -> FaultWork.states(admin, sent).getOrDefault(State.SUCCESS, 0) == 100);

        // a producer sends a task every 2 ms through the failover
        Queue<String> acked = new ConcurrentLinkedQueue<>();
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
                          acked.add(send(server));
                        } catch (MachineryException e) {
                          sendErrors.add(e);
                        }
                        longestSend.accumulateAndGet(System.nanoTime() - start, Math::max);
                        LockSupport.parkNanos(Duration.ofMillis(2).toNanos());
                      }
                    });
        long failedOverAt;
        try {
          await().atMost(PATIENCE).until(() -> acked.size() >= 100);
          assertThat(toReplica.sync().clusterFailover(false)).isEqualTo("OK");
          await()
              .atMost(PATIENCE)
              .pollInterval(Duration.ofMillis(5))
              .ignoreExceptions()
              .until(() -> "slave".equals(String.valueOf(toPrimary.sync().role().get(0))));
          failedOverAt = System.nanoTime();
          int ackedAtFailover = acked.size();
          // the producer goes on until 200 more of its tasks were acknowledged
          await().atMost(PATIENCE).until(() -> acked.size() >= ackedAtFailover + 200);
        } finally {
          stop.set(true);
          producer.join();
        }
        sent.addAll(acked);

        long start = System.nanoTime();
        await()
            .atMost(PATIENCE)
            .until(
                () -> FaultWork.states(admin, sent).getOrDefault(State.SUCCESS, 0) == sent.size());
        long duplicates = runs.values().stream().filter(n -> n.get() > 1).count();
        log.info(
            "Cluster failover: all {} tasks succeeded {} ms after the old primary turned replica;"
                + " {} tasks ran twice; {} of {} sends failed (longest send {} ms); worker"
                + " errors: {}",
            sent.size(),
            (System.nanoTime() - failedOverAt) / 1_000_000,
            duplicates,
            sendErrors.size(),
            sent.size() - 100 + sendErrors.size(),
            longestSend.get() / 1_000_000,
            workerErrors.stream().map(Throwable::toString).limit(3).toList());
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PATIENCE);
        assertThat(runs.entrySet())
            .as("tasks that ran twice: only those taken before the failover")
            .filteredOn(e -> e.getValue().get() > 1)
            .allMatch(e -> firstRunAt.get(e.getKey()) < failedOverAt);
        assertThat(sendErrors)
            .as("sends refused during the failover, each with a clear error")
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
            .until(() -> FaultWork.states(admin, later).getOrDefault(State.SUCCESS, 0) == 50);
        assertThat(worker.isRunning()).isTrue();
        worker.quit();
      }
    } finally {
      lettuce.shutdown();
      for (OwnRedisServer node : nodes) {
        node.close();
      }
    }
  }

  private static String send(Server server) {
    return server.sendTask(Signature.create("work")).signature().uuid();
  }

  private static String clusterInfo(RedisClient lettuce, OwnRedisServer node) {
    try (StatefulRedisConnection<String, String> c =
        lettuce.connect(RedisURI.create("127.0.0.1", node.port()))) {
      return c.sync().clusterInfo();
    }
  }

  private static void run(List<String> command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(String.join(" ", command) + ": " + output).isZero();
  }
}
