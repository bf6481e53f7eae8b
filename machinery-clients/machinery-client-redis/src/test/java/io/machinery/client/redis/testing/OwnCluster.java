package io.machinery.client.redis.testing;

import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A Redis Cluster of a test's own, for failover tests: six {@link OwnRedisServer}s, three primaries
 * each with a replica, made by {@code redis-cli --cluster create} (the test fails under {@code
 * CI=true}, and is skipped elsewhere, without {@code /usr/bin/redis-cli}).
 *
 * <p>{@link #start} returns once every node reports {@code cluster_state:ok} and knows all three
 * replicas; {@link #failOver} runs a {@code CLUSTER FAILOVER} of the primary holding a key, the
 * coordinated kind: the primary pauses writes until its replica has caught up, the replica takes
 * over, and the old primary then answers {@code MOVED} for the key.
 *
 * <p>Not thread-safe. {@link #close()} stops the nodes.
 */
public final class OwnCluster implements AutoCloseable {
  private static final int NODES = 6;

  private final Duration patience;
  private final List<OwnRedisServer> nodes = new ArrayList<>();
  private final RedisClient lettuce = RedisClient.create();

  private OwnCluster(Duration patience) {
    this.patience = patience;
  }

  /**
   * Starts six nodes, makes them a cluster of three primaries with a replica each, and waits (at
   * most {@code patience}) until every node sees it whole.
   *
   * @param patience how long this cluster waits for its nodes, here and in {@link #failOver}
   * @throws IOException when a node's directory cannot be made
   * @throws InterruptedException when interrupted while {@code redis-cli} runs
   */
  public static OwnCluster start(Duration patience) throws IOException, InterruptedException {
    TestEndpoints.requireTool(
        Files.isExecutable(Path.of("/usr/bin/redis-cli")), "no redis-cli to create a cluster");
    OwnCluster cluster = new OwnCluster(patience);
    try {
      cluster.create();
      return cluster;
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      cluster.close();
      throw e;
    }
  }

  private void create() throws IOException, InterruptedException {
    for (int i = 0; i < NODES; i++) {
      int port = OwnRedisServer.freePort();
      nodes.add(
          OwnRedisServer.start(
              Files.createTempDirectory("redis-cluster-" + i),
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
    List<String> command = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
    for (OwnRedisServer node : nodes) {
      command.add("127.0.0.1:" + node.port());
    }
    command.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new AssertionError(String.join(" ", command) + ": " + output);
    }
    // "ok" comes before every node heard of every replica
    await()
        .atMost(patience)
        .until(
            () ->
                nodes.stream()
                    .allMatch(
                        n ->
                            clusterInfo(n).contains("cluster_state:ok")
                                && clusterNodes(n).lines().filter(l -> l.contains("slave")).count()
                                    == NODES / 2));
  }

  /** The nodes, in the order they were started. */
  public List<OwnRedisServer> nodes() {
    return List.copyOf(nodes);
  }

  /** A URL with the first three nodes as seeds. */
  public String url() {
    return "redis://127.0.0.1:"
        + nodes.get(0).port()
        + ",127.0.0.1:"
        + nodes.get(1).port()
        + ",127.0.0.1:"
        + nodes.get(2).port();
  }

  /** The primary that holds {@code key}'s slot now, as the first node sees it. */
  public OwnRedisServer primaryOf(String key) {
    return node(ownerLine(key)[1]);
  }

  /** The replica of the primary that holds {@code key}'s slot now, as the first node sees it. */
  public OwnRedisServer replicaOf(String key) {
    String ownerId = ownerLine(key)[0];
    return node(
        nodeLines().stream()
            .filter(f -> f[2].contains("slave") && f[3].equals(ownerId))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no replica of node " + ownerId))[1]);
  }

  /**
   * Has the replica of {@code key}'s primary take over ({@code CLUSTER FAILOVER}), and waits until
   * the old primary reports itself a replica (the other nodes may learn of it a moment later).
   *
   * @return the new primary of {@code key}'s slot
   */
  public OwnRedisServer failOver(String key) {
    OwnRedisServer primary = primaryOf(key);
    OwnRedisServer replica = replicaOf(key);
    try (StatefulRedisConnection<String, String> toReplica = connect(replica);
        StatefulRedisConnection<String, String> toPrimary = connect(primary)) {
      String reply = toReplica.sync().clusterFailover(false);
      if (!"OK".equals(reply)) {
        throw new AssertionError("CLUSTER FAILOVER answered " + reply);
      }
      await()
          .atMost(patience)
          .pollInterval(Duration.ofMillis(5))
          .ignoreExceptions()
          .until(() -> "slave".equals(String.valueOf(toPrimary.sync().role().get(0))));
    }
    return replica;
  }

  /** A new plain Lettuce connection to one node; the caller closes it. */
  public StatefulRedisConnection<String, String> connect(OwnRedisServer node) {
    return lettuce.connect(RedisURI.create("127.0.0.1", node.port()));
  }

  /** Stops the nodes. */
  @Override
  public void close() {
    lettuce.shutdown();
    for (OwnRedisServer node : nodes) {
      node.close();
    }
  }

  private String clusterInfo(OwnRedisServer node) {
    try (StatefulRedisConnection<String, String> c = connect(node)) {
      return c.sync().clusterInfo();
    }
  }

  private String clusterNodes(OwnRedisServer node) {
    try (StatefulRedisConnection<String, String> c = connect(node)) {
      return c.sync().clusterNodes();
    }
  }

  /** The first node's {@code CLUSTER NODES}, each line split into its fields. */
  private List<String[]> nodeLines() {
    return clusterNodes(nodes.get(0)).lines().map(line -> line.trim().split(" ")).toList();
  }

  /** The {@code CLUSTER NODES} fields of the primary holding {@code key}'s slot. */
  private String[] ownerLine(String key) {
    long slot;
    try (StatefulRedisConnection<String, String> any = connect(nodes.get(0))) {
      slot = any.sync().clusterKeyslot(key);
    }
    for (String[] fields : nodeLines()) {
      if (fields[2].contains("master")) {
        for (int f = 8; f < fields.length; f++) {
          String[] range = fields[f].split("-");
          long from = Long.parseLong(range[0]);
          long to = range.length > 1 ? Long.parseLong(range[1]) : from;
          if (slot >= from && slot <= to) {
            return fields;
          }
        }
      }
    }
    throw new AssertionError("no primary holds slot " + slot);
  }

  /** The node listening at a {@code CLUSTER NODES} address, {@code 127.0.0.1:port@busport}. */
  private OwnRedisServer node(String address) {
    int port = Integer.parseInt(address.split("[:@]")[1]);
    return nodes.stream()
        .filter(n -> n.port() == port)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no node at " + address));
  }
}
