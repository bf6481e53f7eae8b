package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.GetResponse;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Malformed messages among good tasks: every bad one is dead-lettered with its reason, every good
 * one runs.
 */
class AmqpMalformedMessagesIT {
  private static final int GOOD = 1_000;

  @AfterAll
  static void deleteQueues() throws Exception {
    RabbitAdmin.deleteTracked();
  }

  @Test
  void badMessagesAreSetAsideAndGoodTasksSucceed() throws Exception {
    String url = TestEndpoints.amqpUrl();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(url).maxMessageBytes(4096).build(), "malformed_it_");
    RabbitAdmin.track(config.defaultQueue());
    List<byte[]> bad =
        List.of(
            "not json at all".getBytes(StandardCharsets.UTF_8),
            "[1,2,3]".getBytes(StandardCharsets.UTF_8),
            new byte[0],
            "{\"UUID\": 42, \"Name\": \"add\"}".getBytes(StandardCharsets.UTF_8),
            "{\"UUID\":\"task_x\",\"Name\":\"add\",\"Priority\":300}"
                .getBytes(StandardCharsets.UTF_8),
            ("{\"UUID\":\"task_big\",\"Name\":\"add\",\"Args\":[{\"Type\":\"string\",\"Value\":\""
                    + "x".repeat(8192)
                    + "\"}]}")
                .getBytes(StandardCharsets.UTF_8));
    try (AmqpBroker broker = AmqpBroker.create(config);
        MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
        Server server = Server.builder().config(config).broker(broker).backend(backend).build();
        RabbitAdmin admin = RabbitAdmin.connect()) {
      server.registerTask(
          "add", TaskFunction.varargs(long[].class, a -> java.util.stream.LongStream.of(a).sum()));
      server.newWorker("malformed-it", 10).launchAsync();
      Signature carrier = Signature.builder("raw").routingKey(config.amqp().bindingKey()).build();
      List<AsyncResult> results = new ArrayList<>();
      int badSent = 0;
      long started = System.nanoTime();
      for (int i = 0; i < GOOD; i++) {
        results.add(server.sendTask(Signature.create("add", Arg.of((long) i), Arg.of(1L))));
        if (i % 10 == 0) {
          broker.publish(carrier, bad.get(badSent % bad.size()));
          badSent++;
        }
      }
      for (int i = 0; i < GOOD; i++) {
        assertThat(results.get(i).get(Duration.ofSeconds(30))).containsExactly(i + 1L);
      }
      String deadLetters = config.defaultQueue() + Topology.DEAD_LETTER_SUFFIX;
      int expected = badSent;
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> admin.messageCount(deadLetters) == expected);
      double seconds = (System.nanoTime() - started) / 1e9;

      Map<String, Integer> reasons = new HashMap<>();
      int oversized = 0;
      GetResponse letter;
      while ((letter = admin.get(deadLetters)) != null) {
        String reason =
            String.valueOf(letter.getProps().getHeaders().get(Topology.DEAD_LETTER_REASON_HEADER));
        assertThat(reason).isNotBlank();
        if (letter.getProps().getHeaders().containsKey(Topology.DEAD_LETTER_SIZE_HEADER)) {
          // F7/F10: an oversized message's dead letter is a bounded preview
          assertThat(letter.getBody()).hasSize(Publishing.DEAD_LETTER_PREVIEW_BYTES);
          assertThat(
                  ((Number) letter.getProps().getHeaders().get(Topology.DEAD_LETTER_SIZE_HEADER))
                      .intValue())
              .isGreaterThan(config.maxMessageBytes());
          oversized++;
        }
        reasons.merge(reason.length() > 60 ? reason.substring(0, 60) : reason, 1, Integer::sum);
      }
      assertThat(admin.messageCount(config.defaultQueue())).isZero();
      System.out.printf(
          "[AmqpMalformedMessagesIT] %d good tasks all SUCCESS and %d malformed messages all"
              + " dead-lettered in %.1f s; reasons (first 60 chars): %s%n",
          GOOD, badSent, seconds, reasons);
      assertThat(reasons.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(badSent);
      assertThat(oversized)
          .as("the 8 KiB message over the 4 KiB limit, each time it was sent")
          .isPositive();
    }
  }
}
