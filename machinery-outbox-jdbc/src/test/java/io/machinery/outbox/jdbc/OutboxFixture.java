package io.machinery.outbox.jdbc;

import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.outbox.jdbc.internal.OutboxTable;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The set-up the outbox ITs share, one per test ({@code @RegisterExtension}): the PostgreSQL of
 * {@code POSTGRES_URL}, an outbox table of the test's own (created before it, dropped after), a
 * config with a queue of its own on the Redis of {@code REDIS_URL}, and whatever the test starts
 * through it (servers, relays, workers), closed after it, the last started first.
 */
final class OutboxFixture implements BeforeEachCallback, AfterEachCallback {
  /** The relays' poll interval and first retry back-off: short, so tests do not wait for them. */
  static final Duration FAST = Duration.ofMillis(20);

  final PGSimpleDataSource dataSource = new PGSimpleDataSource();
  final String table;
  final Config config;

  private final Deque<AutoCloseable> closeables = new ArrayDeque<>();

  /** A fixture whose table and queue names start with {@code prefix}. */
  OutboxFixture(String prefix) {
    dataSource.setURL(TestEndpoints.postgresUrl());
    table = prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    String redis = TestEndpoints.redisUrl();
    config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redis).resultBackend(redis).build(), prefix);
  }

  @Override
  public void beforeEach(ExtensionContext context) throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      OutboxTable.named(table).create(c);
    }
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    try {
      while (!closeables.isEmpty()) {
        closeables.pop().close();
      }
    } finally {
      try (Connection c = dataSource.getConnection();
          Statement s = c.createStatement()) {
        s.execute("DROP TABLE IF EXISTS " + table);
      }
    }
  }

  /** Closes {@code closeable} after the test, before what was registered earlier. */
  <T extends AutoCloseable> T closeAfter(T closeable) {
    closeables.push(closeable);
    return closeable;
  }

  /** A server on a Redis broker and backend of its own for {@code cfg}. */
  Server server(Config cfg, @Nullable Consumer<Signature> prePublish) {
    RedisBroker broker = closeAfter(RedisBroker.create(cfg));
    RedisBackend backend = closeAfter(RedisBackend.create(cfg));
    Server.Builder b = Server.builder().config(cfg).broker(broker).backend(backend);
    if (prePublish != null) {
      b.prePublishHandler(prePublish);
    }
    return closeAfter(b.build());
  }

  /**
   * A relay on the table, polling and first retrying after {@link #FAST}, then {@code settings}.
   */
  OutboxRelay relay(Server server, DataSource source, Consumer<OutboxRelay.Builder> settings) {
    OutboxRelay.Builder b =
        OutboxRelay.builder(server, source).table(table).pollInterval(FAST).retryBackoff(FAST);
    settings.accept(b);
    return closeAfter(b.build());
  }

  /** Writes a row by hand, not by TaskOutbox, whose message cannot be decoded: truncated JSON. */
  void insertUndecodableRow(String sender) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement insert =
            c.prepareStatement(
                "INSERT INTO "
                    + table
                    + " (sender_id, kind, task_uuid, task_name, message)"
                    + " VALUES (?, 'task', 'task_x', 'record', '{\"Name\": 42')")) {
      insert.setString(1, sender);
      insert.executeUpdate();
    }
  }

  /**
   * Has every sender's first row back off for 5 minutes, as after a failed publish (a broker
   * outage): the relay passes those senders over.
   */
  void backOffEverySender() throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "UPDATE "
              + table
              + " SET attempts = 1, next_attempt_at = CURRENT_TIMESTAMP + INTERVAL '5 minutes'"
              + " WHERE seq IN (SELECT min(seq) FROM "
              + table
              + " GROUP BY sender_id)");
    }
  }

  /** The rows in the table. */
  long rows() throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** The sender of every row in the table, in {@code seq} order. */
  List<String> senders() throws SQLException {
    List<String> senders = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT sender_id FROM " + table + " ORDER BY seq")) {
      while (rs.next()) {
        senders.add(rs.getString(1));
      }
    }
    return senders;
  }
}
