package io.machinery.outbox.jdbc;

import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.spi.GroupMeta;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pass of an {@link OutboxRelay} over its table, in one transaction: claim senders, read their
 * rows, publish them in order, delete what the broker accepted, commit. The claiming and ordering
 * rules are in {@link OutboxRelay}'s notes. Stateless between passes; used by one thread.
 */
final class RelayPass {
  /** Logged under the public class, where a user looks for the relay's lines. */
  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

  /**
   * What a committed pass did.
   *
   * @param published rows published and deleted
   * @param failure why the pass stopped early (a broker failure, an undecodable row), or null
   */
  record Result(int published, @Nullable RuntimeException failure) {}

  private final Server server;
  private final OutboxTable table;
  private final int batchSize;
  private final int maxSenders;
  private final long recheckNanos;

  /**
   * Rows that cannot be published ({@code seq}), each with the {@link System#nanoTime} after which
   * it is tried again: until then its sender is passed over, so that senders blocked by bad rows,
   * always the oldest, never fill a pass's {@code maxSenders} and starve the others.
   */
  private final Map<Long, Long> blocked = new HashMap<>();

  /**
   * The sender whose publish failed in the last pass, or null. It goes last in the next pass: a
   * pass stops at a failed publish (the broker is likely down), and a failure of one sender's rows
   * only (a task the pre-publish handler refuses, a full bounded queue) must not stop the senders
   * claimed after it for ever, as the oldest sender is always claimed first.
   */
  private @Nullable String failedLast;

  RelayPass(Server server, OutboxTable table, int batchSize, int maxSenders, Duration recheck) {
    this.server = server;
    this.table = table;
    this.batchSize = batchSize;
    this.maxSenders = maxSenders;
    this.recheckNanos = recheck.toNanos();
  }

  /**
   * Runs a pass; rolls back and throws when it cannot commit.
   *
   * @param connection in a transaction (auto-commit off), nothing open on it
   * @param closed true once the relay is closed: the pass then stops and rolls back
   */
  Result run(Connection connection, BooleanSupplier closed) throws SQLException {
    try {
      List<String> senders = claimSenders(connection);
      if (failedLast != null && senders.remove(failedLast)) {
        senders.add(failedLast);
      }
      failedLast = null;
      int done = 0;
      @Nullable RuntimeException failure = null;
      for (String sender : senders) {
        List<Row> rows = rows(connection, sender);
        List<Decoded> publishable = decodable(rows, sender);
        try {
          publish(publishable);
        } catch (RuntimeException e) {
          failure = e;
          failedLast = sender;
          break; // the broker (or backend) is failing: leave the other senders for later
        }
        delete(connection, publishable);
        done += publishable.size();
        if (publishable.size() < rows.size()) {
          long bad = rows.get(publishable.size()).seq();
          blocked.put(bad, System.nanoTime() + recheckNanos);
          failure =
              new MachineryException(
                  "row seq "
                      + bad
                      + " of sender "
                      + sender
                      + " cannot be decoded (see the error above)");
        }
        if (closed.getAsBoolean()) {
          throw new MachineryException("relay closed during a pass");
        }
      }
      connection.commit();
      return new Result(done, failure);
    } catch (SQLException | RuntimeException e) {
      try {
        connection.rollback();
      } catch (SQLException rollback) {
        e.addSuppressed(rollback);
      }
      throw e;
    }
  }

  /** Claims up to {@code maxSenders} senders, passing over those whose first row is blocked. */
  private List<String> claimSenders(Connection connection) throws SQLException {
    long now = System.nanoTime();
    blocked.values().removeIf(until -> until - now <= 0);
    List<String> senders = new ArrayList<>();
    try (PreparedStatement select = connection.prepareStatement(table.claimSenders())) {
      // each blocked row takes at most one place in the answer: ask for that many more
      select.setInt(1, (int) Math.min(Integer.MAX_VALUE, (long) maxSenders + blocked.size()));
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next() && senders.size() < maxSenders) {
          if (!blocked.containsKey(rs.getLong(2))) {
            senders.add(rs.getString(1));
          }
        }
      }
    }
    return senders;
  }

  private record Row(long seq, String kind, String uuid, String name, String message) {}

  private List<Row> rows(Connection connection, String sender) throws SQLException {
    List<Row> rows = new ArrayList<>();
    try (PreparedStatement select = connection.prepareStatement(table.senderRows())) {
      select.setString(1, sender);
      select.setInt(2, batchSize);
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          rows.add(
              new Row(
                  rs.getLong(1),
                  rs.getString(2),
                  rs.getString(3),
                  rs.getString(4),
                  rs.getString(5)));
        }
      }
    }
    return rows;
  }

  /** A row and what its message decodes to: a {@link Signature} or a {@link GroupMeta}. */
  private record Decoded(Row row, Object value) {}

  /** The leading rows that decode; logs the first that does not. */
  private List<Decoded> decodable(List<Row> rows, String sender) {
    List<Decoded> decoded = new ArrayList<>(rows.size());
    for (Row row : rows) {
      try {
        decoded.add(new Decoded(row, decode(row)));
      } catch (RuntimeException e) {
        LOG.error(
            "outbox relay on {}: row seq {} of sender {} (kind {}, uuid {}, name {}) cannot be"
                + " published and blocks its sender until it is deleted or repaired: {}",
            table.name,
            row.seq(),
            sender,
            row.kind(),
            row.uuid(),
            row.name(),
            e.getMessage());
        break;
      }
    }
    return decoded;
  }

  private Object decode(Row row) {
    byte[] bytes = row.message().getBytes(StandardCharsets.UTF_8);
    return switch (row.kind()) {
      case OutboxTable.KIND_TASK -> WireCodec.decodeSignature(bytes, server.config());
      case OutboxTable.KIND_GROUP -> WireCodec.decodeGroupMeta(bytes);
      default -> throw new IllegalArgumentException("unknown row kind \"" + row.kind() + "\"");
    };
  }

  /** Publishes one sender's rows in order: runs of tasks together, a group's record before them. */
  private void publish(List<Decoded> rows) {
    List<Signature> run = new ArrayList<>();
    for (Decoded row : rows) {
      if (row.value() instanceof GroupMeta group) {
        flush(run);
        try {
          server.backend().initGroup(group.groupUuid(), group.taskUuids());
        } catch (RuntimeException e) {
          throw new MachineryException("Init group error: " + e.getMessage(), e);
        }
      } else {
        run.add((Signature) row.value());
      }
    }
    flush(run);
  }

  private void flush(List<Signature> run) {
    if (!run.isEmpty()) {
      server.sendTasks(List.copyOf(run));
      run.clear();
    }
  }

  private void delete(Connection connection, List<Decoded> rows) throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    try (PreparedStatement delete = connection.prepareStatement(table.delete())) {
      for (Decoded row : rows) {
        delete.setLong(1, row.row().seq());
        delete.addBatch();
      }
      delete.executeBatch();
    }
  }
}
