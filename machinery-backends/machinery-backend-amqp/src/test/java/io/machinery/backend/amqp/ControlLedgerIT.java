package io.machinery.backend.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.GetResponse;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.Config;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.ControlPlane.TaskLimitSetting;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The AMQP control plane's revocations, task limits and breaker openings across processes (each
 * plane a backend with a connection of its own), kept in RabbitMQ by {@link ControlLedger}.
 */
class ControlLedgerIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  private final String prefix = "ledger-" + UUID.randomUUID().toString().substring(0, 8) + "-";
  private final List<AutoCloseable> closing = new ArrayList<>();

  /**
   * Clears every limit and closes every opening of this test's prefix, even when it failed: limits
   * never expire, and the test server's ledger is shared.
   */
  @AfterEach
  void close() throws Exception {
    ControlPlane cleaner = process();
    mine(cleaner.taskLimits()).keySet().forEach(cleaner::clearTaskLimit);
    mine(cleaner.openBreakers()).keySet().forEach(cleaner::closeBreaker);
    for (AutoCloseable c : closing.reversed()) {
      c.close();
    }
  }

  private static Config config() {
    return Config.builder()
        .broker(TestEndpoints.amqpUrl())
        .resultBackend(TestEndpoints.amqpUrl())
        .build();
  }

  /** A process's control plane: a backend over a connection of its own. */
  private ControlPlane process(Clock clock) {
    AmqpBackend backend =
        AmqpBackend.builder(config())
            .managementUrl(TestEndpoints.rabbitManagementUrl())
            .clock(clock)
            .build();
    closing.add(backend);
    return backend.controlPlane().orElseThrow();
  }

  private ControlPlane process() {
    return process(Clock.systemUTC());
  }

  private <V> Map<String, V> mine(Map<String, V> all) {
    Map<String, V> out = new java.util.HashMap<>(all);
    out.keySet().removeIf(k -> !k.startsWith(prefix));
    return out;
  }

  @Test
  void changesReachAReadingProcessAtOnceAndAProcessStartedLaterReadsWhatIsInForce() {
    ControlPlane operator = process();
    ControlPlane worker = process();
    String task = prefix + "task-uuid";
    assertThat(worker.revoked()).doesNotContain(task); // reads the ledger, then its inbox

    operator.revoke(List.of(task), Duration.ofMinutes(5));
    TaskLimitSetting rate = TaskLimitSetting.rate(10, Duration.ofSeconds(1));
    operator.setTaskLimit(prefix + "kept", rate);
    operator.setTaskLimit(prefix + "cleared", TaskLimitSetting.maxConcurrent(1));
    operator.clearTaskLimit(prefix + "cleared");
    var opening = operator.openBreaker(prefix + "open", Duration.ofMinutes(5), "down", "ops");
    operator.openBreaker(prefix + "closed", Duration.ofMinutes(5), "down", "ops");
    operator.closeBreaker(prefix + "closed");

    for (ControlPlane reader : List.of(worker, process())) {
      assertThat(reader.revoked()).contains(task);
      assertThat(mine(reader.taskLimits())).isEqualTo(Map.of(prefix + "kept", rate));
      assertThat(mine(reader.openBreakers())).containsOnlyKeys(prefix + "open");
      assertThat(reader.openBreakers().get(prefix + "open").id()).isEqualTo(opening.id());
      assertThat(reader.openBreakers().get(prefix + "open").until()).isEqualTo(opening.until());
    }
    operator.clearTaskLimit(prefix + "kept");
    operator.closeBreaker(prefix + "open");
    assertThat(mine(worker.taskLimits())).isEmpty();
    assertThat(mine(worker.openBreakers())).isEmpty();
  }

  /**
   * Cancelling a large group revokes every task: its UUIDs travel in several changes, each under
   * the size a reader decodes.
   */
  @Test
  void aLargeRevocationTravelsInSeveralChangesAndIsReadWhole() {
    List<String> many =
        java.util.stream.IntStream.range(0, 6_000)
            .mapToObj(i -> prefix + UUID.randomUUID())
            .toList();
    process().revoke(many, Duration.ofMinutes(1));
    assertThat(process().revoked()).containsAll(many);
  }

  /**
   * A process whose connection dropped lost its inbox with it: its next read makes a new one and
   * reads the ledger again, so what changed meanwhile is not missed.
   */
  @Test
  void aProcessWhoseConnectionDroppedReadsTheLedgerAgain() throws Exception {
    AmqpClient client = AmqpClient.builder(List.of(AmqpUrl.parse(TestEndpoints.amqpUrl()))).build();
    closing.add(client);
    AmqpBackend backend =
        AmqpBackend.builder(config())
            .client(client)
            .managementUrl(TestEndpoints.rabbitManagementUrl())
            .build();
    closing.add(backend);
    ControlPlane dropped = backend.controlPlane().orElseThrow();
    ControlPlane operator = process();
    assertThat(mine(dropped.taskLimits())).isEmpty();

    client.connection().abort();
    operator.setTaskLimit(prefix + "meanwhile", TaskLimitSetting.maxConcurrent(3));
    operator.revoke(List.of(prefix + "meanwhile"), Duration.ofMinutes(1));

    assertThat(mine(dropped.taskLimits()))
        .isEqualTo(Map.of(prefix + "meanwhile", TaskLimitSetting.maxConcurrent(3)));
    assertThat(dropped.revoked()).contains(prefix + "meanwhile");
  }

  /**
   * A writer stamps its change later than every change of the name it has read: an operator's
   * clearing wins over a setting made from a host whose clock is an hour ahead.
   */
  @Test
  void aClearingAfterASettingWinsWhateverTheWritersClocksSay() {
    ControlPlane ahead = process(Clock.offset(Clock.systemUTC(), Duration.ofHours(1)));
    ControlPlane behind = process(Clock.offset(Clock.systemUTC(), Duration.ofHours(-1)));
    String task = prefix + "skewed";
    ahead.setTaskLimit(task, TaskLimitSetting.maxConcurrent(2));
    behind.clearTaskLimit(task);
    assertThat(mine(process().taskLimits())).isEmpty();
    assertThat(mine(ahead.taskLimits())).isEmpty();
  }

  /**
   * A reader walking the ledger drops what no longer counts: superseded settings, an opening whose
   * time is up, a message that does not decode; the ledger then holds the last setting of a name,
   * and a clearing (kept an hour, so that an older setting still in flight cannot come back).
   */
  @Test
  void walkingTheLedgerDropsWhatNoLongerCounts() throws Exception {
    ControlPlane writer = process();
    String task = prefix + "often";
    for (int i = 1; i <= 20; i++) {
      writer.setTaskLimit(task, TaskLimitSetting.maxConcurrent(i));
    }
    writer.setTaskLimit(prefix + "gone", TaskLimitSetting.maxConcurrent(1));
    writer.clearTaskLimit(prefix + "gone");
    writer.openBreaker(prefix + "brief", Duration.ofMillis(200), "brief", "ops");
    await().atMost(PATIENCE).until(() -> mine(writer.openBreakers()).isEmpty());
    publishToLedger("not a change " + prefix);

    ControlPlane reader = process();
    assertThat(mine(reader.taskLimits()))
        .isEqualTo(Map.of(task, TaskLimitSetting.maxConcurrent(20)));

    List<String> left = ledgerBodiesMentioning(prefix);
    assertThat(left).hasSize(2);
    assertThat(left).anySatisfy(body -> assertThat(body).contains(task).contains("20"));
    assertThat(left)
        .anySatisfy(body -> assertThat(body).contains(prefix + "gone").doesNotContain("setting"));
  }

  private static Connection connect() throws Exception {
    return AmqpUrl.parse(TestEndpoints.amqpUrl()).connectionFactory().newConnection();
  }

  private static void publishToLedger(String body) throws Exception {
    try (Connection connection = connect();
        Channel channel = connection.createChannel()) {
      channel.confirmSelect();
      channel.basicPublish(ControlLedger.EXCHANGE, "", null, body.getBytes(StandardCharsets.UTF_8));
      channel.waitForConfirmsOrDie(5_000);
    }
  }

  /** Reads the ledger as a walker does (under its lock), handing every message back. */
  private static List<String> ledgerBodiesMentioning(String text) throws Exception {
    try (Connection connection = connect()) {
      AtomicReference<Channel> lock = new AtomicReference<>();
      await()
          .atMost(PATIENCE)
          .until(
              () -> {
                Channel channel = connection.createChannel();
                try {
                  channel.queueDeclare(
                      ControlLedger.LOCK, false, true, false, Map.of("x-queue-type", "classic"));
                  lock.set(channel);
                  return true;
                } catch (IOException e) {
                  return false; // another process walks the ledger (RESOURCE_LOCKED)
                }
              });
      List<String> out = new ArrayList<>();
      Channel channel = connection.createChannel();
      for (GetResponse r; (r = channel.basicGet(ControlLedger.LEDGER, false)) != null; ) {
        String body = new String(r.getBody(), StandardCharsets.UTF_8);
        if (body.contains(text)) {
          out.add(body);
        }
      }
      channel.close(); // hands them back
      lock.get().queueDelete(ControlLedger.LOCK);
      return out;
    }
  }
}
