package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.GetResponse;
import io.machinery.Arg;
import io.machinery.MachineryException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.spi.Delivery;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What Go's AMQP broker does and this one must do the same way, checked against RabbitMQ itself.
 */
class AmqpBrokerIT {
  private static final Duration PATIENCE = Duration.ofSeconds(20);

  @RegisterExtension static final AmqpTestResources rabbit = new AmqpTestResources();

  private Config config;
  private RabbitAdmin admin;

  /**
   * Some tests here read queue properties through the management API, which RabbitMQ 3.10 sometimes
   * stops serving (HTTP 500, {badkey,...} in its statistics) after heavy queue churn by earlier
   * test classes; a node in that state is restarted through the project's service script before
   * this class starts.
   */
  @BeforeAll
  static void managementApiIsServing() throws Exception {
    RabbitAdmin.ensureManagementServing();
  }

  @BeforeEach
  void setUp() throws Exception {
    config = rabbit.queue("amqp_it_");
    admin = rabbit.admin();
  }

  private Signature publish(AmqpBroker b, Signature signature) {
    Signature routed =
        signature.toBuilder()
            .routingKey(b.routingKeyFor(signature))
            .headers(signature.headers())
            .build();
    b.publish(routed, WireCodec.encode(routed));
    return routed;
  }

  @Test
  void theWorkerQueueIsDeclaredAsGoDeclaresIt() throws Exception {
    Config priorities =
        config.toBuilder()
            .amqp(config.amqp().withQueueDeclareArgs(Map.of("x-max-priority", 10)))
            .build();
    AmqpBroker b = rabbit.broker(priorities);
    b.startConsuming("it", "", new RecordingHandler(1)).close();

    Map<String, Object> queue = RabbitAdmin.queueInfo(config.defaultQueue());
    assertThat(queue)
        .containsEntry("durable", true)
        .containsEntry("auto_delete", false)
        .containsEntry("exclusive", false);
    assertThat(queue.get("arguments")).isEqualTo(Map.of("x-max-priority", 10));
    String bindings = RabbitAdmin.management("queues/%2F/" + config.defaultQueue() + "/bindings");
    assertThat(bindings)
        .contains("\"source\":\"" + AmqpConfig.DEFAULT_EXCHANGE + "\"")
        .contains("\"routing_key\":\"" + config.amqp().bindingKey() + "\"");
    String exchange = RabbitAdmin.management("exchanges/%2F/" + AmqpConfig.DEFAULT_EXCHANGE);
    assertThat(exchange)
        .contains("\"type\":\"direct\"")
        .contains("\"durable\":true")
        .contains("\"auto_delete\":false");
  }

  @Test
  void messagesCarryGosPropertiesAndBytes() throws Exception {
    AmqpBroker b =
        rabbit.broker(
            config.toBuilder()
                .amqp(config.amqp().withQueueDeclareArgs(Map.of("x-max-priority", 10)))
                .build());
    Signature sent =
        publish(
            b,
            Signature.builder("add")
                .args(Arg.of(1L), Arg.of(2L))
                .priority(3)
                .headers(Map.of("traceparent", "00-abc-01", "n", 5L))
                .build());

    GetResponse got = admin.get(config.defaultQueue());
    assertThat(got).isNotNull();
    assertThat(got.getBody()).isEqualTo(WireCodec.encode(sent));
    assertThat(got.getEnvelope().getExchange()).isEqualTo(AmqpConfig.DEFAULT_EXCHANGE);
    assertThat(got.getEnvelope().getRoutingKey()).isEqualTo(config.amqp().bindingKey());
    AMQP.BasicProperties p = got.getProps();
    assertThat(p.getContentType()).isEqualTo("application/json");
    assertThat(p.getDeliveryMode()).isEqualTo(2);
    assertThat(p.getPriority()).isEqualTo(3);
    assertThat(p.getHeaders()).hasSize(2);
    assertThat(String.valueOf(p.getHeaders().get("traceparent"))).isEqualTo("00-abc-01");
    assertThat(String.valueOf(p.getHeaders().get("n"))).isEqualTo("5");

    Signature plain = publish(b, Signature.create("add"));
    AMQP.BasicProperties q = admin.get(config.defaultQueue()).getProps();
    assertThat(q.getHeaders()).as("no headers table for Go's {} (like Go)").isNull();
    assertThat(q.getPriority()).as("no priority property for 0 (like Go)").isNull();
    assertThat(plain.uuid()).startsWith("task_");
  }

  @Test
  void noCopyOfTheTaskIsLeftInGosNeverConsumedQueue() throws Exception {
    String key = config.defaultQueue() + "_key";
    Config distinctKey = config.toBuilder().amqp(config.amqp().withBindingKey(key)).build();
    AmqpBroker b = rabbit.broker(distinctKey);
    publish(b, Signature.create("add"));
    assertThat(admin.messageCount(config.defaultQueue())).isEqualTo(1);
    assertThat(admin.exists(key))
        .as("Go would have declared queue %s and left a copy there", key)
        .isFalse();
  }

  @Test
  void higherPriorityTasksComeFirstWhenTheQueueHasMaxPriority() throws Exception {
    AmqpBroker b =
        rabbit.broker(
            config.toBuilder()
                .amqp(config.amqp().withQueueDeclareArgs(Map.of("x-max-priority", 10)))
                .build());
    Signature low = publish(b, Signature.builder("add").priority(1).build());
    Signature high = publish(b, Signature.builder("add").priority(9).build());
    RecordingHandler handler = new RecordingHandler(2);
    b.startConsuming("it", "", handler);
    assertThat(WireCodec.decodeSignature(handler.next(20).body()).uuid()).isEqualTo(high.uuid());
    assertThat(WireCodec.decodeSignature(handler.next(20).body()).uuid()).isEqualTo(low.uuid());
  }

  @Test
  void anUnroutableTaskIsAnErrorToTheSenderNotASilentDrop() {
    String exchange = "amqp_it_topic_" + UUID.randomUUID().toString().substring(0, 8);
    Config topic =
        config.toBuilder()
            .amqp(
                config
                    .amqp()
                    .withExchange(exchange)
                    .withExchangeType("topic")
                    .withBindingKey("tasks.#"))
            .build();
    AmqpBroker b = rabbit.broker(topic);
    Signature routed = Signature.builder("add").routingKey("tasks.add").build();
    b.publish(routed, WireCodec.encode(routed));
    Signature lost = Signature.builder("add").routingKey("elsewhere").build();
    assertThatThrownBy(() -> b.publish(lost, WireCodec.encode(lost)))
        .isInstanceOf(MachineryException.class)
        .hasMessageContaining("elsewhere")
        .hasMessageContaining("unroutable");
    try {
      admin.with(ch -> ch.exchangeDelete(exchange));
    } catch (Exception ignored) {
      // best effort
    }
  }

  @Test
  void aDelayedTaskWaitsInGosDelayQueue() throws Exception {
    Instant now = Instant.parse("2030-01-02T03:04:05Z");
    AmqpBroker broker =
        rabbit.closeLater(
            AmqpBroker.builder(config).clock(Clock.fixed(now, ZoneOffset.UTC)).build());
    Signature delayed =
        publish(broker, Signature.builder("add").eta(now.plusMillis(60_000)).build());
    String name = "delay.60000." + AmqpConfig.DEFAULT_EXCHANGE + "." + config.amqp().bindingKey();

    Map<String, Object> queue = RabbitAdmin.queueInfo(name);
    // the declaration Go made in interop/go/captured/amqp-delay-queue-declare.json, for 60000 ms
    assertThat(queue).containsEntry("durable", true).containsEntry("auto_delete", false);
    assertThat(queue.get("arguments"))
        .isEqualTo(
            Map.of(
                "x-dead-letter-exchange",
                AmqpConfig.DEFAULT_EXCHANGE,
                "x-dead-letter-routing-key",
                config.amqp().bindingKey(),
                "x-message-ttl",
                60000,
                "x-expires",
                120000));
    assertThat(RabbitAdmin.management("queues/%2F/" + name + "/bindings"))
        .contains("\"routing_key\":\"" + name + "\"");
    GetResponse waiting = admin.get(name);
    assertThat(waiting.getBody()).isEqualTo(WireCodec.encode(delayed));
    assertThat(admin.messageCount(config.defaultQueue())).isZero();
    // Go redeclares it with int64 arguments before each publish: the same declaration must be
    // accepted
    admin.with(
        ch ->
            ch.queueDeclare(
                name,
                true,
                false,
                false,
                Map.of(
                    "x-dead-letter-exchange",
                    AmqpConfig.DEFAULT_EXCHANGE,
                    "x-dead-letter-routing-key",
                    config.amqp().bindingKey(),
                    "x-message-ttl",
                    60000L,
                    "x-expires",
                    120000L)));
    admin.deleteQueues(name);
  }

  @Test
  void theSingleDelayedQueueHoldsTasksUntilTheirEta() throws Exception {
    String delayedQueue = config.defaultQueue() + "_delayed";
    RabbitAdmin.track(delayedQueue);
    AmqpBroker b =
        rabbit.broker(
            config.toBuilder().amqp(config.amqp().withDelayedQueue(delayedQueue)).build());
    Instant eta = Instant.now().plusMillis(700);
    Signature delayed = publish(b, Signature.builder("add").eta(eta).build());
    assertThat(RabbitAdmin.queueInfo(delayedQueue).get("arguments"))
        .isEqualTo(
            Map.of(
                "x-dead-letter-exchange",
                AmqpConfig.DEFAULT_EXCHANGE,
                "x-dead-letter-routing-key",
                config.amqp().bindingKey()));
    RecordingHandler handler = new RecordingHandler(1);
    b.startConsuming("it", "", handler);
    Delivery delivery = handler.next(20);
    assertThat(Instant.now()).isAfterOrEqualTo(eta.minusMillis(50));
    assertThat(WireCodec.decodeSignature(delivery.body()).uuid()).isEqualTo(delayed.uuid());
    handler.ack(delivery);
    admin.deleteQueues(delayedQueue);
  }

  @Test
  void aTaskPublishedByGoRunsOnAJavaWorker() throws Exception {
    byte[] goMessage = Files.readAllBytes(Path.of("../../interop/go/captured/amqp-msg-add.json"));
    Signature go = WireCodec.decodeSignature(goMessage);
    AmqpBroker b = rabbit.broker(config);
    try (MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
        Server server = Server.builder().config(config).broker(b).backend(backend).build()) {
      server.registerTask(
          "add", TaskFunction.varargs(long[].class, a -> java.util.stream.LongStream.of(a).sum()));
      server.newWorker("it", 2).launchAsync();
      // exactly what Go's Publish sends: no headers, no priority, persistent JSON
      AMQP.BasicProperties goProperties =
          new AMQP.BasicProperties.Builder()
              .contentType("application/json")
              .deliveryMode(2)
              .build();
      admin.with(
          ch -> {
            ch.basicPublish(
                AmqpConfig.DEFAULT_EXCHANGE, config.amqp().bindingKey(), goProperties, goMessage);
            return null;
          });
      assertThat(server.asyncResult(go.uuid()).get(PATIENCE)).containsExactly(2L);
    }
  }

  /**
   * Issue 13: one connection for the broker's publishing and the backend, owned and closed by the
   * caller.
   */
  @Test
  void aBrokerAndABackendShareOneClientThatTheCallerOwns() throws Exception {
    try (AmqpClient shared =
        AmqpClient.builder(List.of(AmqpUrl.parse(TestEndpoints.amqpUrl())))
            .connectionName("shared-it-" + config.defaultQueue())
            .build()) {
      AmqpBroker b = AmqpBroker.builder(config).client(shared).build();
      AmqpBackend backend = AmqpBackend.builder(config).client(shared).build();
      try (Server server = Server.builder().config(config).broker(b).backend(backend).build()) {
        server.registerTask(
            "add",
            TaskFunction.varargs(long[].class, a -> java.util.stream.LongStream.of(a).sum()));
        server.newWorker("it", 2).launchAsync();
        assertThat(server.sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L))).get(PATIENCE))
            .containsExactly(3L);
      } finally {
        b.close();
        backend.close();
      }
      assertThat(shared.isClosed()).as("the caller owns it").isFalse();
      int ready =
          shared.call(
              "inspect", ch -> ch.queueDeclarePassive(config.defaultQueue()).getMessageCount());
      assertThat(ready).isZero();
      String name = "shared-it-" + config.defaultQueue();
      await()
          .atMost(PATIENCE)
          .until(() -> RabbitAdmin.management("connections").contains(name)); // stats lag
      assertThat(RabbitAdmin.management("connections"))
          .as("one connection for both")
          .containsOnlyOnce("\"user_provided_name\":\"" + name + "\"");
    }
  }

  @Test
  void pendingTasksListsAQueueWithoutDroppingOrKeepingAnything() throws Exception {
    AmqpBroker b = rabbit.broker(config);
    Signature first = publish(b, Signature.create("add", Arg.of(1L)));
    Signature carrier = Signature.builder("raw").routingKey(config.amqp().bindingKey()).build();
    b.publish(carrier, "not a task".getBytes(StandardCharsets.UTF_8));
    Signature ignorable =
        publish(b, Signature.builder("unknown_here").ignoreWhenTaskNotRegistered(true).build());

    assertThat(b.pendingTasks(""))
        .extracting(Signature::uuid)
        .containsExactly(first.uuid(), ignorable.uuid());
    assertThat(b.pendingTasks(config.defaultQueue())).hasSize(2);
    assertThat(admin.messageCount(config.defaultQueue())).as("everything is back").isEqualTo(3);
    assertThat(WireCodec.decodeSignature(admin.get(config.defaultQueue()).getBody()).uuid())
        .as("in its place")
        .isEqualTo(first.uuid());
    assertThat(b.pendingTasks("amqp_it_no_such_queue")).isEmpty();
  }

  @Test
  void severalUrlsFailOverToTheFirstThatAnswers() throws Exception {
    Config failover =
        config.toBuilder()
            .broker("amqp://guest:guest@127.0.0.1:1/|" + TestEndpoints.amqpUrl())
            .multipleBrokerSeparator("|")
            .build();
    AmqpBroker b = rabbit.broker(failover);
    Signature sent = publish(b, Signature.create("add"));
    RecordingHandler handler = new RecordingHandler(1);
    b.startConsuming("it", "", handler);
    Delivery delivery = handler.next(20);
    assertThat(WireCodec.decodeSignature(delivery.body()).uuid()).isEqualTo(sent.uuid());
    handler.ack(delivery);
  }

  /**
   * F6: RabbitMQ's consumer_timeout counts from the delivery, so a message prefetched behind a long
   * task could time out before it even starts. The QoS is the worker's concurrency, however large
   * the prefetch.
   */
  @Test
  void theBrokerHandsOutNoMoreThanTheWorkersConcurrencyWhateverThePrefetch() throws Exception {
    AmqpBroker b =
        rabbit.broker(config.toBuilder().amqp(config.amqp().withPrefetchCount(5)).build());
    for (int i = 0; i < 10; i++) {
      publish(b, Signature.create("add", Arg.of((long) i)));
    }
    RecordingHandler handler = new RecordingHandler(1);
    b.startConsuming("it", "", handler);
    await().atMost(PATIENCE).until(() -> handler.handedOver() == 1);
    await()
        .during(Duration.ofMillis(300))
        .atMost(PATIENCE)
        .until(() -> admin.messageCount(config.defaultQueue()) == 9 && handler.handedOver() == 1);
  }

  /**
   * F20: an ETA a few milliseconds ahead goes through the 1 s delay queue, never one that expires
   * under it.
   */
  @Test
  void aDelayOfAFewMillisecondsIsRaisedToOneSecond() throws Exception {
    Instant now = Instant.parse("2030-01-02T03:04:05Z");
    AmqpBroker broker =
        rabbit.closeLater(
            AmqpBroker.builder(config).clock(Clock.fixed(now, ZoneOffset.UTC)).build());
    Signature delayed = publish(broker, Signature.builder("add").eta(now.plusMillis(5)).build());
    String name = "delay.1000." + AmqpConfig.DEFAULT_EXCHANGE + "." + config.amqp().bindingKey();
    RabbitAdmin.track(name);
    assertThat(admin.exists(name)).as("the 1 s delay queue, which lives 2 s").isTrue();
    await().atMost(PATIENCE).until(() -> admin.messageCount(config.defaultQueue()) == 1);
    assertThat(admin.get(config.defaultQueue()).getBody()).isEqualTo(WireCodec.encode(delayed));
  }

  @Test
  void aDeadLetterKeepsItsBytesAndSaysWhy() throws Exception {
    AmqpBroker b = rabbit.broker(config);
    Signature carrier = Signature.builder("raw").routingKey(config.amqp().bindingKey()).build();
    byte[] bad = "{\"UUID\": 42}".getBytes(StandardCharsets.UTF_8);
    b.publish(carrier, bad);
    RecordingHandler handler = new RecordingHandler(1);
    b.startConsuming("it", "", handler);
    handler.deadLetter(handler.next(20), "not a task: UUID is a number");

    String deadLetters = config.defaultQueue() + Topology.DEAD_LETTER_SUFFIX;
    await().atMost(PATIENCE).until(() -> admin.messageCount(deadLetters) == 1);
    GetResponse letter = admin.get(deadLetters);
    assertThat(letter.getBody()).isEqualTo(bad);
    assertThat(letter.getEnvelope().getExchange()).isEqualTo(Topology.DEAD_LETTER_EXCHANGE);
    assertThat(
            String.valueOf(letter.getProps().getHeaders().get(Topology.DEAD_LETTER_REASON_HEADER)))
        .isEqualTo("not a task: UUID is a number");
    assertThat(
            String.valueOf(letter.getProps().getHeaders().get(Topology.DEAD_LETTER_QUEUE_HEADER)))
        .isEqualTo(config.defaultQueue());
    await()
        .during(Duration.ofMillis(300))
        .atMost(PATIENCE)
        .until(() -> admin.messageCount(config.defaultQueue()) == 0);
  }

  /**
   * A broker URL of another scheme is refused when the broker is created. (An empty exchange the
   * config itself refuses: ConfigValidationTest.)
   */
  @Test
  void aBrokerForAnotherSchemeIsRefusedAtOnce() {
    assertThatThrownBy(
            () -> AmqpBroker.create(config.toBuilder().broker("redis://127.0.0.1:6379").build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("amqp://");
  }

  @Test
  void aConsumerWhoseSupervisorFailsTellsItsHandlerItEnded() {
    AmqpBroker broker = rabbit.broker(config);
    RecordingHandler handler =
        new RecordingHandler(1).failWith(new IllegalStateException("a handler with a bug"));
    broker.startConsuming("it", "", handler);
    await().atMost(PATIENCE).until(() -> !handler.endings().isEmpty());
    assertThat(handler.endings())
        .as("nothing subscribes again: the worker must start a new consumer")
        .singleElement()
        .satisfies(e -> assertThat(e).hasMessage("a handler with a bug"));
  }

  @Test
  void aClosedBrokerRefusesWork() {
    AmqpBroker b = rabbit.broker(config);
    b.close();
    b.close();
    assertThatThrownBy(() -> publish(b, Signature.create("add")))
        .isInstanceOf(MachineryException.class);
    // not a MachineryException, which a worker's start would try again
    assertThatThrownBy(() -> b.startConsuming("it", "", new RecordingHandler(1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }
}
