package io.machinery.outbox.jdbc.internal;

import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.StateNotFoundException;
import io.machinery.outbox.jdbc.OutboxRelay;
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
import java.util.List;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pass of an {@link OutboxRelay} over its table, in one transaction: claim senders, read their
 * rows, publish them in order, delete what the broker accepted, commit. The claiming and ordering
 * rules are in {@link OutboxRelay}'s notes. Used by one thread; it keeps nothing between passes.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Failing senders yield, on every relay.</b> A sender whose publish failed (the broker is
 *       down, or its rows are refused: a pre-publish handler, a full bounded queue) or whose first
 *       unpublished row cannot be decoded has the failure written into that row, its token: {@code
 *       attempts} counts its failures in a row, {@code next_attempt_at} says when it may be tried
 *       again (the database's clock plus {@link Backoff#after} its attempts for a publish, plus
 *       {@link Backoff#max} for an undecodable row, which waits for a person). The write commits
 *       with the pass. A claim takes only senders whose token is due, those that never failed
 *       first, then the failing ones, the one due longest first: so every relay on the table
 *       honours the back-off, senders that keep failing never fill a pass, and a relay restarted
 *       does not retry them early. A sender whose first row changes (published, or deleted by a
 *       person) starts afresh, its next row having no attempts.
 *   <li><b>A group is recorded once.</b> A pass that fails after a group row's {@code initGroup}
 *       leaves the row, and the retry must not record the group again: every backend but AMQP's
 *       replaces the meta, resetting {@code ChordTriggered}, so members that already ran and fired
 *       the chord would fire it again when their republished messages run. The relay records a
 *       group before storing its members' PENDING, so a group whose first member has no state was
 *       not recorded (one read per group row, the common case). When the member has a state, the
 *       group's meta is read too ({@link Backend#groupCompleted}): the meta and the state expire
 *       apart (the meta is written first, and a member's state is written again, with a new expiry,
 *       each time it changes), so a retry after the meta expired records the group again rather
 *       than leave the chord to fail with "Group not found", unless the chord fired already: its
 *       callback has a state (the marker a worker's chord completion reads too), which outlives the
 *       meta, so the republished members, finding no group, leave the fired chord alone. The
 *       callback's UUID is read from the group's first member, in the rows after the group's; a
 *       member beyond the batch (a group row last in its batch) is not seen, and such a group is
 *       recorded again as a plain group would be. A chord costs one more read per group row. Where
 *       reads consume states (AMQP) nothing is read, and there {@code initGroup} stores nothing.
 * </ul>
 */
public final class RelayPass {
  /** Logged under the public class, where a user looks for the relay's lines. */
  private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

  /**
   * What a committed pass did.
   *
   * @param published rows published and deleted
   * @param failure why the pass stopped early: a sender's publish failed or its row cannot be
   *     decoded, recorded in its token row (it waits its back-off); or null
   */
  public record Result(int published, @Nullable Throwable failure) {}

  private final Server server;
  private final OutboxTable table;
  private final int batchSize;
  private final int maxSenders;
  private final Backoff backoff;

  /**
   * The most senders a claim lists ({@link OutboxTable#listSenders}) before it reads the waiting
   * rows instead, the size of the first page of those, and the least number of waiting rows it
   * reads in pages before it claims among the rest by reading the sender index once: more in a
   * larger table ({@link ClaimTuning}).
   */
  private final int listingBound;

  private final ClaimTuning claimTuning;

  /** The most rows of a page: its {@code seq}s are gathered into one array. */
  private static final int MAX_PAGE = 1 << 16;

  /**
   * A pass over {@code table}, publishing through {@code server}.
   *
   * @param batchSize the most rows of one sender a pass publishes
   * @param maxSenders the most senders a pass claims
   * @param backoff a failing sender's wait, by its failures in a row
   * @param claimTuning how the claim finds senders ({@link ClaimTuning#DEFAULT} in a relay)
   */
  public RelayPass(
      Server server,
      OutboxTable table,
      int batchSize,
      int maxSenders,
      Backoff backoff,
      ClaimTuning claimTuning) {
    this.server = server;
    this.table = table;
    this.batchSize = batchSize;
    this.maxSenders = maxSenders;
    this.backoff = backoff;
    this.claimTuning = claimTuning;
    this.listingBound = claimTuning.listingBound(maxSenders);
  }

  /**
   * Runs a pass; rolls back and throws when it cannot commit.
   *
   * @param connection in a transaction (auto-commit off), nothing open on it
   * @param closed true once the relay is closed: the pass then stops and rolls back
   */
  public Result run(Connection connection, BooleanSupplier closed) throws SQLException {
    try {
      List<String> senders = claimSenders(connection);
      int done = 0;
      @Nullable RuntimeException failure = null;
      for (String sender : senders) {
        List<Row> rows = rows(connection, sender);
        if (rows.isEmpty()) {
          continue; // deleted by a person between the claim and this read
        }
        List<Decoded> publishable = decodable(rows, sender);
        try {
          publish(publishable);
        } catch (RuntimeException | Error e) {
          // an Error too: one a handler throws for these rows must not stop the other senders
          Duration wait = failed(connection, rows.get(0), false);
          failure =
              new MachineryException(
                  "publishing sender " + sender + " failed; it waits " + wait + ": " + e, e);
          break; // the broker (or backend) may be failing: leave the other senders for later
        }
        delete(connection, publishable);
        done += publishable.size();
        if (rows.get(0).attempts() > 0 && !publishable.isEmpty()) {
          LOG.info(
              "outbox relay on {}: sender {} relayed again after {} failed attempts",
              table.name(),
              sender,
              rows.get(0).attempts());
        }
        if (publishable.size() < rows.size()) {
          Row bad = rows.get(publishable.size());
          Duration wait = failed(connection, bad, true);
          failure =
              new MachineryException(
                  "row seq "
                      + bad.seq()
                      + " of sender "
                      + sender
                      + " cannot be decoded (see the error above); its sender waits "
                      + wait);
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

  /**
   * Records a failure of the sender whose first unpublished row is {@code token}, in that row;
   * returns how long it waits.
   *
   * @param undecodable the row cannot be decoded (it waits for a person), else a publish failed
   */
  private Duration failed(Connection connection, Row token, boolean undecodable)
      throws SQLException {
    Duration wait = undecodable ? backoff.max() : backoff.after(token.attempts() + 1);
    try (PreparedStatement update = connection.prepareStatement(table.recordFailure())) {
      update.setLong(1, wait.toMillis());
      update.setLong(2, token.seq());
      update.executeUpdate();
    }
    return wait;
  }

  /**
   * Claims up to {@code maxSenders} senders whose first row is due: those that did not fail in
   * {@code seq} order, then the failing ones, the one due longest first. Each claim reads an index
   * in its own order and stops at its limit (one statement ordered by both sorted every waiting row
   * on every pass); the due claim runs only when the first left room. The senders are listed first,
   * up to {@link #listingBound}. When that lists them all (a few senders' long backlogs, the
   * default being one sender; or a few senders all backing off), the senders that did not fail are
   * looked up among those listed: a few index descents instead of a read of every waiting row (1 ms
   * against 0.6 s for one sender's 100,000 rows). With more senders the claim reads the waiting
   * rows in {@code seq} order, in pages, claiming among each page's rows, and stops once it has
   * {@code maxSenders} senders ({@link #claimInPages}). Every claim locks the same rows, each
   * checked again in the locking statement (first of its sender, never failed); the listing and the
   * pages only choose how to find them.
   */
  private List<String> claimSenders(Connection connection) throws SQLException {
    List<String> senders = new ArrayList<>();
    try {
      Listing listing = listSenders(connection);
      if (!listing.complete()) {
        claimInPages(connection, senders);
      } else if (!listing.healthy().isEmpty()) {
        claim(connection, table.claimListedSenders(), listing.healthy(), senders);
      }
      if (senders.size() < maxSenders) {
        claim(connection, table.claimDueSenders(), null, senders);
      }
    } catch (SQLException e) {
      throw table.explainMissingColumns(e);
    }
    return senders;
  }

  /**
   * Claims senders that did not fail, in {@code seq} order, a page of the waiting rows at a time
   * ({@link OutboxTable#claimPage}, each page {@link ClaimTuning#pageGrowth} times the one before,
   * from {@link #listingBound} rows, at most {@value #MAX_PAGE}), claiming among each page's rows:
   * it stops once it has {@code maxSenders} senders, or has read every waiting row. Once it has
   * read the first page, or a share of the table's rows when that is more ({@link
   * ClaimTuning#groupingCost}: a sixteenth in a relay), and still has room, it claims among the
   * rows after the last page by reading the sender index once instead ({@link
   * OutboxTable#claimFirstRowsAfter}): a claim by lookups reads every waiting row when fewer
   * senders can be claimed than it may take, each with a lookup (0.36 s a pass for 10,000 senders'
   * 100,000 rows all backing off, a broker outage); the sender index is read at about a tenth of
   * that. The pages and the last claim cover disjoint rows, each after the one before, so no row is
   * claimed twice and the senders come in {@code seq} order.
   */
  private void claimInPages(Connection connection, List<String> senders) throws SQLException {
    long after = Long.MIN_VALUE;
    long read = 0;
    long bound = listingBound;
    long page = listingBound;
    while (senders.size() < maxSenders) {
      if (read >= bound) {
        claim(connection, table.claimFirstRowsAfter(), after, senders);
        return;
      }
      int size = (int) Math.min(Math.min(page, MAX_PAGE), bound - read);
      Page claimed = claimPage(connection, after, size, senders);
      if (claimed.rows() < size) {
        return; // every waiting row read
      }
      after = claimed.last();
      read += size;
      page *= claimTuning.pageGrowth();
      bound = Math.max(bound, claimed.span() / claimTuning.groupingCost());
    }
  }

  /**
   * A page of waiting rows a claim read.
   *
   * @param rows how many rows it held
   * @param last the last row's {@code seq}, when it held any
   * @param span the span of the table's {@code seq}s: at least its rows less one
   */
  private record Page(int rows, long last, long span) {}

  /** Claims among the page of up to {@code size} waiting rows after {@code after}. */
  private Page claimPage(Connection connection, long after, int size, List<String> senders)
      throws SQLException {
    int rows = 0;
    long last = after;
    long span = 0;
    try (PreparedStatement select = connection.prepareStatement(table.claimPage())) {
      select.setLong(1, after);
      select.setInt(2, size);
      select.setInt(3, maxSenders - senders.size());
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          String sender = rs.getString(1);
          if (sender != null) {
            senders.add(sender);
          } else {
            rows = rs.getInt(3);
            last = rows > 0 ? rs.getLong(2) : after;
            span = rs.getLong(4); // 0 when the table is empty
          }
        }
      }
    }
    return new Page(rows, last, span);
  }

  /**
   * Senders listed before a claim.
   *
   * @param complete whether every sender of the table was listed
   * @param healthy the first rows of the listed senders that did not fail
   */
  private record Listing(boolean complete, List<Long> healthy) {}

  /** Lists up to {@link #listingBound} senders, and whether there are more. */
  private Listing listSenders(Connection connection) throws SQLException {
    List<Long> healthy = new ArrayList<>();
    int senders = 0;
    try (PreparedStatement select = connection.prepareStatement(table.listSenders())) {
      select.setInt(1, listingBound + 1); // at most Integer.MAX_VALUE: see ClaimTuning
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          senders++;
          if (rs.getBoolean(2)) {
            healthy.add(rs.getLong(1));
          }
        }
      }
    }
    return new Listing(senders <= listingBound, healthy);
  }

  /**
   * Runs a claim statement, whose last parameter is the limit, adding the senders it locked.
   *
   * @param first the first parameter: a list of {@code seq}s (an array) or a {@code seq}, or null
   *     when the statement has none
   */
  private void claim(
      Connection connection, String sql, @Nullable Object first, List<String> senders)
      throws SQLException {
    try (PreparedStatement select = connection.prepareStatement(sql)) {
      int parameter = 1;
      if (first instanceof List<?> seqs) {
        select.setArray(parameter++, connection.createArrayOf("bigint", seqs.toArray()));
      } else if (first instanceof Long seq) {
        select.setLong(parameter++, seq);
      }
      select.setInt(parameter, maxSenders - senders.size());
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          senders.add(rs.getString(1));
        }
      }
    }
  }

  private record Row(
      long seq, String kind, String uuid, String name, String message, int attempts) {}

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
                  rs.getString(5),
                  rs.getInt(6)));
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
            table.name(),
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
    for (int i = 0; i < rows.size(); i++) {
      if (rows.get(i).value() instanceof GroupMeta group) {
        flush(run);
        try {
          if (!recordedBefore(group, chordCallback(group, rows.subList(i + 1, rows.size())))) {
            server.backend().initGroup(group.groupUuid(), group.taskUuids());
          }
        } catch (RuntimeException e) {
          throw new MachineryException("Init group error: " + e.getMessage(), e);
        }
      } else {
        run.add((Signature) rows.get(i).value());
      }
    }
    flush(run);
  }

  /**
   * The UUID of the chord callback {@code group}'s members carry, read from its first member among
   * the rows after the group's (they follow it when it was sent as a group or a chord); null for a
   * plain group, or when the member is not in this batch.
   */
  private static @Nullable String chordCallback(GroupMeta group, List<Decoded> after) {
    if (group.taskUuids().isEmpty()) {
      return null;
    }
    String first = group.taskUuids().get(0);
    for (Decoded row : after) {
      if (row.value() instanceof Signature task && task.uuid().equals(first)) {
        Signature callback = task.chordCallback();
        return callback == null ? null : callback.uuid();
      }
    }
    return null;
  }

  /**
   * Whether an earlier attempt at this group row recorded the group, and recording it again could
   * fire its chord a second time (see the notes): its meta is still there, or the chord fired
   * already, its callback having a state. False where reads consume states.
   *
   * @param callback the UUID of the group's chord callback, null when unknown or not a chord
   */
  private boolean recordedBefore(GroupMeta group, @Nullable String callback) {
    Backend backend = server.backend();
    if (backend.consumesStatesOnRead() || group.taskUuids().isEmpty()) {
      return false;
    }
    if (backend.getState(group.taskUuids().get(0)).isPresent() && metaPresent(group)) {
      return true;
    }
    // The callback's state is written after the meta and again when it runs: it outlives the meta.
    return callback != null && backend.getState(callback).isPresent();
  }

  /** Whether the backend still has the group's meta. */
  private boolean metaPresent(GroupMeta group) {
    try {
      server.backend().groupCompleted(group.groupUuid(), group.taskUuids().size());
      return true;
    } catch (StateNotFoundException e) {
      return e.missing() != StateNotFoundException.Missing.GROUP; // a member's state: meta read
    } catch (MachineryException e) {
      String message = e.getMessage();
      if (message != null && message.contains("Group not found")) {
        return false; // Go's words from a backend that does not use StateNotFoundException
      }
      throw e;
    }
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
