package io.machinery.outbox.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The README's outbox example, run: the default table, created by the relay, an order row and its
 * task committed together.
 */
class OutboxReadmeIT {
  @Test
  void theReadmeExampleShipsTheOrder() throws Exception {
    PGSimpleDataSource pg = new PGSimpleDataSource();
    pg.setURL(TestEndpoints.postgresUrl());
    DataSource dataSource = pg;
    Queue<Long> shippedIds = new ConcurrentLinkedQueue<>();
    String redis = TestEndpoints.redisUrl();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redis).resultBackend(redis).build(), "outbox_readme_");
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS shop_orders (id BIGINT PRIMARY KEY)");
      s.execute("DELETE FROM shop_orders WHERE id = 42");
    }
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask(
          "ship",
          TaskFunction.of(
              Long.class,
              id -> {
                shippedIds.add(id);
                return "shipped " + id;
              }));
      server.newWorker("outbox-readme", 2).launchAsync();

      // README:outbox:begin
      TaskOutbox outbox = TaskOutbox.builder(server).senderId("orders").build();
      try (OutboxRelay relay = OutboxRelay.builder(server, dataSource).createTable(true).build()) {
        AsyncResult shipped =
            outbox.inTransaction(
                dataSource,
                connection -> {
                  try (PreparedStatement insert =
                      connection.prepareStatement("INSERT INTO shop_orders (id) VALUES (?)")) {
                    insert.setLong(1, 42L);
                    insert.executeUpdate();
                  }
                  // Written to the outbox table in this transaction; published after the commit.
                  return outbox.sendTask(connection, Signature.create("ship", Arg.of(42L)));
                });
        System.out.println(shipped.get(Duration.ofSeconds(10))); // [shipped 42]
      }
      // README:outbox:end
      assertThat(shippedIds).containsExactly(42L);
    } finally {
      try (Connection c = dataSource.getConnection();
          Statement s = c.createStatement()) {
        s.execute("DROP TABLE IF EXISTS shop_orders");
        s.execute("DROP TABLE IF EXISTS " + TaskOutbox.DEFAULT_TABLE);
      }
    }
  }
}
