package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.outbox.jdbc.OutboxRelay;
import io.machinery.outbox.jdbc.TaskOutbox;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import io.machinery.testkit.TestEndpoints;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The JDBC outbox ({@code machinery-outbox-jdbc}) leaves Go workers unaffected: tasks, a group, a
 * chord and a chain written in a PostgreSQL transaction are published to Redis by an {@link
 * OutboxRelay} and run by a worker of the real Go Machinery v2 ({@code machinery-interop worker}),
 * which stores results Java reads; a rolled-back transaction gives the Go worker nothing. No Java
 * worker consumes the queue, so every result was stored by Go.
 */
@Timeout(120)
class RedisOutboxInteropIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private InteropQueue queues;
  private PGSimpleDataSource dataSource;
  private String table = "";

  @BeforeAll
  static void buildHarness() {
    GoHarness.binary(); // build (or skip/fail) before touching any server
  }

  @BeforeEach
  void setUp() throws SQLException {
    queues = InteropQueue.create(Pair.REDIS_REDIS, "outbox");
    dataSource = new PGSimpleDataSource();
    dataSource.setURL(TestEndpoints.postgresUrl());
    table = "outbox_interop_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table);
    }
    queues.close();
  }

  private Server javaServer() {
    Broker broker = Pair.REDIS_REDIS.createBroker(queues.javaConfig());
    Backend backend = Pair.REDIS_REDIS.createBackend(queues.javaConfig());
    Server server =
        Server.builder().config(queues.javaConfig()).broker(broker).backend(backend).build();
    closeables.add(0, broker);
    closeables.add(0, backend);
    closeables.add(0, server);
    return server;
  }

  private long rows() throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static Signature add(long a, long b) {
    return Signature.create("add", Arg.of(a), Arg.of(b));
  }

  @Test
  void whatTheRelayPublishesFromCommittedRowsGoWorkersRun() throws Exception {
    Server server = javaServer();
    TaskOutbox outbox = TaskOutbox.builder(server).table(table).senderId("interop").build();
    try (Connection c = dataSource.getConnection()) {
      outbox.createTable(c);
    }
    Signature rolledBack = add(100, 1);
    assertThatThrownBy(
            () ->
                outbox.inTransaction(
                    dataSource,
                    c -> {
                      outbox.sendTask(c, rolledBack);
                      throw new SQLException("the caller's own statement failed");
                    }))
        .hasMessage("the caller's own statement failed");

    Group group = Group.of(add(1, 1), add(2, 2), add(5, 6));
    Chord chord = Chord.of(Group.of(add(1, 1), add(2, 2), add(5, 6)), Signature.create("multiply"));
    Chain chain = Chain.of(add(2, 2), add(5, 6), Signature.create("multiply", Arg.of(4L)));
    AtomicReference<AsyncResult> chordResult = new AtomicReference<>();
    AtomicReference<List<AsyncResult>> chainResults = new AtomicReference<>();
    AtomicReference<List<AsyncResult>> groupResults = new AtomicReference<>();
    AsyncResult single =
        outbox.inTransaction(
            dataSource,
            c -> {
              groupResults.set(outbox.sendGroup(c, group));
              chordResult.set(outbox.sendChord(c, chord));
              chainResults.set(outbox.sendChain(c, chain));
              return outbox.sendTask(c, add(40, 2));
            });
    assertThat(rows()).as("group: meta + 3, chord: meta + 3, chain: 1, task: 1").isEqualTo(10);

    GoHarness.GoWorker go =
        GoHarness.startWorker(
            GoSendsJavaWorksSuite.concat(
                queues.goArgs(), "-concurrency", "4", "-tag", "interop-go-outbox"));
    closeables.add(0, go);
    OutboxRelay relay =
        OutboxRelay.builder(server, dataSource)
            .table(table)
            .pollInterval(Duration.ofMillis(50))
            .build();
    closeables.add(0, relay);

    assertThat(single.get(TIMEOUT)).containsExactly(42L);
    List<Object> members = new ArrayList<>();
    for (AsyncResult r : groupResults.get()) {
      members.addAll(r.get(TIMEOUT));
    }
    assertThat(members).containsExactly(2L, 4L, 11L);
    assertThat(chordResult.get().get(TIMEOUT))
        .as("Go ran the chord's callback")
        .containsExactly(88L);
    List<AsyncResult> chainHandles = chainResults.get();
    assertThat(chainHandles.get(2).get(TIMEOUT))
        .as("Go ran each next task of the chain")
        .containsExactly(60L);
    await().atMost(TIMEOUT).until(() -> rows() == 0);
    assertThat(go.isAlive()).isTrue();

    // everything committed was published and run; the rolled-back task was never written
    assertThat(server.backend().getState(rolledBack.uuid())).isEmpty();
    assertThat(queues.redis().llen(queues.queue)).isZero();
  }
}
