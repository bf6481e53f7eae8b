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
import java.util.ArrayList;
import java.util.List;
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

  RelayPass(Server server, OutboxTable table, int batchSize, int maxSenders) {
    this.server = server;
    this.table = table;
    this.batchSize = batchSize;
    this.maxSenders = maxSenders;
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
      int done = 0;
      @Nullable RuntimeException failure = null;
      for (String sender : senders) {
        List<Row> rows = rows(connection, sender);
        List<Decoded> publishable = decodable(rows, sender);
        try {
          publish(publishable);
        } catch (RuntimeException e) {
          failure = e;
          break; // the broker (or backend) is failing: leave the other senders for later
        }
        delete(connection, publishable);
        done += publishable.size();
        if (publishable.size() < rows.size()) {
          failure =
              new MachineryException(
                  "row seq "
                      + rows.get(publishable.size()).seq()
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

  private List<String> claimSenders(Connection connection) throws SQLException {
    List<String> senders = new ArrayList<>();
    try (PreparedStatement select = connection.prepareStatement(table.claimSenders())) {
      select.setInt(1, maxSenders);
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          senders.add(rs.getString(1));
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
