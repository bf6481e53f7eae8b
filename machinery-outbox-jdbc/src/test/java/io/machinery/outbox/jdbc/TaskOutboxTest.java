package io.machinery.outbox.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Server;
import io.machinery.outbox.jdbc.internal.OutboxTable;
import java.time.Duration;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** What needs no database: names, settings and the DDL. */
class TaskOutboxTest {
  @Test
  void tableNamesAreCheckedBeforeTheyReachSql() {
    try (Server server = Server.builder().build()) {
      assertThat(TaskOutbox.builder(server).table("app.task_outbox").build().table())
          .isEqualTo("app.task_outbox");
      for (String bad : new String[] {"", "1outbox", "outbox; DROP TABLE x", "a.b.c", "\"q\""}) {
        assertThatThrownBy(() -> TaskOutbox.builder(server).table(bad))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("plain SQL identifier");
      }
    }
  }

  @Test
  void senderIdsMustBeNonBlankAndFitTheColumn() {
    try (Server server = Server.builder().build()) {
      TaskOutbox outbox = TaskOutbox.builder(server).build();
      assertThat(outbox.senderId()).isEqualTo(TaskOutbox.DEFAULT_SENDER_ID);
      assertThat(outbox.withSenderId("orders").senderId()).isEqualTo("orders");
      assertThat(outbox.senderId()).as("withSenderId copies").isEqualTo("default");
      assertThatThrownBy(() -> outbox.withSenderId(" "))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> outbox.withSenderId("x".repeat(256)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("255");
    }
  }

  @Test
  void theDdlIsShippedAndRenamedForAnotherTable() {
    assertThat(TaskOutbox.ddl()).contains("CREATE TABLE IF NOT EXISTS machinery_outbox (");
    assertThat(OutboxTable.named("app.jobs").ddlStatements())
        .hasSize(5)
        .allSatisfy(s -> assertThat(s).doesNotContain("machinery_outbox").doesNotContain("--"))
        .satisfiesExactly(
            table -> assertThat(table).startsWith("CREATE TABLE IF NOT EXISTS app.jobs ("),
            attempts ->
                assertThat(attempts)
                    .startsWith("ALTER TABLE app.jobs ADD COLUMN IF NOT EXISTS attempts "),
            next ->
                assertThat(next)
                    .startsWith("ALTER TABLE app.jobs ADD COLUMN IF NOT EXISTS next_attempt_at "),
            index ->
                assertThat(index)
                    .isEqualTo(
                        "CREATE INDEX IF NOT EXISTS jobs_sender_seq ON app.jobs (sender_id, seq)"),
            due ->
                assertThat(due)
                    .isEqualTo(
                        "CREATE INDEX IF NOT EXISTS jobs_next_attempt ON app.jobs"
                            + " (next_attempt_at, seq) WHERE next_attempt_at IS NOT NULL"));
  }

  @Test
  void relaySettingsAreChecked() {
    try (Server server = Server.builder().build()) {
      // Never connected: the checks fail before a connection is asked for.
      DataSource none = new PGSimpleDataSource();
      assertThatThrownBy(() -> OutboxRelay.builder(server, none).batchSize(0))
          .hasMessageContaining("batchSize must be at least 1");
      assertThatThrownBy(() -> OutboxRelay.builder(server, none).pollInterval(Duration.ZERO))
          .hasMessageContaining("pollInterval must be positive");
      assertThatThrownBy(
              () ->
                  OutboxRelay.builder(server, none)
                      .retryBackoff(Duration.ofSeconds(2))
                      .maxRetryBackoff(Duration.ofSeconds(1))
                      .build())
          .hasMessageContaining("maxRetryBackoff");
    }
  }
}
