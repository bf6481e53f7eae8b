package io.machinery.outbox.jdbc.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The outbox table's name and every SQL statement on it, shared by the writer and the relay.
 *
 * <p>The table name is put into SQL text (JDBC cannot bind identifiers), so it is checked against a
 * plain identifier pattern, optionally schema-qualified, and nothing else gets in.
 */
public final class OutboxTable {
  public static final String DEFAULT_NAME = "machinery_outbox";
  public static final String DDL_RESOURCE = "/io/machinery/outbox/jdbc/outbox-postgresql.sql";

  /** A row holding a task's wire message. */
  public static final String KIND_TASK = "task";

  /** A row holding a group's metadata (Go's GroupMeta JSON): the relay records the group. */
  public static final String KIND_GROUP = "group";

  /** SQLSTATE 42703, undefined column (PostgreSQL). */
  private static final String UNDEFINED_COLUMN = "42703";

  private static final Pattern ADD_COLUMN =
      Pattern.compile("ALTER TABLE \\S+ ADD COLUMN IF NOT EXISTS (\\w+) ");

  private static final Pattern CREATE_INDEX =
      Pattern.compile("CREATE INDEX IF NOT EXISTS (\\w+) ON ");

  private static final Pattern IDENTIFIER =
      Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}(\\.[A-Za-z_][A-Za-z0-9_]{0,62})?");

  private final String name;

  private OutboxTable(String name) {
    this.name = name;
  }

  /**
   * The table {@code name}.
   *
   * @throws IllegalArgumentException unless a plain SQL identifier, optionally {@code schema.table}
   */
  public static OutboxTable named(String name) {
    if (!IDENTIFIER.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "outbox table name must be a plain SQL identifier (letters, digits, _; optionally"
              + " schema.table), was \""
              + name
              + "\"");
    }
    return new OutboxTable(name);
  }

  /** The table's name, as given. */
  public String name() {
    return name;
  }

  /** Inserts a row: sender, kind, task UUID, task name, message. */
  public String insert() {
    return "INSERT INTO "
        + name
        + " (sender_id, kind, task_uuid, task_name, message) VALUES (?, ?, ?, ?, ?)";
  }

  /**
   * Claims among a page of the rows that never failed (no {@code next_attempt_at}), as {@link
   * #claimListedSenders} claims among the rows listed: the page is the rows after the first
   * parameter in {@code seq} order, at most as many as the second, read without locking by walking
   * the primary key from there (rows that failed, each failing sender's first, are passed over),
   * about 0.4 µs a row on PostgreSQL 15; the third parameter is the limit. After the senders it
   * locked ({@code sender_id}, {@code seq}, nulls) it returns one row with a null {@code
   * sender_id}: the page's last {@code seq} (null for an empty page), how many rows the page holds,
   * so that the next page starts after it without reading this one again, and the span of the
   * table's {@code seq}s (two index descents), at least its rows less one. One statement, not a
   * read of the page and a claim: a pass whose first page holds its senders (the common case) costs
   * one round trip, as a walk of the table would.
   */
  String claimPage() {
    return "WITH page AS MATERIALIZED (SELECT ARRAY(SELECT seq FROM "
        + name
        + " WHERE next_attempt_at IS NULL AND seq > ? ORDER BY seq LIMIT ?) AS seqs),"
        + " claimed AS (SELECT o.sender_id, o.seq FROM "
        + name
        + " o WHERE o.seq = ANY ((SELECT seqs FROM page)::bigint[]) AND o.next_attempt_at IS NULL"
        + " AND "
        + isFirstOfItsSender()
        + " ORDER BY o.seq LIMIT ? FOR UPDATE SKIP LOCKED) SELECT sender_id, seq, NULL::int,"
        + " NULL::bigint FROM claimed UNION ALL SELECT NULL, seqs[cardinality(seqs)],"
        + " cardinality(seqs), (SELECT max(seq) FROM "
        + name
        + ") - (SELECT min(seq) FROM "
        + name
        + ") FROM page";
  }

  /**
   * Lists senders without locking anything, by skipping through the {@code (sender_id, seq)} index
   * (a loose index scan: one descent per sender, however many rows it has), at most as many as its
   * one parameter: each sender's first row's {@code seq}, and whether that row never failed (no
   * {@code next_attempt_at}), in {@code sender_id} order. Fewer rows than the parameter means every
   * sender is listed: {@link #claimListedSenders} then claims among them in a few lookups, where
   * pages ({@link #claimPage}) would read a long backlog's rows (0.5 s for one sender's 100,000
   * rows, a lookup each). A descent costs a few string comparisons, about 10 µs on PostgreSQL 15,
   * against about 4 µs for a row of a page claimed, so listing beyond a bound costs more than it
   * saves.
   */
  String listSenders() {
    return "WITH RECURSIVE senders(sender_id, seq, healthy, listed) AS ((SELECT sender_id::text,"
        + " seq, next_attempt_at IS NULL, 1 FROM "
        + name
        + " ORDER BY sender_id, seq LIMIT 1) UNION ALL SELECT n.sender_id::text, n.seq,"
        + " n.next_attempt_at IS NULL, s.listed + 1 FROM senders s CROSS JOIN LATERAL (SELECT"
        + " q.sender_id, q.seq, q.next_attempt_at FROM "
        + name
        + " q WHERE q.sender_id > s.sender_id ORDER BY q.sender_id, q.seq LIMIT 1) n WHERE"
        + " s.listed < ?) SELECT seq, healthy FROM senders";
  }

  /**
   * The first row of every sender that never failed (no {@code next_attempt_at}) and whose first
   * row no other relay holds, in {@code seq} order, among the rows whose {@code seq} is in the
   * array parameter (first rows {@link #listSenders} found): each looked up by primary key and
   * checked to be its sender's first, about 4 µs a row, then locked: taking its lock claims the
   * sender (see {@link OutboxRelay}'s notes). Skipped rows do not count towards the limit, the last
   * parameter. In {@code seq} order, it stops once it has the limit's senders.
   */
  String claimListedSenders() {
    return "SELECT o.sender_id, o.seq FROM "
        + name
        + " o WHERE o.seq = ANY (?) AND o.next_attempt_at IS NULL AND "
        + isFirstOfItsSender()
        + " ORDER BY o.seq LIMIT ? FOR UPDATE SKIP LOCKED";
  }

  /**
   * As {@link #claimListedSenders}, among the senders whose first row comes after the first
   * parameter: it reads the {@code (sender_id, seq)} index once, all of it (or the table, as the
   * planner chooses), for each sender's first row, about 0.3 µs a row on PostgreSQL 15, sorts those
   * first rows, one a sender, and locks the ones after the parameter that never failed, in {@code
   * seq} order. Where few senders can be claimed among many rows (a broker outage: every sender
   * backing off), this reads the rest of the table at about a tenth of what pages ({@link
   * #claimPage}) would, with a lookup each; where pages hold claimable senders early, they stop
   * sooner.
   */
  String claimFirstRowsAfter() {
    return "SELECT o.sender_id, o.seq FROM (SELECT min(p.seq) AS seq FROM "
        + name
        + " p GROUP BY p.sender_id) f JOIN "
        + name
        + " o ON o.seq = f.seq WHERE o.seq > ? AND o.next_attempt_at IS NULL ORDER BY o.seq"
        + " LIMIT ? FOR UPDATE OF o SKIP LOCKED";
  }

  /**
   * As {@link #claimListedSenders} for the failing senders whose back-off is over, the one due
   * longest first. It walks the partial index on {@code next_attempt_at}, which holds the failing
   * senders' tokens only. No row is in both claims: a row has a {@code next_attempt_at} or not.
   */
  String claimDueSenders() {
    return "SELECT o.sender_id, o.seq FROM "
        + name
        + " o WHERE o.next_attempt_at <= CURRENT_TIMESTAMP AND "
        + isFirstOfItsSender()
        + " ORDER BY o.next_attempt_at, o.seq LIMIT ? FOR UPDATE SKIP LOCKED";
  }

  /**
   * Whether row {@code o} is its sender's first. A subquery per row that PostgreSQL cannot turn
   * into a join: as {@code NOT EXISTS} (an earlier row of the sender) it may become a hash anti
   * join, which compares every row with every row of its sender (23 s for one sender's 20,000
   * rows); this one is a descent of an index per row visited.
   */
  private String isFirstOfItsSender() {
    return "o.seq = (SELECT min(p.seq) FROM " + name + " p WHERE p.sender_id = o.sender_id)";
  }

  /** A sender's first rows, locked, in {@code seq} order: sender, limit. */
  public String senderRows() {
    return "SELECT seq, kind, task_uuid, task_name, message, attempts FROM "
        + name
        + " WHERE sender_id = ? ORDER BY seq LIMIT ? FOR UPDATE";
  }

  /**
   * Records a failure of a sender in its first unpublished row: one more attempt, and not before
   * the database's clock now (not the pass's start: a publish may have taken long to fail) plus the
   * given milliseconds. One clock for every relay.
   */
  String recordFailure() {
    return "UPDATE "
        + name
        + " SET attempts = attempts + 1,"
        + " next_attempt_at = clock_timestamp() + ? * INTERVAL '1 millisecond' WHERE seq = ?";
  }

  /**
   * {@code e}, explained when it says the table lacks the columns a relay's back-off needs (a table
   * created by the DDL of an earlier version).
   */
  SQLException explainMissingColumns(SQLException e) {
    if (!UNDEFINED_COLUMN.equals(e.getSQLState())) {
      return e;
    }
    return new SQLException(
        "the outbox table "
            + name
            + " lacks the columns attempts and next_attempt_at (created by an earlier version):"
            + " run the ALTER TABLE statements of "
            + DDL_RESOURCE
            + ", or build the relay with createTable(true), which adds them: "
            + e.getMessage(),
        e.getSQLState(),
        e);
  }

  String delete() {
    return "DELETE FROM " + name + " WHERE seq = ?";
  }

  /** The DDL resource as shipped, for the default table name. */
  public static String ddl() {
    try (InputStream in = OutboxTable.class.getResourceAsStream(DDL_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("resource " + DDL_RESOURCE + " is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The DDL's statements for this table name (its indexes named after it), comments left out. */
  public List<String> ddlStatements() {
    String indexPrefix = name.substring(name.indexOf('.') + 1) + "_"; // in the table's schema
    String sql =
        ddl()
            .replace(" " + DEFAULT_NAME + "_", " " + indexPrefix)
            .replace(" " + DEFAULT_NAME + " ", " " + name + " ");
    String code =
        sql.lines().filter(l -> !l.strip().startsWith("--")).collect(Collectors.joining("\n"));
    List<String> statements = new ArrayList<>();
    for (String part : code.split(";", -1)) { // the DDL has no strings: ";" ends a statement
      if (!part.isBlank()) {
        statements.add(part.strip());
      }
    }
    return statements;
  }

  /**
   * Runs the DDL for this table name, committed on its own: creates only what is missing, and adds
   * the columns of later versions to a table created by an earlier one. A column or index that
   * exists is not asked for again: PostgreSQL takes the table's lock before it sees that {@code ADD
   * COLUMN IF NOT EXISTS} or {@code CREATE INDEX IF NOT EXISTS} has nothing to do, and would wait
   * for every open transaction that wrote to the table, holding up the writers behind it.
   */
  public void create(Connection connection) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    try (Statement statement = connection.createStatement()) {
      for (String ddl : ddlStatements()) {
        if (!exists(connection, ddl)) {
          statement.execute(ddl);
        }
      }
      if (!autoCommit) {
        connection.commit();
      }
    }
  }

  /** Whether the column or index {@code ddl} adds exists already (false for other statements). */
  private boolean exists(Connection connection, String ddl) throws SQLException {
    Matcher column = ADD_COLUMN.matcher(ddl);
    Matcher index = CREATE_INDEX.matcher(ddl);
    String query;
    String object;
    if (column.lookingAt()) {
      query =
          "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(?) AND attname = ?"
              + " AND NOT attisdropped";
      object = column.group(1);
    } else if (index.lookingAt()) {
      query =
          "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
              + " WHERE i.indrelid = to_regclass(?) AND c.relname = ?";
      object = index.group(1);
    } else {
      return false;
    }
    try (PreparedStatement select = connection.prepareStatement(query)) {
      select.setString(1, name);
      select.setString(2, object.toLowerCase(Locale.ROOT)); // unquoted names are folded
      try (ResultSet rs = select.executeQuery()) {
        return rs.next();
      }
    }
  }
}
