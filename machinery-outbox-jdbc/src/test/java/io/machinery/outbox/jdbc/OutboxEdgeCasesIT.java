package io.machinery.outbox.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Edge cases of the relay on a real PostgreSQL and Redis: failures a production relay meets (an
 * {@link Error} from publishing, rows that can never be published, a connection whose set-up
 * failed) must neither stop it nor starve the other senders. No worker: a row deleted by the relay
 * is a row the broker accepted.
 */
class OutboxEdgeCasesIT {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final Deque<AutoCloseable> closeables = new ArrayDeque<>();
  private PGSimpleDataSource dataSource = new PGSimpleDataSource();
  private String table = "";
  private Config config = Config.builder().build();

  @BeforeEach
  void setUp() throws SQLException {
    dataSource = new PGSimpleDataSource();
    dataSource.setURL(TestEndpoints.postgresUrl());
    table = "outbox_edge_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    String redis = TestEndpoints.redisUrl();
    config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redis).resultBackend(redis).build(), "outbox_edge_");
    try (Connection c = dataSource.getConnection()) {
      TaskOutbox.builder(server(null)).table(table).build().createTable(c);
    }
  }

  @AfterEach
  void tearDown() throws Exception {
    while (!closeables.isEmpty()) {
      closeables.pop().close();
    }
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table);
    }
  }

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
    TaskOutbox outbox = TaskOutbox.builder(server).table(table).build();
    outbox.inTransaction(dataSource, c -> outbox.sendTask(c, task(1)));
    OutboxRelay relay = relay(server, dataSource, r -> {});

    await().atMost(WAIT).until(() -> rows() == 0);
    assertThat(thrown).isTrue();
    assertThat(relay.failedPasses()).isEqualTo(1);
  }

  @Test
  void senderBlockedByBadRowsDoNotStarveTheOthersBeyondMaxSenders() throws Exception {
    Server server = server(null);
    TaskOutbox good = TaskOutbox.builder(server).table(table).senderId("good").build();
    for (String sender : List.of("bad1", "bad2")) {
      try (Connection c = dataSource.getConnection();
          PreparedStatement insert =
              c.prepareStatement(
                  "INSERT INTO "
                      + table
                      + " (sender_id, kind, task_uuid, task_name, message)"
                      + " VALUES (?, 'task', 'task_x', 'record', '{\"Name\": 42')")) {
        insert.setString(1, sender);
        insert.executeUpdate(); // written by hand: truncated JSON, older than the good row
      }
    }
    good.inTransaction(dataSource, c -> good.sendTask(c, task(1)));
    OutboxRelay relay =
        relay(server, dataSource, r -> r.maxSenders(1).maxRetryBackoff(Duration.ofMillis(200)));

    await().atMost(WAIT).until(() -> rows() == 2);
    assertThat(relay.publishedRows()).isEqualTo(1);
    assertThat(relay.failedPasses()).isPositive();
    assertThat(senders()).containsExactlyInAnyOrder("bad1", "bad2");
  }

  @Test
  void aSenderWhoseTasksAreAlwaysRefusedDoesNotStopTheSendersAfterIt() throws Exception {
    Server server =
        server(
            signature -> {
              if (signature.args().get(0).value().equals("stuck")) {
                throw new IllegalStateException("the pre-publish handler refuses this task");
              }
            });
    TaskOutbox stuck = TaskOutbox.builder(server).table(table).senderId("stuck").build();
    TaskOutbox other = stuck.withSenderId("other");
    stuck.inTransaction(
        dataSource,
        c -> stuck.sendTask(c, Signature.create("record", Arg.of("stuck"), Arg.of(1L))));
    other.inTransaction(dataSource, c -> other.sendTask(c, task(1)));
    OutboxRelay relay = relay(server, dataSource, r -> r.maxRetryBackoff(Duration.ofMillis(200)));

    await().atMost(WAIT).until(() -> rows() == 1);
    assertThat(relay.publishedRows()).isEqualTo(1);
    assertThat(senders()).containsExactly("stuck");
  }

  @Test
  void aConnectionWhoseSetUpFailedIsNeverUsedInAutoCommitMode() throws Exception {
    Server server = server(null);
    TaskOutbox outbox = TaskOutbox.builder(server).table(table).build();
    outbox.inTransaction(dataSource, c -> outbox.sendTask(c, task(1)));
    AtomicInteger autoCommitStatements = new AtomicInteger();
    List<Connection> given = new ArrayList<>();
    DataSource flaky = failingFirstSetAutoCommit(autoCommitStatements, given);
    OutboxRelay relay = relay(server, flaky, r -> r.maxRetryBackoff(Duration.ofMillis(200)));

    await().atMost(WAIT).until(() -> rows() == 0);
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
   * A data source whose first connection refuses {@code setAutoCommit(false)} (as a connection
   * broken by a database restart does) and that counts statements prepared in auto-commit mode.
   */
  private DataSource failingFirstSetAutoCommit(
      AtomicInteger autoCommitStatements, List<Connection> given) {
    AtomicBoolean failed = new AtomicBoolean();
    return new DataSource() {
      @Override
      public Connection getConnection() throws SQLException {
        Connection real = dataSource.getConnection();
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

  private long rows() throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private List<String> senders() throws SQLException {
    List<String> senders = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT sender_id FROM " + table)) {
      while (rs.next()) {
        senders.add(rs.getString(1));
      }
    }
    return senders;
  }

  private Server server(@Nullable Consumer<Signature> prePublish) {
    RedisBroker broker = RedisBroker.create(config);
    closeables.push(broker);
    RedisBackend backend = RedisBackend.create(config);
    closeables.push(backend);
    Server.Builder b = Server.builder().config(config).broker(broker).backend(backend);
    if (prePublish != null) {
      b.prePublishHandler(prePublish);
    }
    Server server = b.build();
    closeables.push(server);
    return server;
  }

  private OutboxRelay relay(
      Server server, DataSource source, Consumer<OutboxRelay.Builder> settings) {
    OutboxRelay.Builder b =
        OutboxRelay.builder(server, source)
            .table(table)
            .pollInterval(Duration.ofMillis(20))
            .retryBackoff(Duration.ofMillis(20));
    settings.accept(b);
    OutboxRelay relay = b.build();
    closeables.push(relay);
    return relay;
  }
}
