package io.machinery.outbox.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.outbox.jdbc.internal.Backoff;
import io.machinery.outbox.jdbc.internal.ClaimTuning;
import io.machinery.outbox.jdbc.internal.OutboxTable;
import io.machinery.outbox.jdbc.internal.RelayPass;
import io.machinery.spi.Backend;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Edge cases of the relay on a real PostgreSQL and Redis: failures a production relay meets (an
 * {@link Error} from publishing, rows that can never be published, a connection whose set-up
 * failed, a retry after a group was recorded or after its meta expired, before or after its chord
 * fired, a failing sender seen by another relay, a table of an earlier version or created again)
 * must neither stop it, nor starve the other senders, nor fire a chord twice, nor lose a chord. No
 * worker: a row deleted by the relay is a row the broker accepted.
 */
class OutboxEdgeCasesIT {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @RegisterExtension final OutboxFixture db = new OutboxFixture("outbox_edge_");

  @Test
  void anErrorThrownWhilePublishingDoesNotEndTheRelay() throws Exception {
    AtomicBoolean thrown = new AtomicBoolean();
    Server server =
        server(
            signature -> {
              if (thrown.compareAndSet(false, true)) {
                throw new AssertionError("an Error from a pre-publish handler");
              }
            });
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, task(1)));
    OutboxRelay relay = db.relay(server, db.dataSource, r -> {});

    await().atMost(WAIT).until(() -> db.rows() == 0);
    assertThat(thrown).isTrue();
    assertThat(relay.failedPasses()).isEqualTo(1);
  }

  @Test
  void senderBlockedByBadRowsDoNotStarveTheOthersBeyondMaxSenders() throws Exception {
    Server server = server(null);
    TaskOutbox good = TaskOutbox.builder(server).table(db.table).senderId("good").build();
    db.insertUndecodableRow("bad1"); // older than the good row
    db.insertUndecodableRow("bad2");
    good.inTransaction(db.dataSource, c -> good.sendTask(c, task(1)));
    OutboxRelay relay =
        db.relay(
            server, db.dataSource, r -> r.maxSenders(1).maxRetryBackoff(Duration.ofMillis(200)));

    await().atMost(WAIT).until(() -> db.rows() == 2);
    assertThat(relay.publishedRows()).isEqualTo(1);
    assertThat(relay.failedPasses()).isPositive();
    assertThat(db.senders()).containsExactlyInAnyOrder("bad1", "bad2");
  }

  @Test
  void aSenderWhoseTasksAreAlwaysRefusedDoesNotStopTheSendersAfterIt() throws Exception {
    Server server = server(refusing("stuck"));
    TaskOutbox stuck = TaskOutbox.builder(server).table(db.table).senderId("stuck").build();
    TaskOutbox other = stuck.withSenderId("other");
    stuck.inTransaction(
        db.dataSource,
        c -> stuck.sendTask(c, Signature.create("record", Arg.of("stuck"), Arg.of(1L))));
    other.inTransaction(db.dataSource, c -> other.sendTask(c, task(1)));
    OutboxRelay relay =
        db.relay(server, db.dataSource, r -> r.maxRetryBackoff(Duration.ofMillis(200)));

    await().atMost(WAIT).until(() -> db.rows() == 1);
    assertThat(relay.publishedRows()).isEqualTo(1);
    assertThat(db.senders()).containsExactly("stuck");
  }

  @Test
  void sendersThatKeepFailingBeyondMaxSendersDoNotStarveAHealthySender() throws Exception {
    AtomicInteger refusals = new AtomicInteger();
    Queue<Object> published = new ConcurrentLinkedQueue<>();
    Server server =
        server(
            signature -> {
              if (signature.args().get(0).value().equals("refused")) {
                refusals.incrementAndGet();
                throw new IllegalStateException("the pre-publish handler refuses this task");
              }
              published.add(signature.args().get(1).value());
            });
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    // Four failing senders, older than the healthy one: three refused, one undecodable.
    for (String sender : List.of("refused1", "refused2", "refused3")) {
      TaskOutbox refused = outbox.withSenderId(sender);
      refused.inTransaction(
          db.dataSource,
          c -> refused.sendTask(c, Signature.create("record", Arg.of("refused"), Arg.of(0L))));
    }
    db.insertUndecodableRow("undecodable");
    TaskOutbox healthy = outbox.withSenderId("healthy");
    for (int i = 0; i < 6; i++) {
      long index = i;
      healthy.inTransaction(db.dataSource, c -> healthy.sendTask(c, task(index)));
    }
    OutboxRelay relay =
        db.relay(
            server,
            db.dataSource,
            r -> r.maxSenders(2).batchSize(2).maxRetryBackoff(Duration.ofMillis(100)));

    await().atMost(WAIT).until(() -> db.rows() == 4);
    assertThat(published).as("in order, two rows a pass").containsExactly(0L, 1L, 2L, 3L, 4L, 5L);
    assertThat(relay.publishedRows()).isEqualTo(6);
    assertThat(db.senders()).containsExactly("refused1", "refused2", "refused3", "undecodable");
    int before = refusals.get();
    await()
        .atMost(WAIT)
        .untilAsserted(
            () ->
                assertThat(refusals)
                    .as("the failing senders are tried again")
                    .hasValueGreaterThan(before + 3));
  }

  @Test
  void aRetriedGroupRowDoesNotRecordItsGroupAgainSoAFiredChordStaysFired() throws Exception {
    InterruptedChord chord = chordWhoseFirstAttemptWaits();
    assertThat(chord.backend().getState(chord.memberUuid(1))).isPresent();
    // What the worker completing the last member does: the chord fires.
    assertThat(chord.backend().triggerChord(chord.groupUuid())).isTrue();
    chord.failFirstAttempt(); // the retry publishes the rows again

    await().atMost(WAIT).until(() -> db.rows() == 0);
    assertThat(chord.backend().triggerChord(chord.groupUuid()))
        .as("the chord fired already: the retry did not reset its group")
        .isFalse();
  }

  @Test
  void aRetryAfterTheGroupsMetaExpiredRecordsTheGroupAgainSoTheChordCanFire() throws Exception {
    InterruptedChord chord = chordWhoseFirstAttemptWaits();
    assertThat(chord.backend().getState(chord.memberUuid(0))).isPresent();
    // The meta expires before the members' states: it was written first, with the same expiry.
    chord.backend().purgeGroupMeta(chord.groupUuid());
    chord.failFirstAttempt();

    await().atMost(WAIT).until(() -> db.rows() == 0);
    assertThatCode(() -> chord.backend().groupTaskStates(chord.groupUuid(), 2))
        .as("the retry recorded the group again")
        .doesNotThrowAnyException();
    assertThat(chord.backend().triggerChord(chord.groupUuid())).isTrue();
  }

  @Test
  void aRetryAfterTheChordFiredAndItsMetaExpiredDoesNotRecordTheGroupAgain() throws Exception {
    InterruptedChord chord = chordWhoseFirstAttemptWaits();
    // What the worker completing the last member does: the chord fires, its callback is sent.
    assertThat(chord.backend().triggerChord(chord.groupUuid())).isTrue();
    chord.server().sendTask(chord.chord().callback());
    chord.backend().purgeGroupMeta(chord.groupUuid()); // then the meta expires
    chord.failFirstAttempt();

    await().atMost(WAIT).until(() -> db.rows() == 0);
    assertThatThrownBy(() -> chord.backend().groupTaskStates(chord.groupUuid(), 2))
        .as("the chord fired: the retry did not record its group again for it to fire again")
        .hasMessageContaining("Group not found");
  }

  @Test
  void aFailingSendersBackOffIsHonouredByAnotherRelay() throws Exception {
    AtomicInteger refusals = new AtomicInteger();
    Consumer<Signature> refuseStuck =
        signature -> {
          if (signature.args().get(0).value().equals("stuck")) {
            refusals.incrementAndGet();
            throw new IllegalStateException("the pre-publish handler refuses this task");
          }
        };
    Duration longBackoff = Duration.ofMinutes(5);
    Consumer<OutboxRelay.Builder> slowRetry =
        r -> r.retryBackoff(longBackoff).maxRetryBackoff(longBackoff);
    TaskOutbox stuck =
        TaskOutbox.builder(server(refuseStuck)).table(db.table).senderId("stuck").build();
    stuck.inTransaction(
        db.dataSource,
        c -> stuck.sendTask(c, Signature.create("record", Arg.of("stuck"), Arg.of(1L))));
    OutboxRelay first = db.relay(server(refuseStuck), db.dataSource, slowRetry);
    await().atMost(WAIT).until(() -> first.failedPasses() >= 1);
    first.close(); // as a process that stops; another relay goes on

    TaskOutbox healthy = stuck.withSenderId("healthy");
    healthy.inTransaction(db.dataSource, c -> healthy.sendTask(c, task(1)));
    OutboxRelay second = db.relay(server(refuseStuck), db.dataSource, slowRetry);

    await().atMost(WAIT).until(() -> db.rows() == 1 || refusals.get() > 1);
    assertThat(refusals).as("the second relay waits the stuck sender's back-off").hasValue(1);
    assertThat(second.publishedRows()).isEqualTo(1);
    assertThat(db.senders()).containsExactly("stuck");
  }

  @Test
  void aHealthyRowIsRelayedPromptlyWhileAFailingSenderWaitsALongBackOff() throws Exception {
    Server server = server(refusing("stuck"));
    TaskOutbox stuck = TaskOutbox.builder(server).table(db.table).senderId("stuck").build();
    stuck.inTransaction(
        db.dataSource,
        c -> stuck.sendTask(c, Signature.create("record", Arg.of("stuck"), Arg.of(1L))));
    Duration longBackoff = Duration.ofMinutes(5);
    OutboxRelay relay =
        db.relay(
            server, db.dataSource, r -> r.retryBackoff(longBackoff).maxRetryBackoff(longBackoff));
    await().atMost(WAIT).until(() -> relay.failedPasses() >= 1);

    TaskOutbox healthy = stuck.withSenderId("healthy");
    healthy.inTransaction(db.dataSource, c -> healthy.sendTask(c, task(1)));

    await()
        .atMost(Duration.ofSeconds(10)) // polled every 20 ms: far below the 5 min back-off
        .until(() -> db.rows() == 1);
    assertThat(db.senders()).containsExactly("stuck");
  }

  @Test
  void aTableOfAnEarlierVersionGainsTheBackOffColumnsWhenTheRelayCreatesIt() throws Exception {
    try (Connection c = db.dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE " + db.table);
      s.execute(
          "CREATE TABLE "
              + db.table
              + " (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
              + " sender_id VARCHAR(255) NOT NULL, kind VARCHAR(16) NOT NULL,"
              + " task_uuid VARCHAR(255) NOT NULL, task_name TEXT NOT NULL, message TEXT NOT NULL,"
              + " created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP)");
    } // the table as version 0.1's DDL created it
    Server server = server(null);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, task(1)));

    try (Connection c = db.dataSource.getConnection()) {
      c.setAutoCommit(false);
      RelayPass pass =
          new RelayPass(
              server,
              OutboxTable.named(db.table),
              10,
              1,
              new Backoff(WAIT, WAIT),
              ClaimTuning.DEFAULT);
      assertThatThrownBy(() -> pass.run(c, () -> false))
          .as("a relay that may not create the table says what to run")
          .hasMessageContaining("lacks the columns attempts and next_attempt_at")
          .hasMessageContaining(TaskOutbox.DDL_RESOURCE);
    }

    db.relay(server, db.dataSource, r -> r.createTable(true));
    await().atMost(WAIT).until(() -> db.rows() == 0);
  }

  @Test
  void creatingTheTableAgainDoesNotWaitForAWriterTransactionStillOpen() throws Exception {
    TaskOutbox outbox = TaskOutbox.builder(server(null)).table(db.table).build();
    try (Connection writer = db.dataSource.getConnection();
        Connection starting = db.dataSource.getConnection();
        Statement s = starting.createStatement()) {
      writer.setAutoCommit(false);
      outbox.sendTask(writer, task(1)); // a writer's transaction, not committed yet
      s.execute("SET lock_timeout = '2s'");
      // what every relay built with createTable(true) does when it starts
      assertThatCode(() -> outbox.createTable(starting))
          .as("the table, its columns and its index exist: nothing to lock")
          .doesNotThrowAnyException();
      writer.rollback();
    }
  }

  @Test
  void aConnectionWhoseSetUpFailedIsNeverUsedInAutoCommitMode() throws Exception {
    Server server = server(null);
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    outbox.inTransaction(db.dataSource, c -> outbox.sendTask(c, task(1)));
    AtomicInteger autoCommitStatements = new AtomicInteger();
    List<Connection> given = new ArrayList<>();
    DataSource flaky = failingFirstSetAutoCommit(autoCommitStatements, given);
    OutboxRelay relay = db.relay(server, flaky, r -> r.maxRetryBackoff(Duration.ofMillis(200)));

    await().atMost(WAIT).until(() -> db.rows() == 0);
    assertThat(relay.failedPasses()).isPositive();
    assertThat(autoCommitStatements).as("statements run in auto-commit mode").hasValue(0);
    synchronized (given) {
      assertThat(given.get(0).isClosed()).as("the connection that failed is closed").isTrue();
    }
  }

  // ----------------------------------------------------------------------------------------------

  private static Signature task(long index) {
    return Signature.create("record", Arg.of("s"), Arg.of(index));
  }

  /**
   * A chord written with a group after it, in one transaction, and a relay whose first attempt
   * records the chord's group, publishes its members, then waits at the task of the group after
   * until {@link #failFirstAttempt}, which has it refused: the attempt fails, and the retry
   * publishes every row again.
   */
  private record InterruptedChord(Server server, Chord chord, CountDownLatch release) {
    Backend backend() {
      return server.backend();
    }

    String groupUuid() {
      return chord.group().groupUuid();
    }

    String memberUuid(int index) {
      return chord.group().taskUuids().get(index);
    }

    void failFirstAttempt() {
      release.countDown();
    }
  }

  /** Starts an {@link InterruptedChord}; returns once its first attempt waits. */
  private InterruptedChord chordWhoseFirstAttemptWaits() throws Exception {
    CountDownLatch reached = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean refused = new AtomicBoolean();
    Server server =
        server(
            signature -> {
              if (signature.name().equals("record")
                  && signature.args().get(0).value().equals("after")
                  && refused.compareAndSet(false, true)) {
                reached.countDown();
                try {
                  release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                throw new IllegalStateException("refused once, at the end of the first attempt");
              }
            });
    TaskOutbox outbox = TaskOutbox.builder(server).table(db.table).build();
    Chord chord = Chord.of(Group.of(task(1), task(2)), Signature.create("join"));
    // A group row after the chord's members: they are published before its task is refused.
    Group after = Group.of(Signature.create("record", Arg.of("after"), Arg.of(1L)));
    outbox.inTransaction(
        db.dataSource,
        c -> {
          outbox.sendChord(c, chord);
          return outbox.sendGroup(c, after);
        });
    db.relay(server, db.dataSource, r -> {});
    assertThat(reached.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    return new InterruptedChord(server, chord, release);
  }

  /** A pre-publish handler refusing every task whose first argument is {@code marker}. */
  private static Consumer<Signature> refusing(String marker) {
    return signature -> {
      if (signature.args().get(0).value().equals(marker)) {
        throw new IllegalStateException("the pre-publish handler refuses this task");
      }
    };
  }

  /**
   * A data source whose first connection refuses {@code setAutoCommit(false)} (as a connection
   * broken by a database restart does) and that counts statements prepared in auto-commit mode.
   */
  private DataSource failingFirstSetAutoCommit(
      AtomicInteger autoCommitStatements, List<Connection> given) {
    AtomicBoolean failed = new AtomicBoolean();
    return new DataSource() {
      @Override
      public Connection getConnection() throws SQLException {
        Connection real = db.dataSource.getConnection();
        synchronized (given) {
          given.add(real);
        }
        return (Connection)
            Proxy.newProxyInstance(
                getClass().getClassLoader(),
                new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("setAutoCommit")
                      && Boolean.FALSE.equals(args[0])
                      && failed.compareAndSet(false, true)) {
                    throw new SQLException("setAutoCommit failed on a broken connection");
                  }
                  if (method.getName().equals("prepareStatement") && real.getAutoCommit()) {
                    autoCommitStatements.incrementAndGet();
                  }
                  try {
                    return method.invoke(real, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
      }

      @Override
      public Connection getConnection(String user, String password) throws SQLException {
        throw new SQLFeatureNotSupportedException();
      }

      @Override
      public @Nullable PrintWriter getLogWriter() {
        return null;
      }

      @Override
      public void setLogWriter(@Nullable PrintWriter out) {}

      @Override
      public void setLoginTimeout(int seconds) {}

      @Override
      public int getLoginTimeout() {
        return 0;
      }

      @Override
      public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        throw new SQLFeatureNotSupportedException();
      }

      @Override
      public <T> T unwrap(Class<T> iface) throws SQLException {
        throw new SQLException("not a wrapper");
      }

      @Override
      public boolean isWrapperFor(Class<?> iface) {
        return false;
      }
    };
  }

  private Server server(@Nullable Consumer<Signature> prePublish) {
    return db.server(db.config, prePublish);
  }
}
