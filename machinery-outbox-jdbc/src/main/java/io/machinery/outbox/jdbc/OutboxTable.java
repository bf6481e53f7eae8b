package io.machinery.outbox.jdbc;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The outbox table's name and every SQL statement on it, shared by the writer and the relay.
 *
 * <p>The table name is put into SQL text (JDBC cannot bind identifiers), so it is checked against a
 * plain identifier pattern, optionally schema-qualified, and nothing else gets in.
 */
final class OutboxTable {
  static final String DEFAULT_NAME = "machinery_outbox";
  static final String DDL_RESOURCE = "/io/machinery/outbox/jdbc/outbox-postgresql.sql";

  /** A row holding a task's wire message. */
  static final String KIND_TASK = "task";

  /** A row holding a group's metadata (Go's GroupMeta JSON): the relay records the group. */
  static final String KIND_GROUP = "group";

  private static final Pattern IDENTIFIER =
      Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}(\\.[A-Za-z_][A-Za-z0-9_]{0,62})?");

  final String name;

  private OutboxTable(String name) {
    this.name = name;
  }

  static OutboxTable named(String name) {
    if (!IDENTIFIER.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "outbox table name must be a plain SQL identifier (letters, digits, _; optionally"
              + " schema.table), was \""
              + name
              + "\"");
    }
    return new OutboxTable(name);
  }

  String insert() {
    return "INSERT INTO "
        + name
        + " (sender_id, kind, task_uuid, task_name, message) VALUES (?, ?, ?, ?, ?)";
  }

  /**
   * The first row of every sender whose first row no other relay holds: taking its lock claims the
   * sender (see {@link OutboxRelay}'s notes). Skipped rows do not count towards the limit.
   */
  String claimSenders() {
    return "SELECT o.sender_id, o.seq FROM "
        + name
        + " o WHERE NOT EXISTS (SELECT 1 FROM "
        + name
        + " p WHERE p.sender_id = o.sender_id AND p.seq < o.seq)"
        + " ORDER BY o.seq LIMIT ? FOR UPDATE SKIP LOCKED";
  }

  String senderRows() {
    return "SELECT seq, kind, task_uuid, task_name, message FROM "
        + name
        + " WHERE sender_id = ? ORDER BY seq LIMIT ? FOR UPDATE";
  }

  String delete() {
    return "DELETE FROM " + name + " WHERE seq = ?";
  }

  /** The DDL resource as shipped, for the default table name. */
  static String ddl() {
    try (InputStream in = OutboxTable.class.getResourceAsStream(DDL_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("resource " + DDL_RESOURCE + " is missing from the jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The DDL's statements for this table name, comments left out. */
  List<String> ddlStatements() {
    String indexName = name.substring(name.indexOf('.') + 1) + "_sender_seq";
    String sql =
        ddl()
            .replace(DEFAULT_NAME + "_sender_seq", indexName)
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

  /** Runs the DDL for this table name, committed on its own (creates only what is missing). */
  void create(Connection connection) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    try (Statement statement = connection.createStatement()) {
      for (String ddl : ddlStatements()) {
        statement.execute(ddl);
      }
      if (!autoCommit) {
        connection.commit();
      }
    }
  }
}
