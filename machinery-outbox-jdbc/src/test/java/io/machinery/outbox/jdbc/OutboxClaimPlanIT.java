package io.machinery.outbox.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.outbox.jdbc.internal.Backoff;
import io.machinery.outbox.jdbc.internal.ClaimTuning;
import io.machinery.outbox.jdbc.internal.OutboxTable;
import io.machinery.outbox.jdbc.internal.RelayPass;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The cost of a relay's claim on a real PostgreSQL, asserted on the plans PostgreSQL chooses for
 * the claim statements a pass runs, never on times: a claim walks indexes and stops at its limit,
 * it never sorts the waiting rows (only one row per sender, at most) nor joins a sender's rows to
 * each other (a hash anti join over one sender's 20,000 rows took 23 s a pass), where the table has
 * few senders it reads a few pages, not every waiting row, and where many senders all back off it
 * reads the sender index once rather than every waiting row with a lookup (counted by {@code
 * EXPLAIN (ANALYZE, BUFFERS)}: pages are deterministic where times are not). The rows cannot be
 * decoded, so a pass publishes nothing; the senders it claimed have a failure recorded.
 */
class OutboxClaimPlanIT {
  private static final Duration WAIT = Duration.ofSeconds(30);

  /**
   * More pages than a pass's claims read when they look rows up by index (a few per sender): a
   * claim reading every waiting row reads thousands.
   */
  private static final long PAGES_OF_A_FEW_LOOKUPS = 1_000;

  private static final Pattern BUFFERS = Pattern.compile("shared hit=(\\d+)(?: read=(\\d+))?");

  private static final Pattern SORTED_ROWS =
      Pattern.compile("Sort {2}\\(cost=[^)]*\\) \\(actual time=[^ ]* rows=(\\d+)");

  @RegisterExtension final OutboxFixture db = new OutboxFixture("outbox_plan_");

  @Test
  void aPassClaimsSendersThroughIndexesWithoutSortingTheWaitingRows() throws Exception {
    // 20,000 waiting rows of 200 senders, every one failing and 10 of them due: the pass runs every
    // claim (pages of waiting rows, then the sender index once, then the due senders). Big enough
    // for the planner to choose as it does for 100,000 rows.
    insertUndecodableRows(200, 20_000);
    execute(
        "UPDATE "
            + db.table
            + " SET attempts = 1, next_attempt_at = CURRENT_TIMESTAMP + CASE WHEN seq % 20 = 0"
            + " THEN INTERVAL '-1 second' ELSE INTERVAL '5 minutes' END WHERE seq IN"
            + " (SELECT min(seq) FROM "
            + db.table
            + " GROUP BY sender_id)");

    List<String> plans = claimPlansOfAPass();
    assertThat(plans).isNotEmpty();
    assertThat(plans)
        .filteredOn(plan -> !readsTheSenderIndexOnce(plan))
        .isNotEmpty()
        .allSatisfy(plan -> assertThat(plan).doesNotContain("Seq Scan").doesNotContain("Sort"));
    // The claim reading the sender index once may read the table in full, once, and sorts one
    // first row per sender: never the 20,000 waiting rows.
    assertThat(plans)
        .allSatisfy(plan -> assertThat(sortedRows(plan)).allMatch(rows -> rows <= 200));
  }

  @Test
  void aPassWhileManySendersBackOffReadsTheSenderIndexNotEveryWaitingRowWithALookup()
      throws Exception {
    // A broker outage with a backlog: each of 200 senders' first row waits its back-off, 40,000
    // rows in all, more senders than a pass lists. Claiming by a lookup per waiting row read about
    // three pages a row, 120,000 pages a pass (0.36 s for 100,000 rows); by lookups for a sixteenth
    // of the rows, then reading the sender index once, about 13,000.
    insertUndecodableRows(200, 40_000);
    db.backOffEverySender();
    execute("ANALYZE " + db.table);

    List<String> plans = claimPlansOfAPass();
    assertThat(plans).isNotEmpty();
    assertThat(pagesRead(plans)).isLessThan(40_000 / 2);
    assertThat(plans)
        .allSatisfy(plan -> assertThat(sortedRows(plan)).allMatch(rows -> rows <= 200));
  }

  @Test
  void aPassClaimsHealthySendersBeyondManyBackingOffInSeqOrderSkippingOnesAnotherRelayHolds()
      throws Exception {
    // 40 senders backing off, 1,600 rows: more waiting rows than a pass claims among by lookups
    // (the first page, 32 rows as many as it lists, then up to a sixteenth of the table's rows),
    // so the senders after them are claimed by reading the sender index. Then three healthy
    // senders, in an order other than their names'; another relay holds the first.
    insertUndecodableRows(40, 1_600);
    db.backOffEverySender();
    for (String sender : List.of("late-b", "late-c", "late-a", "late-a", "late-b")) {
      db.insertUndecodableRow(sender);
    }
    execute("ANALYZE " + db.table);

    List<Prepared> statements;
    try (Connection otherRelay = db.dataSource.getConnection()) {
      otherRelay.setAutoCommit(false);
      try (Statement s = otherRelay.createStatement()) {
        s.executeQuery(
                "SELECT seq FROM "
                    + db.table
                    + " WHERE sender_id = 'late-b' ORDER BY seq LIMIT 1 FOR UPDATE")
            .close();
      }
      statements = runPass(1);
      otherRelay.rollback();
    }

    // Pages of 32 rows then 68: a sixteenth of the 1,605 rows' seq span (1,604 / 16 = 100 rows).
    assertThat(pageSizes(statements)).containsExactly(32, 68);
    assertThat(statements)
        .extracting(Prepared::sql)
        .anyMatch(OutboxClaimPlanIT::readsTheSenderIndexOnce);
    // The one claimed has its undecodable first row's failure recorded: late-c, the first in seq
    // order whose first row no other relay holds.
    assertThat(attemptsOfFirstRows("late-a", "late-b", "late-c")).containsExactly(0, 0, 1);
    assertThat(attemptsOfFirstRows("sender-0", "sender-39")).containsExactly(1, 1);
  }

  @Test
  void theListingOnlyClaimOfTheBenchmarksLocksTheSenderTheRelaysClaimWouldWithoutPagesOrIndex()
      throws Exception {
    // OutboxClaimBenchmark's baseline: every sender listed, claimed by key; the same sender as the
    // relay's claim (the healthy one first in seq order), found without pages or the sender index.
    insertUndecodableRows(40, 1_600);
    db.backOffEverySender();
    for (String sender : List.of("late-b", "late-c", "late-a", "late-a", "late-b")) {
      db.insertUndecodableRow(sender);
    }
    execute("ANALYZE " + db.table);

    List<Prepared> statements = runPass(1, ClaimTuning.LISTING_ONLY);

    assertThat(statements)
        .extracting(Prepared::sql)
        .noneMatch(OutboxClaimPlanIT::readsTheSenderIndexOnce)
        .noneMatch(sql -> sql.startsWith("WITH page"));
    assertThat(attemptsOfFirstRows("late-a", "late-b", "late-c")).containsExactly(0, 1, 0);
  }

  @Test
  void aPassClaimsTheOnlySenderOfALongBacklogWithoutJoiningItsRowsToEachOther() throws Exception {
    insertUndecodableRows(1, 10_000); // one sender, as TaskOutbox's default

    assertThat(claimPlansOfAPass())
        .isNotEmpty()
        .allSatisfy(
            plan ->
                assertThat(plan)
                    .doesNotContain("Hash")
                    .doesNotContain("Seq Scan")
                    .doesNotContain("Sort"));
  }

  @Test
  void aPassClaimsTheOnlySenderOfALongBacklogReadingAFewPagesNotEveryRow() throws Exception {
    insertUndecodableRows(1, 10_000); // one sender, as TaskOutbox's default

    // Walking the primary key read every row once a pass: about 30,000 pages for these rows.
    assertThat(pagesReadByClaimsOfAPass()).isLessThan(PAGES_OF_A_FEW_LOOKUPS);
  }

  @Test
  void aPassWhileEverySenderBacksOffReadsAFewPagesWithoutSortingTheWaitingRows() throws Exception {
    // A broker outage: each of 20 senders' first row waits its back-off, 10,000 rows in all.
    insertUndecodableRows(20, 10_000);
    db.backOffEverySender();
    execute("ANALYZE " + db.table);

    List<String> plans = claimPlansOfAPass();
    assertThat(plans)
        .isNotEmpty()
        .allSatisfy(plan -> assertThat(plan).doesNotContain("Seq Scan").doesNotContain("Sort"));
    assertThat(pagesRead(plans)).isLessThan(PAGES_OF_A_FEW_LOOKUPS);
  }

  // ----------------------------------------------------------------------------------------------

  private OutboxTable table() {
    return OutboxTable.named(db.table);
  }

  /** The {@code attempts} of each sender's first row. */
  private List<Integer> attemptsOfFirstRows(String... senders) throws SQLException {
    List<Integer> attempts = new ArrayList<>();
    try (Connection c = db.dataSource.getConnection();
        PreparedStatement select =
            c.prepareStatement(
                "SELECT attempts FROM " + db.table + " WHERE sender_id = ? ORDER BY seq LIMIT 1")) {
      for (String sender : senders) {
        select.setString(1, sender);
        try (ResultSet rs = select.executeQuery()) {
          assertThat(rs.next()).as("a row of %s", sender).isTrue();
          attempts.add(rs.getInt(1));
        }
      }
    }
    return attempts;
  }

  /**
   * Whether {@code sql} (or a plan, which starts with its statement) is the claim that reads the
   * sender index once, grouping it by sender ({@link OutboxTable#claimFirstRowsAfter}).
   */
  private static boolean readsTheSenderIndexOnce(String sql) {
    return sql.substring(0, sql.indexOf('\n') < 0 ? sql.length() : sql.indexOf('\n'))
        .contains(" GROUP BY p.sender_id");
  }

  /** The rows each page of waiting rows a pass read asked for, in order: its second parameter. */
  private static List<@Nullable Object> pageSizes(List<Prepared> statements) {
    return statements.stream()
        .filter(statement -> statement.sql().startsWith("WITH page"))
        .map(statement -> statement.parameters().get(1))
        .toList();
  }

  /** The rows each Sort node of {@code plan} sorted. */
  private static List<Long> sortedRows(String plan) {
    List<Long> rows = new ArrayList<>();
    Matcher sort = SORTED_ROWS.matcher(plan);
    while (sort.find()) {
      rows.add(Long.parseLong(sort.group(1)));
    }
    return rows;
  }

  /** Rows of {@code senders} senders in turn, whose message cannot be decoded; then ANALYZE. */
  private void insertUndecodableRows(int senders, int rows) throws SQLException {
    execute(
        "INSERT INTO "
            + db.table
            + " (sender_id, kind, task_uuid, task_name, message) SELECT 'sender-' || (i % "
            + senders
            + "), 'task', 'task_' || i, 'record', '{}' FROM generate_series(1, "
            + rows
            + ") i");
    execute("ANALYZE " + db.table);
  }

  private void execute(String sql) throws SQLException {
    try (Connection c = db.dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  /**
   * Runs a pass claiming one sender, and returns the plans PostgreSQL chooses for the claim
   * statements it ran (listing senders, reading pages of waiting rows and locking senders),
   * executed again with the pass's parameters, with the pages each read, in a transaction rolled
   * back.
   */
  private List<String> claimPlansOfAPass() throws SQLException {
    List<String> plans = new ArrayList<>();
    for (Prepared statement : runPass(1)) {
      if ((statement.sql().startsWith("SELECT") || statement.sql().startsWith("WITH"))
          && !statement.sql().equals(table().senderRows())) {
        plans.add(statement.sql() + "\n" + plan(statement));
      }
    }
    return plans;
  }

  /** Runs a relay's pass claiming up to {@code maxSenders} senders; returns its statements. */
  private List<Prepared> runPass(int maxSenders) throws SQLException {
    return runPass(maxSenders, ClaimTuning.DEFAULT);
  }

  /** Runs a pass claiming up to {@code maxSenders} senders; returns the statements it prepared. */
  private List<Prepared> runPass(int maxSenders, ClaimTuning claim) throws SQLException {
    List<Prepared> statements = new ArrayList<>();
    try (Connection c = recordingStatements(db.dataSource.getConnection(), statements)) {
      c.setAutoCommit(false);
      new RelayPass(
              db.server(db.config, null), table(), 1, maxSenders, new Backoff(WAIT, WAIT), claim)
          .run(c, () -> false);
    }
    return statements;
  }

  /** The pages (buffers) the claim statements of a pass read, in all. */
  private long pagesReadByClaimsOfAPass() throws SQLException {
    return pagesRead(claimPlansOfAPass());
  }

  /** The pages the statements of {@code plans} read, in all: each plan's largest count. */
  private static long pagesRead(List<String> plans) {
    long pages = 0;
    for (String plan : plans) {
      long most = 0;
      String execution = plan.substring(0, Math.max(0, plan.indexOf("Planning")));
      Matcher buffers = BUFFERS.matcher(execution);
      while (buffers.find()) {
        long read = Long.parseLong(buffers.group(1));
        if (buffers.group(2) != null) {
          read += Long.parseLong(buffers.group(2));
        }
        most = Math.max(most, read); // a node's count includes its children's
      }
      pages += most;
    }
    return pages;
  }

  /**
   * The plan PostgreSQL chooses for a claim statement and what it read, executed with the
   * parameters the pass gave it, in a transaction rolled back (it locks rows).
   */
  private String plan(Prepared statement) throws SQLException {
    StringBuilder plan = new StringBuilder();
    try (Connection c = db.dataSource.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement explain =
          c.prepareStatement("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql())) {
        for (int i = 0; i < statement.parameters().size(); i++) {
          Object value = statement.parameters().get(i);
          if (value instanceof Object[] array) {
            explain.setArray(i + 1, c.createArrayOf("bigint", array));
          } else {
            explain.setObject(i + 1, value);
          }
        }
        try (ResultSet rs = explain.executeQuery()) {
          while (rs.next()) {
            plan.append(rs.getString(1)).append('\n');
          }
        }
      } finally {
        c.rollback();
      }
    }
    return plan.toString();
  }

  /** A statement a pass prepared, and the parameters it set (an array as its elements). */
  private record Prepared(String sql, List<@Nullable Object> parameters) {}

  /**
   * {@code real}, adding each statement it prepares, with its parameters, to {@code statements}.
   */
  private static Connection recordingStatements(Connection real, List<Prepared> statements) {
    return (Connection)
        Proxy.newProxyInstance(
            OutboxClaimPlanIT.class.getClassLoader(),
            new Class<?>[] {Connection.class},
            (proxy, method, args) -> {
              Object result = invoke(method, real, args);
              if (method.getName().equals("prepareStatement")) {
                Prepared statement = new Prepared((String) args[0], new ArrayList<>());
                statements.add(statement);
                return recordingParameters((PreparedStatement) result, statement.parameters());
              }
              return result;
            });
  }

  /** {@code real}, putting the value of each parameter set on it at its index in {@code into}. */
  private static PreparedStatement recordingParameters(
      PreparedStatement real, List<@Nullable Object> into) {
    return (PreparedStatement)
        Proxy.newProxyInstance(
            OutboxClaimPlanIT.class.getClassLoader(),
            new Class<?>[] {PreparedStatement.class},
            (proxy, method, args) -> {
              if (method.getName().startsWith("set") && args != null && args.length == 2) {
                int index = (Integer) args[0] - 1;
                while (into.size() <= index) {
                  into.add(null);
                }
                into.set(index, args[1] instanceof Array array ? array.getArray() : args[1]);
              }
              return invoke(method, real, args);
            });
  }

  private static @Nullable Object invoke(Method method, Object target, Object @Nullable [] args)
      throws Throwable {
    try {
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }
}
