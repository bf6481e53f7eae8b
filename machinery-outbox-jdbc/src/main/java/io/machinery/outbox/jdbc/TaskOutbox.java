package io.machinery.outbox.jdbc;

import io.machinery.AsyncResult;
import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Dag;
import io.machinery.Group;
import io.machinery.Saga;
import io.machinery.SagaAsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.outbox.jdbc.internal.OutboxTable;
import io.machinery.spi.GroupMeta;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Sends tasks inside the caller's JDBC transaction: each task's Go wire message ({@link WireCodec})
 * becomes a row of an outbox table, written on the caller's {@link Connection}, so it exists
 * exactly when the caller's transaction commits. An {@link OutboxRelay} publishes committed rows; a
 * rolled-back transaction leaves nothing to publish.
 *
 * <pre>{@code
 * TaskOutbox outbox = TaskOutbox.builder(server).senderId("orders").build();
 * AsyncResult result = outbox.inTransaction(dataSource, connection -> {
 *   insertOrder(connection, order);                          // the caller's own SQL
 *   return outbox.sendTask(connection, Signature.create("ship", Arg.of(order.id())));
 * });
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Senders and order.</b> Every row carries this outbox's sender id and a sequence number
 *       the database assigns (an identity column). The relay publishes each sender's rows in
 *       sequence order. A sender is a stream of sends whose order matters: one service instance,
 *       one aggregate, one tenant. Order holds between rows whose transactions committed one after
 *       the other (a sequence number is taken at insert, so a transaction that inserted earlier but
 *       commits later can be overtaken by rows the relay has already published). Different senders
 *       are independent and are published in parallel by several relays.
 *   <li><b>What is written now, what later.</b> The task is checked and encoded here (UUID given
 *       when missing, {@code Headers} made non-nil as Go's {@code SendTask} does), and a bad one
 *       throws before anything is written. PENDING is stored, the routing key chosen and listeners
 *       told by the relay's {@link Server} when it publishes, as Go's {@code SendTask} does at send
 *       time: nothing outside the database changes inside the caller's transaction.
 *   <li><b>Handles.</b> The returned {@link AsyncResult} reads the task's state through this
 *       outbox's server; it reports PENDING (no state yet) until the relay has published and a
 *       worker has taken the task. It carries the task's UUID only ({@link Server#asyncResult}).
 *   <li><b>Exceptions.</b> The writes happen in the caller's JDBC code, so they throw {@link
 *       SQLException} as the caller's own statements do.
 * </ul>
 *
 * <p>Immutable and thread-safe; it holds no connection and needs no closing.
 *
 * <p>Size: the writer's API (task, group, chord, chain, the transaction helper, the schema); the
 * relay is {@code OutboxRelay}.
 */
public final class TaskOutbox {
  /** The table name used unless {@link Builder#table} says otherwise. */
  public static final String DEFAULT_TABLE = OutboxTable.DEFAULT_NAME;

  /** The sender id used unless {@link Builder#senderId} says otherwise. */
  public static final String DEFAULT_SENDER_ID = "default";

  /** The longest sender id (the column is {@code VARCHAR(255)}). */
  public static final int MAX_SENDER_ID_LENGTH = 255;

  /**
   * The classpath resource holding the table's DDL (PostgreSQL), for {@link #DEFAULT_TABLE}: run it
   * with your migration tool, or call {@link #createTable}.
   */
  public static final String DDL_RESOURCE = OutboxTable.DDL_RESOURCE;

  private final Server server;
  private final OutboxTable table;
  private final String senderId;

  private TaskOutbox(Server server, OutboxTable table, String senderId) {
    this.server = server;
    this.table = table;
    this.senderId = senderId;
  }

  /**
   * Starts building an outbox writer.
   *
   * @param server checks messages against its {@link io.machinery.config.Config#maxMessageBytes()}
   *     and reads results for the returned handles; it need not be the relay's server
   * @return a builder with {@link #DEFAULT_TABLE} and {@link #DEFAULT_SENDER_ID}
   */
  public static Builder builder(Server server) {
    return new Builder(Objects.requireNonNull(server, "server"));
  }

  /**
   * Returns a copy of this outbox that writes under another sender id.
   *
   * @param senderId the sender id (not blank, at most {@value #MAX_SENDER_ID_LENGTH} characters)
   * @return the copy
   * @throws IllegalArgumentException for a blank or too long id
   */
  public TaskOutbox withSenderId(String senderId) {
    return new TaskOutbox(server, table, checkSenderId(senderId));
  }

  /**
   * Returns the sender id rows are written under.
   *
   * @return the sender id
   */
  public String senderId() {
    return senderId;
  }

  /**
   * Returns the outbox table's name.
   *
   * @return the table name
   */
  public String table() {
    return table.name();
  }

  /**
   * Writes a task to the outbox inside the caller's transaction; the relay publishes it once the
   * transaction commits.
   *
   * @param connection the caller's connection, in a transaction (auto-commit off); not committed,
   *     rolled back or closed here
   * @param signature the task
   * @return a handle to the task's result
   * @throws IllegalArgumentException for a task {@link Server#sendTask} refuses (no name, a value
   *     that does not fit its Go type, over {@link io.machinery.config.Config#maxMessageBytes()});
   *     nothing is written then
   * @throws IllegalStateException when the connection is in auto-commit mode
   * @throws SQLException when the insert fails (the caller's transaction decides what follows)
   */
  public AsyncResult sendTask(Connection connection, Signature signature) throws SQLException {
    Row row = task(signature);
    insert(connection, List.of(row));
    return server.asyncResult(row.uuid());
  }

  /**
   * Writes a group to the outbox inside the caller's transaction: one row recording the group (Go's
   * {@code InitGroup}, done by the relay), then one row per member, all under this sender, in
   * order.
   *
   * @param connection the caller's connection, in a transaction (auto-commit off)
   * @param group the group
   * @return one handle per member, in the group's order
   * @throws IllegalArgumentException when a member would be refused by {@link #sendTask}
   * @throws IllegalStateException when the connection is in auto-commit mode
   * @throws SQLException when the insert fails
   */
  public List<AsyncResult> sendGroup(Connection connection, Group group) throws SQLException {
    List<Row> rows = new ArrayList<>(group.tasks().size() + 1);
    GroupMeta meta =
        GroupMeta.create(group.groupUuid(), group.taskUuids(), OffsetDateTime.now(ZoneOffset.UTC));
    rows.add(
        new Row(
            OutboxTable.KIND_GROUP,
            group.groupUuid(),
            "",
            new String(WireCodec.encode(meta), StandardCharsets.UTF_8)));
    for (Signature member : group.tasks()) {
      rows.add(task(member));
    }
    insert(connection, rows);
    List<AsyncResult> results = new ArrayList<>(group.tasks().size());
    for (Signature member : group.tasks()) {
      results.add(server.asyncResult(member.uuid()));
    }
    return results;
  }

  /**
   * Writes a chord to the outbox inside the caller's transaction: its group as {@link #sendGroup}
   * does, each member carrying the callback, which the worker completing the group sends (as for
   * {@link Server#sendChord}).
   *
   * @param connection the caller's connection, in a transaction (auto-commit off)
   * @param chord the chord
   * @return a handle to the callback's result (its {@code chord_} UUID)
   * @throws IllegalArgumentException when a member or the callback would be refused by {@link
   *     #sendTask}; nothing is written then
   * @throws IllegalStateException when the connection is in auto-commit mode
   * @throws SQLException when the insert fails
   */
  public AsyncResult sendChord(Connection connection, Chord chord) throws SQLException {
    WireCodec.checkTask(chord.callback());
    sendGroup(connection, chord.group());
    return server.asyncResult(chord.callback().uuid());
  }

  /**
   * Writes a chain to the outbox inside the caller's transaction: one row, its first task, carrying
   * the rest nested in {@code OnSuccess} (Go's wire form of a chain); each next task is sent by the
   * worker that completes the one before it (as for {@link Server#sendChain}).
   *
   * @param connection the caller's connection, in a transaction (auto-commit off)
   * @param chain the chain
   * @return one handle per task, in chain order: the last one's result is the chain's; when a task
   *     fails for good, its handle fails and the later ones stay PENDING (they never run)
   * @throws IllegalArgumentException when a task would be refused by {@link #sendTask}; nothing is
   *     written then
   * @throws IllegalStateException when the connection is in auto-commit mode
   * @throws SQLException when the insert fails
   */
  public List<AsyncResult> sendChain(Connection connection, Chain chain) throws SQLException {
    // the first task nests the others: checking and encoding it covers the whole chain
    sendTask(connection, chain.tasks().get(0));
    List<AsyncResult> results = new ArrayList<>(chain.tasks().size());
    for (Signature task : chain.tasks()) {
      results.add(server.asyncResult(task.uuid()));
    }
    return results;
  }

  /**
   * Writes a saga to the outbox inside the caller's transaction: one row, its first step, carrying
   * the rest nested as a chain's and each step's compensations (as for {@link Server#sendSaga}).
   *
   * @param connection the caller's connection, in a transaction (auto-commit off)
   * @param saga the saga
   * @return a handle that waits until the saga settled
   * @throws IllegalArgumentException when a task would be refused by {@link #sendTask}; nothing is
   *     written then
   * @throws UnsupportedOperationException when the server's result backend reads consume states (as
   *     {@link Server#sendSaga})
   * @throws IllegalStateException when the connection is in auto-commit mode
   * @throws SQLException when the insert fails
   */
  public SagaAsyncResult sendSaga(Connection connection, Saga saga) throws SQLException {
    if (server.backend().consumesStatesOnRead()) {
      throw new UnsupportedOperationException(
          "a saga needs a result backend that keeps states when they are read; this one's reads"
              + " consume them (Go's AMQP backend)");
    }
    // the first step nests the others and their compensations: checking it covers the whole saga
    sendTask(connection, saga.steps().get(0));
    return server.sagaResult(saga);
  }

  /**
   * Writes a DAG to the outbox inside the caller's transaction: one row per group of dependencies
   * ({@link Dag#dependencyGroups}, recorded by the relay as {@link Server#sendDag} records them),
   * then one row per task that depends on none. Each other task is sent by the worker on which the
   * last of its dependencies succeeds (as for {@code sendDag}).
   *
   * @param connection the caller's connection, in a transaction (auto-commit off)
   * @param dag the DAG
   * @return one handle per task, by name, in the order the tasks were added
   * @throws IllegalArgumentException when a task would be refused by {@link #sendTask}; nothing is
   *     written then
   * @throws UnsupportedOperationException when the server's result backend reads consume states (as
   *     {@link Server#sendDag})
   * @throws IllegalStateException when the connection is in auto-commit mode
   * @throws SQLException when the insert fails
   */
  public Map<String, AsyncResult> sendDag(Connection connection, Dag dag) throws SQLException {
    if (server.backend().consumesStatesOnRead()) {
      throw new UnsupportedOperationException(
          "a DAG needs a result backend that keeps states when they are read; this one's reads"
              + " consume them (Go's AMQP backend)");
    }
    List<Row> rows = new ArrayList<>();
    OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
    for (Map.Entry<String, List<String>> group : dag.dependencyGroups().entrySet()) {
      GroupMeta meta = GroupMeta.create(group.getKey(), group.getValue(), now);
      rows.add(
          new Row(
              OutboxTable.KIND_GROUP,
              group.getKey(),
              "",
              new String(WireCodec.encode(meta), StandardCharsets.UTF_8)));
    }
    Map<String, AsyncResult> results = new LinkedHashMap<>();
    for (Map.Entry<String, Signature> task : dag.tasks().entrySet()) {
      Row row = task(task.getValue()); // checks every task, sent now or by a worker later
      if (dag.dependencies(task.getKey()).isEmpty()) {
        rows.add(row);
      }
      results.put(task.getKey(), server.asyncResult(row.uuid()));
    }
    insert(connection, rows);
    return Collections.unmodifiableMap(results);
  }

  /**
   * Runs {@code work} in a transaction of its own on a connection from {@code dataSource}: commits
   * when it returns, rolls back when it throws (then nothing it sent is published).
   *
   * @param dataSource where the connection comes from
   * @param work the caller's statements and sends; it must not commit, roll back or close the
   *     connection
   * @param <T> what the work returns
   * @return what the work returned
   * @throws SQLException from the work, the commit or the connection
   */
  public <T extends @Nullable Object> T inTransaction(DataSource dataSource, Work<T> work)
      throws SQLException {
    try (Connection connection = dataSource.getConnection()) {
      boolean autoCommit = connection.getAutoCommit();
      connection.setAutoCommit(false);
      T result;
      try {
        result = work.run(connection);
        connection.commit();
      } catch (SQLException | RuntimeException | Error e) {
        try {
          connection.rollback();
          connection.setAutoCommit(autoCommit);
        } catch (SQLException cleanup) {
          e.addSuppressed(cleanup); // the work's failure is what the caller needs to see
        }
        throw e;
      }
      connection.setAutoCommit(autoCommit); // a pooled connection goes back as it came
      return result;
    }
  }

  /**
   * Creates the outbox table and its indexes if they are missing ({@link #DDL_RESOURCE}, under this
   * outbox's table name), adds the columns of later versions to a table an earlier version created,
   * and commits that when the connection is not in auto-commit mode.
   *
   * @param connection a connection allowed to create tables
   * @throws SQLException when the DDL fails
   */
  public void createTable(Connection connection) throws SQLException {
    table.create(connection);
  }

  /**
   * Returns the table's DDL as shipped in {@link #DDL_RESOURCE}.
   *
   * @return the SQL script, for {@link #DEFAULT_TABLE}
   */
  public static String ddl() {
    return OutboxTable.ddl();
  }

  /**
   * The caller's work inside {@link #inTransaction}.
   *
   * @param <T> what it returns
   */
  @FunctionalInterface
  public interface Work<T extends @Nullable Object> {
    /**
     * Runs the caller's statements and sends.
     *
     * @param connection the transaction's connection
     * @return anything the caller wants back
     * @throws SQLException to roll back
     */
    T run(Connection connection) throws SQLException;
  }

  private record Row(String kind, String uuid, String name, String message) {}

  private Row task(Signature signature) {
    WireCodec.checkTask(signature); // what Server.sendTask refuses, in its words
    Signature.Builder b = signature.toBuilder();
    if (signature.uuid().isEmpty()) {
      b.uuid(Uuids.newTaskUuid());
    }
    if (!signature.hasHeaders()) {
      b.headers(Map.of()); // Go's SendTask always makes Headers non-nil
    }
    Signature ready = b.build();
    byte[] message = WireCodec.encode(ready);
    int limit = server.config().maxMessageBytes();
    if (message.length > limit) {
      throw new IllegalArgumentException(
          "task "
              + ready.name()
              + " "
              + ready.uuid()
              + " is "
              + message.length
              + " bytes, over the limit of "
              + limit
              + " (Config.maxMessageBytes)");
    }
    return new Row(
        OutboxTable.KIND_TASK,
        ready.uuid(),
        ready.name(),
        new String(message, StandardCharsets.UTF_8));
  }

  private void insert(Connection connection, List<Row> rows) throws SQLException {
    if (connection.getAutoCommit()) {
      throw new IllegalStateException(
          "the connection is in auto-commit mode, so the task would be published whatever the"
              + " caller's transaction does: call connection.setAutoCommit(false) first, or use"
              + " TaskOutbox.inTransaction");
    }
    try (PreparedStatement insert = connection.prepareStatement(table.insert())) {
      for (Row row : rows) {
        insert.setString(1, senderId);
        insert.setString(2, row.kind());
        insert.setString(3, row.uuid());
        insert.setString(4, row.name());
        insert.setString(5, row.message());
        if (rows.size() == 1) {
          insert.executeUpdate();
        } else {
          insert.addBatch();
        }
      }
      if (rows.size() > 1) {
        insert.executeBatch();
      }
    }
  }

  private static String checkSenderId(String senderId) {
    if (senderId.isBlank() || senderId.length() > MAX_SENDER_ID_LENGTH) {
      throw new IllegalArgumentException(
          "sender id must be 1 to "
              + MAX_SENDER_ID_LENGTH
              + " characters and not blank, was \""
              + senderId
              + "\"");
    }
    return senderId;
  }

  /** Builds a {@link TaskOutbox}; not thread-safe. */
  public static final class Builder {
    private final Server server;
    private String table = DEFAULT_TABLE;
    private String senderId = DEFAULT_SENDER_ID;

    private Builder(Server server) {
      this.server = server;
    }

    /**
     * Sets the outbox table.
     *
     * @param value a plain SQL identifier, optionally {@code schema.table}
     * @return this builder
     * @throws IllegalArgumentException for anything else
     */
    public Builder table(String value) {
      OutboxTable.named(value);
      this.table = value;
      return this;
    }

    /**
     * Sets the sender id rows are written under (see the class notes on senders and order).
     *
     * @param value not blank, at most {@value TaskOutbox#MAX_SENDER_ID_LENGTH} characters
     * @return this builder
     * @throws IllegalArgumentException for a blank or too long id
     */
    public Builder senderId(String value) {
      this.senderId = checkSenderId(value);
      return this;
    }

    /**
     * Builds the writer.
     *
     * @return the outbox writer
     */
    public TaskOutbox build() {
      return new TaskOutbox(server, OutboxTable.named(table), senderId);
    }
  }
}
