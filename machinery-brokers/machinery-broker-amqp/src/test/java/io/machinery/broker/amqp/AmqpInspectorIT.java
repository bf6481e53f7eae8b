package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.GetResponse;
import io.machinery.Arg;
import io.machinery.MachineryException;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the AMQP inspector does beyond the contract: the side effects of listing on RabbitMQ, the
 * single delayed queue, quorum queues, previews of oversized dead letters, repairs that stop
 * midway, an unreachable management API.
 */
class AmqpInspectorIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);
  private final List<AmqpBroker> brokers = new ArrayList<>();
  private final List<String> queues = new ArrayList<>();

  private Config config(String prefix) {
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(TestEndpoints.amqpUrl()).build(), prefix);
    queues.add(config.defaultQueue());
    RabbitAdmin.track(config.defaultQueue());
    return config;
  }

  private AmqpBroker broker(Config config) {
    AmqpBroker broker =
        AmqpBroker.builder(config).managementUrl(TestEndpoints.rabbitManagementUrl()).build();
    brokers.add(broker);
    return broker;
  }

  private static Signature publish(AmqpBroker broker, long value, Instant eta) {
    Signature task =
        Signature.builder("add")
            .args(Arg.of(value))
            .headers(Map.of())
            .eta(eta == null ? null : eta.atOffset(ZoneOffset.UTC))
            .build();
    Signature routed = task.toBuilder().routingKey(broker.routingKeyFor(task)).build();
    broker.publish(routed, WireCodec.encode(routed));
    return routed;
  }

  @AfterEach
  void close() throws Exception {
    brokers.forEach(AmqpBroker::close);
    for (String queue : queues) {
      RabbitAdmin.deleteDelayQueuesOf(queue);
    }
  }

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  @Test
  void listingLeavesEveryTaskInItsPlaceButFlagsItRedelivered() throws Exception {
    Config config = config("insp_place_");
    AmqpBroker broker = broker(config);
    Inspector inspector = broker.inspector().orElseThrow();
    List<String> sent = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      sent.add(publish(broker, i, null).uuid());
    }

    assertThat(inspector.pending("", 1, 2))
        .extracting(Signature::uuid)
        .containsExactly(sent.get(1), sent.get(2));

    try (RabbitAdmin admin = RabbitAdmin.connect()) {
      List<String> taken = new ArrayList<>();
      List<Boolean> redelivered = new ArrayList<>();
      for (GetResponse r; (r = admin.get(config.defaultQueue())) != null; ) {
        taken.add(WireCodec.decodeSignature(r.getBody()).uuid());
        redelivered.add(r.getEnvelope().isRedeliver());
      }
      assertThat(taken).as("nothing consumed, order kept").isEqualTo(sent);
      // the page read offset + limit = 3 messages; RabbitMQ marks each as redelivered (documented
      // effect)
      assertThat(redelivered).containsExactly(true, true, true, false, false);
    }
  }

  @Test
  void theSingleDelayedQueueIsListedInTheOrderItReleasesTasks() {
    Config base = config("insp_single_");
    Config config =
        base.toBuilder()
            .amqp(base.amqp().withDelayedQueue(base.defaultQueue() + "_delayed"))
            .build();
    queues.add(config.amqp().delayedQueue());
    RabbitAdmin.track(config.amqp().delayedQueue());
    AmqpBroker broker = broker(config);
    Inspector inspector = broker.inspector().orElseThrow();
    Instant now = Instant.now();
    String later = publish(broker, 1, now.plus(Duration.ofHours(2))).uuid();
    String sooner = publish(broker, 2, now.plus(Duration.ofHours(1))).uuid();

    await().atMost(PATIENCE).until(() -> inspector.queue("").delayed() == 2);
    // RabbitMQ expires messages only at the head: the sooner task waits behind the later one
    assertThat(inspector.delayed("", 0, 10))
        .extracting(Signature::uuid)
        .containsExactly(later, sooner);
    assertThat(inspector.queue("").pending()).isZero();
  }

  @Test
  void quorumQueuesAreSizedButTheirTasksAreNotListed() {
    Config base = config("insp_quorum_");
    Config config =
        base.toBuilder()
            .amqp(base.amqp().withQueueDeclareArgs(Map.of("x-queue-type", "quorum")))
            .build();
    AmqpBroker broker = broker(config);
    Inspector inspector = broker.inspector().orElseThrow();
    publish(broker, 1, null);
    publish(broker, 2, null);

    assertThat(inspector.queue("").pending()).isEqualTo(2);
    assertThatThrownBy(() -> inspector.pending("", 0, 10))
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("x-delivery-count");
  }

  @Test
  void deadLettersRecordTheirTimeAndAPreviewIsNeverRequeued() {
    Config config = config("insp_preview_").toBuilder().maxMessageBytes(1024).build();
    AmqpBroker broker = broker(config);
    Inspector inspector = broker.inspector().orElseThrow();
    AMQP.BasicProperties props = Publishing.properties(Signature.create("add"));
    byte[] big =
        ("{\"UUID\":\"task_big\",\"Name\":\"add\",\"Args\":[{\"Type\":\"string\",\"Value\":\""
                + "x".repeat(4096)
                + "\"}]}")
            .getBytes(StandardCharsets.UTF_8);
    Instant before = Instant.now().minusSeconds(1);
    broker.deadLetter(config.defaultQueue(), props, big, "too big");

    List<DeadLetterEntry> letters = inspector.deadLetters("", 0, 10);
    assertThat(letters)
        .singleElement()
        .satisfies(
            letter -> {
              assertThat(letter.reason()).isEqualTo("too big");
              assertThat(letter.at()).isAfter(before).isBefore(Instant.now().plusSeconds(1));
              assertThat(letter.message()).hasSize(Publishing.DEAD_LETTER_PREVIEW_BYTES);
            });
    assertThat(inspector.requeueDeadLetters("", e -> true))
        .as("a preview would run a broken task")
        .isZero();
    assertThat(inspector.queue("").deadLettered()).isEqualTo(1);
    assertThat(inspector.queue("").pending()).isZero();
    assertThat(inspector.deleteDeadLetters("", e -> true)).isEqualTo(1);
    assertThat(inspector.queue("").deadLettered()).isZero();
  }

  @Test
  void aRepairThatStopsMidwayLosesNothing() {
    Config config = config("insp_midway_");
    AmqpBroker broker = broker(config);
    Inspector inspector = broker.inspector().orElseThrow();
    AMQP.BasicProperties props = Publishing.properties(Signature.create("add"));
    for (int i = 0; i < 3; i++) {
      Signature task = Signature.create("add", Arg.of((long) i));
      broker.deadLetter(config.defaultQueue(), props, WireCodec.encode(task), "reason " + i);
    }
    int[] seen = {0};

    assertThatThrownBy(
            () ->
                inspector.requeueDeadLetters(
                    "",
                    e -> {
                      if (++seen[0] == 2) {
                        throw new IllegalStateException(
                            "the operator's filter fails on the second entry");
                      }
                      return true;
                    }))
        .isInstanceOf(IllegalStateException.class);

    assertThat(inspector.queue("").pending()).as("the first was requeued").isEqualTo(1);
    assertThat(inspector.queue("").deadLettered()).as("the others stay dead letters").isEqualTo(2);
    assertThat(inspector.deadLetters("", 0, 10))
        .extracting(DeadLetterEntry::reason)
        .containsExactly("reason 1", "reason 2");
  }

  @Test
  void aRequeueDeclaresAQueueDeletedSince() throws Exception {
    Config config = config("insp_gone_");
    AmqpBroker broker = broker(config);
    Inspector inspector = broker.inspector().orElseThrow();
    Signature task = Signature.create("add", Arg.of(7L));
    broker.deadLetter(
        config.defaultQueue(), Publishing.properties(task), WireCodec.encode(task), "why");
    try (RabbitAdmin admin = RabbitAdmin.connect()) {
      admin.deleteQueues(config.defaultQueue());
    }

    assertThat(inspector.requeueDeadLetters("", e -> true)).isEqualTo(1);

    assertThat(inspector.pending("", 0, 10))
        .extracting(Signature::uuid)
        .containsExactly(task.uuid());
    assertThat(inspector.queues()).extracting(s -> s.queue()).contains(config.defaultQueue());
  }

  @Test
  void theResultBackendsStateQueuesAreNotListedAsTaskQueues() {
    Config config = config("insp_states_");
    AmqpBroker broker = broker(config);
    Inspector inspector = broker.inspector().orElseThrow();
    Signature task = publish(broker, 1, null);
    try (io.machinery.backend.amqp.AmqpBackend backend =
        io.machinery.backend.amqp.AmqpBackend.create(
            config.toBuilder().resultBackend(TestEndpoints.amqpUrl()).build())) {
      backend.setStatePending(
          task); // a queue named after the task UUID, bound to the task exchange

      assertThat(inspector.queues())
          .extracting(s -> s.queue())
          .contains(config.defaultQueue())
          .doesNotContain(task.uuid());
      backend.purgeState(task.uuid());
    }
  }

  @Test
  void anUnreachableManagementApiIsAClearErrorAndAmqpReadsStillWork() {
    Config config = config("insp_nomgmt_");
    AmqpBroker broker = AmqpBroker.builder(config).managementUrl("http://127.0.0.1:1").build();
    brokers.add(broker);
    Inspector inspector = broker.inspector().orElseThrow();
    String uuid = publish(broker, 1, null).uuid();

    assertThatThrownBy(() -> inspector.queue(""))
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining("management API")
        .hasMessageContaining("cannot be reached");
    assertThat(inspector.pending("", 0, 1)).extracting(Signature::uuid).containsExactly(uuid);
    assertThat(inspector.purge("")).isEqualTo(1);
    assertThatThrownBy(() -> AmqpBroker.builder(config).managementUrl("ftp://127.0.0.1"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("http://host:port");
  }
}
