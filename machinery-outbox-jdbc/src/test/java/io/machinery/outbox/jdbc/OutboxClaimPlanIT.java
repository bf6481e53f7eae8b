package io.machinery.outbox.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The cost of a relay's claim on a real PostgreSQL, asserted on the plans PostgreSQL chooses for
 * the claim statements a pass runs, never on times: a claim walks indexes and stops at its limit,
 * it never sorts the waiting rows nor joins a sender's rows to each other (a hash anti join over
 * one sender's 20,000 rows took 23 s a pass). The rows cannot be decoded, so a pass publishes
 * nothing.
 */
class OutboxClaimPlanIT {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @RegisterExtension final OutboxFixture db = new OutboxFixture("outbox_plan_");

  @Test
  void aPassClaimsSendersThroughIndexesWithoutSortingTheWaitingRows() throws Exception {
    // 20,000 waiting rows of 200 senders, every one failing and 10 of them due: the pass runs both
    // claims. Big enough for the planner to choose as it does for 100,000 rows.
    insertUndecodableRows(200, 20_000);
    execute(
        "UPDATE "
            + db.table
            + " SET attempts = 1, next_attempt_at = CURRENT_TIMESTAMP + CASE WHEN seq % 20 = 0"
            + " THEN INTERVAL '-1 second' ELSE INTERVAL '5 minutes' END WHERE seq IN"
            + " (SELECT min(seq) FROM "
            + db.table
            + " GROUP BY sender_id)");

    assertThat(claimPlansOfAPass())
        .isNotEmpty()
        .allSatisfy(plan -> assertThat(plan).doesNotContain("Seq Scan").doesNotContain("Sort"));
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

  // ----------------------------------------------------------------------------------------------

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
   * statements it ran.
   */
  private List<String> claimPlansOfAPass() throws SQLException {
    List<String> statements = new ArrayList<>();
    try (Connection c = recordingStatements(db.dataSource.getConnection(), statements)) {
      c.setAutoCommit(false);
      new RelayPass(
              db.server(db.config, null),
              OutboxTable.named(db.table),
              1,
              1,
              new Backoff(WAIT, WAIT))
          .run(c, () -> false);
    }
    List<String> plans = new ArrayList<>();
    for (String sql : statements) {
      if (sql.startsWith("SELECT o.sender_id")) {
        plans.add(sql + "\n" + plan(sql));
      }
    }
    return plans;
  }

  /** The plan PostgreSQL chooses for a claim statement, whose one parameter is the limit. */
  private String plan(String claim) throws SQLException {
    StringBuilder plan = new StringBuilder();
    try (Connection c = db.dataSource.getConnection();
        PreparedStatement explain = c.prepareStatement("EXPLAIN " + claim)) {
      explain.setInt(1, OutboxRelay.DEFAULT_MAX_SENDERS);
      try (ResultSet rs = explain.executeQuery()) {
        while (rs.next()) {
          plan.append(rs.getString(1)).append('\n');
        }
      }
    }
    return plan.toString();
  }

  /** {@code real}, adding the SQL of every statement it prepares to {@code statements}. */
  private static Connection recordingStatements(Connection real, List<String> statements) {
    return (Connection)
        Proxy.newProxyInstance(
            OutboxClaimPlanIT.class.getClassLoader(),
            new Class<?>[] {Connection.class},
            (proxy, method, args) -> {
              if (method.getName().equals("prepareStatement")) {
                statements.add((String) args[0]);
              }
              try {
                return method.invoke(real, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }
}
