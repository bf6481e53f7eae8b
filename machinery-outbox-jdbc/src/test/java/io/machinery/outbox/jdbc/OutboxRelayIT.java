package io.machinery.outbox.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Dag;
import io.machinery.Group;
import io.machinery.Saga;
import io.machinery.SagaAsyncResult;
import io.machinery.SagaFailedException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.OwnRedisServer;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The outbox on a real PostgreSQL ({@code scripts/services.d/postgresql.sh}) with a Redis broker
 * and backend and a real worker: commit publishes, rollback does not, order per sender, several
 * relays, a broker outage and a relay closed in the middle of a batch. Each test has its own table
 * and queue (OutboxFixture).
 */
class OutboxRelayIT {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @RegisterExtension final OutboxFixture db = new OutboxFixture("outbox_it_");

  /** What the worker ran, in the order it ran it: "sender:index". */
  private final Queue<String> ran = new ConcurrentLinkedQueue<>();

  private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();

  /** The outage test's own Redis, replaced when it is started again. */
  private final AtomicReference<OwnRedisServer> redisHolder = new AtomicReference<>();

  @Test
  void aCommittedSendIsPublishedByTheRelayAndRunByAWorker() throws Exception {
    Server server = server(db.config);
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).senderId("orders").build();
    try (Connection c = db.dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE " + db.table + "_orders (id BIGINT PRIMARY KEY)");
    }

    AsyncResult result =
        outbox.inTransaction(
            db.dataSource,
            c -> {
              try (PreparedStatement insert =
                  c.prepareStatement("INSERT INTO " + db.table + "_orders (id) VALUES (?)")) {
                insert.setLong(1, 42);
                insert.executeUpdate();
              }
              return outbox.sendTask(c, record("orders", 42));
            });

    // Committed, but no relay yet: nothing outside the database has changed, not even PENDING.
    assertThat(db.rows()).isEqualTo(1);
    assertThat(server.backend().getState(result.taskUuid())).isEmpty();
    assertThat(server.broker().pendingTasks(db.config.defaultQueue())).isEmpty();
    assertThat(result.state()).isEqualTo(State.PENDING);

    relay(server, b -> {});
    assertThat(result.get(WAIT)).containsExactly("orders:42");
    await().atMost(WAIT).until(() -> db.rows() == 0); // deleted after the broker confirmed
    try (Connection c = db.dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE " + db.table + "_orders");
    }
  }

  @Test
  void aRolledBackSendIsNeverPublished() throws Exception {
    Server server = server(db.config);
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    AtomicReference<AsyncResult> rolledBack = new AtomicReference<>();
    relay(server, b -> {});

    assertThatThrownBy(
            () ->
                outbox.inTransaction(
                    db.dataSource,
                    c -> {
                      rolledBack.set(outbox.sendTask(c, record("s", 1)));
                      throw new SQLException("the caller's own statement failed");
                    }))
        .hasMessageContaining("the caller's own statement failed");
    try (Connection c = db.dataSource.getConnection()) {
      c.setAutoCommit(false);
      outbox.sendTask(c, record("s", 2));
      c.rollback(); // an explicit rollback of the caller's own transaction
    }
    AsyncResult committed =
        outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, record("s", 3)));

    // The relay publishes one sender's rows in order: once the later commit ran, an earlier row
    // would have been published before it.
    assertThat(committed.get(WAIT)).containsExactly("s:3");
    assertThat(ran).containsExactly("s:3");
    await().atMost(WAIT).until(() -> db.rows() == 0); // deleted after the broker confirmed
    assertThat(server.backend().getState(rolledBack.get().taskUuid())).isEmpty();
  }

  @Test
  void eachSendersRowsArePublishedInOrderAcross1000Rows() throws Exception {
    Server server = server(db.config);
    worker(db.config, 1); // one slot: the worker runs tasks in the order the queue holds them
    TaskOutbox a = TaskOutbox.builder(server).table(db.table).senderId("a").build();
    TaskOutbox b = a.withSenderId("b");
    try (Connection c = db.dataSource.getConnection()) {
      c.setAutoCommit(false);
      for (int i = 0; i < 500; i++) {
        // One transaction per send, as a service sends them: a's and b's rows interleave.
        a.sendTask(c, record("a", i));
        c.commit();
        b.sendTask(c, record("b", i));
        c.commit();
      }
    }
    assertThat(db.rows()).isEqualTo(1000);

    relay(server, r -> r.batchSize(64));
    await().atMost(WAIT).until(() -> ran.size() == 1000);

    assertThat(ran.stream().filter(s -> s.startsWith("a:")).toList())
        .containsExactlyElementsOf(LongStream.range(0, 500).mapToObj(i -> "a:" + i).toList());
    assertThat(ran.stream().filter(s -> s.startsWith("b:")).toList())
        .containsExactlyElementsOf(LongStream.range(0, 500).mapToObj(i -> "b:" + i).toList());
    await().atMost(WAIT).until(() -> db.rows() == 0);
  }

  @Test
  void twoRelaysOnOneTablePublishEachRowOnceAndKeepEachSendersOrder() throws Exception {
    twoRelaysPublishEachRowOnceInEachSendersOrder(8, 125, 0);
  }

  @Test
  void twoRelaysBehindManySendersBackingOffPublishEachRowOnceAndKeepEachSendersOrder()
      throws Exception {
    // A backlog of 40 senders backing off at the head of the table, 1,600 rows: more waiting rows
    // than a pass claims among by lookups, so the relays find the senders behind them by reading
    // the sender index (RelayPass.claimInPages). Those rows wait 5 minutes; the others are relayed.
    try (Connection c = db.dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "INSERT INTO "
              + db.table
              + " (sender_id, kind, task_uuid, task_name, message) SELECT 'waiting-' || (i % 40),"
              + " 'task', 'task_' || i, 'record', '{}' FROM generate_series(1, 1600) i");
    }
    db.backOffEverySender();
    twoRelaysPublishEachRowOnceInEachSendersOrder(40, 25, 1_600);
  }

  /**
   * Two relays, each on a server of its own as two processes would be, with few senders per pass
   * and small batches (so both keep claiming while the other holds senders), relay {@code
   * perSender} rows of each of {@code senders} senders: each row runs once, each sender's in order;
   * {@code left} rows already in the table stay.
   */
  private void twoRelaysPublishEachRowOnceInEachSendersOrder(int senders, int perSender, int left)
      throws Exception {
    Server server = server(db.config);
    worker(db.config, 1);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    try (Connection c = db.dataSource.getConnection()) {
      c.setAutoCommit(false);
      for (int i = 0; i < perSender; i++) {
        for (int s = 0; s < senders; s++) {
          outbox.withSenderId("s" + s).sendTask(c, record("s" + s, i));
        }
        c.commit();
      }
    }

    OutboxRelay first = relay(server, r -> r.maxSenders(2).batchSize(10));
    OutboxRelay second = relay(server(db.config), r -> r.maxSenders(2).batchSize(10));
    await().atMost(WAIT).until(() -> ran.size() >= senders * perSender);
    await().atMost(WAIT).until(() -> db.rows() == left);

    assertThat(first.publishedRows() + second.publishedRows()).isEqualTo(senders * perSender);
    assertThat(runs).hasSize(senders * perSender);
    assertThat(runs.values()).allSatisfy(n -> assertThat(n.get()).isEqualTo(1));
    for (int s = 0; s < senders; s++) {
      String prefix = "s" + s + ":";
      assertThat(ran.stream().filter(r -> r.startsWith(prefix)).toList())
          .containsExactlyElementsOf(
              LongStream.range(0, perSender).mapToObj(i -> prefix + i).toList());
    }
  }

  @Test
  void aRelayPassesOverASenderAnotherRelayHoldsAndPublishesTheOthers() throws Exception {
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    // The first relay stops inside its first batch (sender "held", rows 0-9) until released.
    Server stuck =
        db.server(
            db.config,
            signature -> {
              if ("held".equals(signature.args().get(0).value())
                  && Long.valueOf(0).equals(signature.args().get(1).value())) {
                holding.countDown();
                try {
                  release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            });
    worker(db.config, 1);
    TaskOutbox held = TaskOutbox.builder(stuck).table(db.table).senderId("held").build();
    TaskOutbox free = held.withSenderId("free");
    try (Connection c = db.dataSource.getConnection()) {
      c.setAutoCommit(false);
      for (int i = 0; i < 20; i++) {
        held.sendTask(c, record("held", i)); // the lower sequence numbers: claimed first
      }
      for (int i = 0; i < 20; i++) {
        free.sendTask(c, record("free", i));
      }
      c.commit();
    }
    try {
      relay(stuck, r -> r.maxSenders(1).batchSize(10));
      assertThat(holding.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      relay(server(db.config), r -> r.maxSenders(1).batchSize(10));

      await().atMost(WAIT).until(() -> ran.size() == 20);
      assertThat(ran)
          .as("the second relay skipped the held sender and took the free one")
          .containsExactlyElementsOf(LongStream.range(0, 20).mapToObj(i -> "free:" + i).toList());
      assertThat(db.rows()).as("no row of the held sender was touched").isEqualTo(20);
    } finally {
      release.countDown();
    }
    await().atMost(WAIT).until(() -> ran.size() == 40);
    assertThat(ran.stream().filter(r -> r.startsWith("held:")).toList())
        .containsExactlyElementsOf(LongStream.range(0, 20).mapToObj(i -> "held:" + i).toList());
    await().atMost(WAIT).until(() -> db.rows() == 0);
  }

  @Test
  void aGroupAndAChordAreRecordedBeforeTheirMembersArePublished() throws Exception {
    Server server = server(db.config);
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    Group group = Group.of(record("g", 1), record("g", 2), record("g", 3));
    Chord chord = Chord.of(Group.of(record("c", 1), record("c", 2)), Signature.create("join"));
    AtomicReference<AsyncResult> callback = new AtomicReference<>();
    List<AsyncResult> members =
        outbox.inTransaction(
            db.dataSource,
            c -> {
              callback.set(outbox.sendChord(c, chord));
              return outbox.sendGroup(c, group);
            });
    relay(server, r -> {});

    for (int i = 0; i < 3; i++) {
      assertThat(members.get(i).get(WAIT)).containsExactly("g:" + (i + 1));
    }
    await().atMost(WAIT).until(() -> server.backend().groupCompleted(group.groupUuid(), 3));
    assertThat(callback.get().get(WAIT)).containsExactly("c:1,c:2");
    await().atMost(WAIT).until(() -> db.rows() == 0); // deleted after the broker confirmed
  }

  @Test
  void aDagWritesItsDependencyGroupsAndFirstTasksAndRunsOnceTheRelayPublishesIt() throws Exception {
    Server server = server(db.config);
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    Dag dag =
        Dag.builder()
            .task("a", record("dag", 1))
            .task("b", record("dag", 2))
            .task("x", Signature.create("join", Arg.of("x")), "a", "b")
            .task("y", Signature.create("join", Arg.of("y")), "x", "a")
            .build();
    Dag tooLarge =
        Dag.builder()
            .task("a", record("bad", 1))
            .task("t", Signature.create("t", Arg.of("x".repeat(db.config.maxMessageBytes()))), "a")
            .build();
    Map<String, AsyncResult> results =
        outbox.inTransaction(
            db.dataSource,
            c -> {
              // a task sent later by a worker is checked now too: nothing of this DAG is written
              assertThatThrownBy(() -> outbox.sendDag(c, tooLarge))
                  .isInstanceOf(IllegalArgumentException.class);
              return outbox.sendDag(c, dag);
            });
    assertThat(db.rows()).as("two dependency groups and two first tasks").isEqualTo(4);
    assertThat(ran).isEmpty(); // nothing is published before the relay runs

    relay(server, r -> {});
    assertThat(results.get("y").get(WAIT)).containsExactly("y,x,dag:1,dag:2,dag:1");
    assertThat(results.get("x").get(WAIT)).containsExactly("x,dag:1,dag:2");
    assertThat(ran).containsExactlyInAnyOrder("dag:1", "dag:2");
    await().atMost(WAIT).until(() -> db.rows() == 0);
  }

  @Test
  void aChainIsOneRowWhoseTasksRunInTurnOnceTheRelayPublishesIt() throws Exception {
    Server server = server(db.config);
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    Chain chain =
        Chain.of(
            record("chain", 1),
            Signature.create("join", Arg.of("x")),
            Signature.create("join", Arg.of("y")));
    Chain refused =
        Chain.of(record("bad", 1), Signature.create("t", Arg.of("int64", "not a number")));
    List<AsyncResult> results =
        outbox.inTransaction(
            db.dataSource,
            c -> {
              // a bad task anywhere in a chain refuses all of it before anything is written
              assertThatThrownBy(() -> outbox.sendChain(c, refused))
                  .isInstanceOf(IllegalArgumentException.class)
                  .hasMessageContaining("argument 1 of task t");
              return outbox.sendChain(c, chain);
            });
    assertThat(db.rows()).as("the first task carries the others").isEqualTo(1);
    assertThat(results)
        .extracting(AsyncResult::taskUuid)
        .containsExactlyElementsOf(chain.tasks().stream().map(Signature::uuid).toList());

    relay(server, r -> {});
    // each task got its parent's results after its own arguments
    assertThat(results.get(2).get(WAIT)).containsExactly("y,x,chain:1");
    assertThat(results.get(1).get(WAIT)).containsExactly("x,chain:1");
    assertThat(results.get(0).get(WAIT)).containsExactly("chain:1");
    assertThat(ran).containsExactly("chain:1");
    await().atMost(WAIT).until(() -> db.rows() == 0);
  }

  @Test
  void aSagaIsOneRowWhoseCompensationsRunWhenAStepFailsOnceTheRelayPublishesIt() throws Exception {
    Server server = server(db.config);
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    Saga saga =
        Saga.builder()
            .step(
                record("saga", 1).toBuilder().immutable(true).build(),
                Signature.create("join", Arg.of("undone")))
            .step(Signature.create("fail", Arg.of("x")))
            .build();
    SagaAsyncResult result = outbox.inTransaction(db.dataSource, c -> outbox.sendSaga(c, saga));
    assertThat(db.rows()).as("the first step carries the others").isEqualTo(1);
    assertThat(ran).isEmpty(); // nothing is published before the relay runs

    relay(server, r -> {});
    assertThatThrownBy(() -> result.get(WAIT))
        .isInstanceOfSatisfying(
            SagaFailedException.class,
            e -> {
              assertThat(e.error()).isEqualTo("failed: x");
              assertThat(e.compensated()).isTrue();
            });
    Signature compensation = saga.compensationsAfterFailureOf(1).get(0);
    assertThat(server.asyncResult(compensation.uuid()).get(WAIT)).containsExactly("undone,saga:1");
    await().atMost(WAIT).until(() -> db.rows() == 0);
  }

  @Test
  void rowsWaitOutABrokerOutageAndAreAllPublishedWhenItIsBack() throws Exception {
    Path dir = Files.createTempDirectory("outbox-outage");
    int port = OwnRedisServer.freePort();
    List<String> args = OwnRedisServer.plainArgs(port);
    String url = "redis://127.0.0.1:" + port;
    Config own =
        BrokerContract.uniqueQueue(
            Config.builder()
                .broker(url)
                .resultBackend(url)
                .redis(RedisConfig.builder().readTimeout(Duration.ofSeconds(2)).build())
                .build(),
            "outbox_outage_");
    OwnRedisServer redis = OwnRedisServer.start(dir, port, args);
    db.closeAfter(() -> redisHolder.get().close());
    redisHolder.set(redis);
    Server server = server(own);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    OutboxRelay relay =
        relay(
            server,
            r -> r.retryBackoff(Duration.ofMillis(50)).maxRetryBackoff(Duration.ofMillis(500)));

    redis.close(); // the broker (and the backend) go down
    List<AsyncResult> results = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      int index = i;
      results.add(outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, record("o", index))));
    }
    await().atMost(WAIT).until(() -> relay.failedPasses() >= 2);
    assertThat(db.rows()).as("nothing is deleted while the broker is down").isEqualTo(20);

    redisHolder.set(OwnRedisServer.start(dir, port, args));
    worker(own, 2);
    for (int i = 0; i < 20; i++) {
      assertThat(results.get(i).get(WAIT)).containsExactly("o:" + i);
    }
    await().atMost(WAIT).until(() -> db.rows() == 0);
  }

  @Test
  void aRelayTakesANewConnectionAfterTheDatabaseRestarts() throws Exception {
    String script = TestEndpoints.servicesScript();
    Server server = server(db.config);
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    OutboxRelay relay =
        relay(
            server,
            r -> r.retryBackoff(Duration.ofMillis(50)).maxRetryBackoff(Duration.ofMillis(500)));
    AsyncResult before =
        outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, record("r", 1)));
    assertThat(before.get(WAIT)).containsExactly("r:1");

    // Ends every connection, the relay's too (scripts/services.sh: pg_ctl stop -m fast, start).
    services(script, "restart", "postgresql");
    AsyncResult after =
        await()
            .atMost(WAIT)
            .ignoreExceptions()
            .until(
                () -> outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, record("r", 2))),
                r -> true);

    assertThat(after.get(WAIT)).containsExactly("r:2");
    assertThat(relay.failedPasses()).as("the pass on the dead connection failed").isPositive();
    await().atMost(WAIT).until(() -> db.rows() == 0);
  }

  @Test
  void aRelayClosedInTheMiddleOfABatchLeavesItsRowsForTheNextRelay() throws Exception {
    AtomicReference<OutboxRelay> relayRef = new AtomicReference<>();
    AtomicInteger handed = new AtomicInteger();
    AtomicBoolean closedMidBatch = new AtomicBoolean();
    // The 15th task handed to the broker (the 5th of the second batch of 10) closes the relay
    // while that batch is on its way: it is published, but its rows are not yet deleted.
    Server dying =
        db.server(
            db.config,
            signature -> {
              if (handed.incrementAndGet() == 15) {
                relayRef.get().close();
                closedMidBatch.set(true);
              }
            });
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(dying).table(db.table).build();
    outbox.inTransaction(
        db.dataSource,
        c -> {
          for (int i = 0; i < 50; i++) {
            outbox.sendTask(c, record("m", i));
          }
          return null;
        });
    OutboxRelay first = relay(dying, r -> r.batchSize(10));
    relayRef.set(first);
    await().atMost(WAIT).untilTrue(closedMidBatch);
    first.close(); // waits for its thread to end

    assertThat(first.publishedRows()).as("only the first batch was deleted").isEqualTo(10);
    assertThat(db.rows()).as("the batch in flight was rolled back").isEqualTo(40);

    relay(server(db.config), r -> r.batchSize(10));
    await().atMost(WAIT).until(() -> db.rows() == 0);
    await().atMost(WAIT).until(() -> runs.size() == 50);
    assertThat(runs.values()).allSatisfy(n -> assertThat(n.get()).isGreaterThanOrEqualTo(1));
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(LongStream.range(10, 20).map(i -> runs.get("m:" + i).get()).sum())
                    .as("the batch in flight reached the broker and was published again")
                    .isEqualTo(20));
  }

  @Test
  void aSendOutsideATransactionOrOfABadTaskWritesNothing() throws Exception {
    TaskOutbox outbox = TaskOutbox.builder(server(db.config)).table(db.table).build();
    try (Connection c = db.dataSource.getConnection()) {
      assertThat(c.getAutoCommit()).isTrue();
      assertThatThrownBy(() -> outbox.sendTask(c, record("x", 1)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("auto-commit");
      c.setAutoCommit(false);
      assertThatThrownBy(() -> outbox.sendTask(c, Signature.create("")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("needs a name");
      assertThatThrownBy(
              () -> outbox.sendTask(c, Signature.create("t", Arg.of("int64", "not a number"))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("argument 1 of task t");
      c.commit();
    }
    assertThat(db.rows()).isZero();
  }

  @Test
  void aRowThatCannotBeDecodedBlocksOnlyItsOwnSender() throws Exception {
    Server server = server(db.config);
    worker(db.config, 2);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    TaskOutbox other = outbox.withSenderId("other");
    AsyncResult before =
        outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, record("d", 1)));
    db.insertUndecodableRow(TaskOutbox.DEFAULT_SENDER_ID);
    AsyncResult after =
        outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, record("d", 2)));
    AsyncResult elsewhere =
        other.inTransaction(db.dataSource, c -> other.sendTask(c, record("other", 1)));
    OutboxRelay relay = relay(server, r -> r.maxRetryBackoff(Duration.ofMillis(200)));

    assertThat(before.get(WAIT)).containsExactly("d:1");
    assertThat(elsewhere.get(WAIT)).containsExactly("other:1");
    await().atMost(WAIT).until(() -> relay.failedPasses() >= 2);
    assertThat(db.rows()).as("the bad row and the one behind it wait").isEqualTo(2);
    assertThat(after.taskState()).isEmpty();

    try (Connection c = db.dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.executeUpdate(
          "DELETE FROM " + db.table + " WHERE task_uuid = 'task_x'"); // a person repairs
    }
    assertThat(after.get(WAIT)).containsExactly("d:2");
  }

  // ----------------------------------------------------------------------------------------------

  private static Signature record(String sender, long index) {
    return Signature.create("record", Arg.of(sender), Arg.of(index));
  }

  private static void services(String script, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(script));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).as("%s: %s", command, output).isZero();
  }

  private Server server(Config cfg) {
    return db.server(cfg, null);
  }

  private void worker(Config cfg, int concurrency) {
    Server server = server(cfg);
    server.registerTask(
        "record",
        TaskFunction.of(
            String.class,
            Long.class,
            (sender, index) -> {
              String key = sender + ":" + index;
              runs.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
              ran.add(key);
              return key;
            }));
    server.registerTask(
        "join", TaskFunction.varargs(String[].class, parts -> String.join(",", parts)));
    server.registerTask(
        "fail",
        TaskFunction.varargs(
            String[].class,
            parts -> {
              throw new IllegalStateException("failed: " + String.join(",", parts));
            }));
    Worker worker = server.newWorker("outbox-it", concurrency);
    worker.launchAsync();
    db.closeAfter(worker::quit);
  }

  private OutboxRelay relay(Server server, Consumer<OutboxRelay.Builder> settings) {
    return db.relay(server, db.dataSource, settings);
  }
}
