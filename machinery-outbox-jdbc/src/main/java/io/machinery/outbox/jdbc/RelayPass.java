package io.machinery.outbox.jdbc;

import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.spi.Backend;
import io.machinery.spi.GroupMeta;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pass of an {@link OutboxRelay} over its table, in one transaction: claim senders, read their
 * rows, publish them in order, delete what the broker accepted, commit. The claiming and ordering
 * rules are in {@link OutboxRelay}'s notes. Used by one thread.
 *
 * <p>Design notes: the state kept between passes.
 *
 * <ul>
 *   <li><b>Failing senders yield.</b> A sender whose publish failed (the broker is down, or its
 *       rows are refused: a pre-publish handler, a full bounded queue) or whose first unpublished
 *       row cannot be decoded is remembered by its first row's {@code seq}, the token a pass
 *       claims, with the number of its failures in a row and when it may be tried again: after
 *       {@link Backoff#after} its failures for a publish, after {@link Backoff#max} for an
 *       undecodable row (it waits for a person). Until then passes pass over it. Once due, it comes
 *       after every sender that did not fail, the one due longest first. A claim asks for one more
 *       first row per failing sender it knows, beyond {@code maxSenders} (the first rows it passes
 *       over stay locked until the pass ends, so another relay skips those senders meanwhile), so
 *       senders that keep failing, always the oldest rows, never fill a pass and starve the others,
 *       however many of them there are. A sender whose first row changes (published, or deleted by
 *       a person) starts afresh; entries whose row a claim no longer sees are forgotten, so the
 *       memory holds at most one claim's rows.
 *   <li><b>A group is recorded once.</b> A pass that fails after a group row's {@code initGroup}
 *       leaves the row, and the retry must not record the group again: every backend but AMQP's
 *       replaces the meta, resetting {@code ChordTriggered}, so members that already ran and fired
 *       the chord would fire it again when their republished messages run. The relay records a
 *       group before storing its members' PENDING, and a chord fires only once every member has a
 *       state, so a retry skips {@code initGroup} when the group's first member has a state (one
 *       read per group row). Where reads consume states (AMQP) it is not asked, and there {@code
 *       initGroup} stores nothing.
 * </ul>
 */
final class RelayPass {
  /** Logged under the public class, where a user looks for the relay's lines. */
  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

  /**
   * What a committed pass did.
   *
   * @param published rows published and deleted
   * @param waiting senders passed over because their back-off after a failure has not run out
   * @param failure why the pass stopped early (a broker failure, an undecodable row) or failed, or
   *     null
   */
  record Result(int published, int waiting, @Nullable Throwable failure) {}

  private final Server server;
  private final OutboxTable table;
  private final int batchSize;
  private final int maxSenders;
  private final Backoff backoff;

  /** Failing senders, by their first row's {@code seq} (see the notes). */
  private final Map<Long, Failing> failing = new HashMap<>();

  /** A sender's failures in a row and the {@link System#nanoTime} it may be tried again at. */
  private static final class Failing {
    int failures;
    long retryAt;
  }

  RelayPass(Server server, OutboxTable table, int batchSize, int maxSenders, Backoff backoff) {
    this.server = server;
    this.table = table;
    this.batchSize = batchSize;
    this.maxSenders = maxSenders;
    this.backoff = backoff;
  }

  /**
   * Runs a pass; rolls back and throws when it cannot commit.
   *
   * @param connection in a transaction (auto-commit off), nothing open on it
   * @param closed true once the relay is closed: the pass then stops and rolls back
   */
  Result run(Connection connection, BooleanSupplier closed) throws SQLException {
    try {
      Claim claim = claimSenders(connection);
      int done = 0;
      @Nullable RuntimeException failure = null;
      for (String sender : claim.senders()) {
        List<Row> rows = rows(connection, sender);
        List<Decoded> publishable = decodable(rows, sender);
        try {
          publish(publishable);
        } catch (RuntimeException | Error e) {
          // an Error too: one a handler throws for these rows must not stop the other senders
          Duration wait = failed(rows.get(0).seq(), false);
          failure =
              new MachineryException(
                  "publishing sender " + sender + " failed; it waits " + wait + ": " + e, e);
          break; // the broker (or backend) may be failing: leave the other senders for later
        }
        delete(connection, publishable);
        done += publishable.size();
        if (publishable.size() < rows.size()) {
          long bad = rows.get(publishable.size()).seq();
          failed(bad, true);
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
      return new Result(done, claim.waiting(), failure);
    } catch (SQLException | RuntimeException e) {
      try {
        connection.rollback();
      } catch (SQLException rollback) {
        e.addSuppressed(rollback);
      }
      throw e;
    }
  }

  /**
   * Records a failure of the sender whose first row is {@code token}; returns how long it waits.
   *
   * @param undecodable the row cannot be decoded (it waits for a person), else a publish failed
   */
  private Duration failed(long token, boolean undecodable) {
    Failing entry = failing.computeIfAbsent(token, t -> new Failing());
    entry.failures++;
    Duration wait = undecodable ? backoff.max() : backoff.after(entry.failures);
    entry.retryAt = System.nanoTime() + wait.toNanos();
    return wait;
  }

  /**
   * The senders a pass works on, in the order it takes them, and how many it passed over.
   *
   * @param senders at most {@code maxSenders}
   * @param waiting senders whose back-off has not run out
   */
  private record Claim(List<String> senders, int waiting) {}

  /** A failing sender whose back-off ran out. */
  private record Due(String sender, long retryAt) {}

  /**
   * Claims up to {@code maxSenders} senders: those that did not fail in {@code seq} order, then the
   * failing ones that are due, the one due longest first.
   */
  private Claim claimSenders(Connection connection) throws SQLException {
    long now = System.nanoTime();
    List<String> senders = new ArrayList<>();
    List<Due> due = new ArrayList<>();
    Set<Long> seen = new HashSet<>();
    int waiting = 0;
    try (PreparedStatement select = connection.prepareStatement(table.claimSenders())) {
      // each failing sender takes at most one place in the answer: ask for that many more
      select.setInt(1, (int) Math.min(Integer.MAX_VALUE, (long) maxSenders + failing.size()));
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          String sender = rs.getString(1);
          long seq = rs.getLong(2);
          Failing entry = failing.get(seq);
          if (entry == null) {
            if (senders.size() < maxSenders) {
              senders.add(sender);
            }
          } else {
            seen.add(seq);
            if (entry.retryAt - now > 0) {
              waiting++;
            } else {
              due.add(new Due(sender, entry.retryAt));
            }
          }
        }
      }
    }
    failing.keySet().retainAll(seen);
    due.sort(Comparator.comparingLong(d -> d.retryAt() - now)); // nanoTime may wrap: compare gaps
    for (Due sender : due) {
      if (senders.size() == maxSenders) {
        break;
      }
      senders.add(sender.sender());
    }
    return new Claim(senders, waiting);
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
          if (!recordedBefore(group)) {
            server.backend().initGroup(group.groupUuid(), group.taskUuids());
          }
        } catch (RuntimeException e) {
          throw new MachineryException("Init group error: " + e.getMessage(), e);
        }
      } else {
        run.add((Signature) row.value());
      }
    }
    flush(run);
  }

  /**
   * Whether an earlier attempt at this group row recorded the group: its first member has a state
   * (see the notes). False where reads consume states.
   */
  private boolean recordedBefore(GroupMeta group) {
    Backend backend = server.backend();
    if (backend.consumesStatesOnRead() || group.taskUuids().isEmpty()) {
      return false;
    }
    return backend.getState(group.taskUuids().get(0)).isPresent();
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
