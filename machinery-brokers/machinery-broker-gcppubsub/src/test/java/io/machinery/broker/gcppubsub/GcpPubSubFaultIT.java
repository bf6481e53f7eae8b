package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.pubsub.v1.ReceivedMessage;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.testkit.BrokerContract;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A task longer than the ack deadline, and malformed messages among good tasks. */
class GcpPubSubFaultIT {
  private final String project = PubSubProjects.name("machinery-test");
  private final Config config =
      PubSubTestSupport.config(
          BrokerContract.uniqueQueue(Config.builder().maxMessageBytes(4096).build(), "fault_it_"),
          project);

  @AfterEach
  void deleteProject() throws Exception {
    PubSubProjects.delete(project);
  }

  /**
   * The subscription's ack deadline is 10 s and the task runs 25 s, with a second worker on the
   * same subscription waiting for work: the lease is extended while the task runs, so it runs once.
   */
  @Test
  void aTaskLongerThanTheAckDeadlineRunsOnce() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    CountDownLatch finish = new CountDownLatch(1);
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build();
        GcpPubSubBroker other = PubSubProjects.broker(config).build();
        MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
        Server server = Server.builder().config(config).broker(broker).backend(backend).build();
        Server second = Server.builder().config(config).broker(other).backend(backend).build()) {
      TaskFunction slow =
          TaskFunction.of(
              Long.class,
              x -> {
                runs.incrementAndGet();
                finish.await(); // the test lets it end after 2.5 ack deadlines
                return x;
              });
      server.registerTask("slow", slow);
      second.registerTask("slow", slow);
      server.newWorker("long-1", 2).launchAsync();
      second.newWorker("long-2", 2).launchAsync();
      long started = System.nanoTime();
      AsyncResult result = server.sendTask(Signature.create("slow", Arg.of(7L)));
      await().atMost(Duration.ofSeconds(20)).until(() -> runs.get() == 1);
      // 25 s: two and a half ack deadlines, during which a lapse would hand the message to a worker
      // again
      await()
          .during(Duration.ofSeconds(25))
          .atMost(Duration.ofSeconds(27))
          .until(() -> runs.get() == 1);
      finish.countDown();
      assertThat(result.get(Duration.ofSeconds(20))).containsExactly(7L);
      await()
          .during(Duration.ofSeconds(12))
          .atMost(Duration.ofSeconds(13))
          .until(() -> runs.get() == 1);
      System.out.printf(
          "[GcpPubSubFaultIT] a task of 25 s on a 10 s ack deadline ran %d time(s); %.1f s in all%n",
          runs.get(), (System.nanoTime() - started) / 1e9);
    }
  }

  /**
   * The SUCCESS write fails once: the worker retries the write (bookkeeping), never the function,
   * and acknowledges the message only once the result is stored; so the task runs once.
   */
  @Test
  void aTaskWhoseResultWriteFailsOnceRunsOnceAndItsResultIsStored() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build();
        FlakyBackend backend =
            new FlakyBackend(MemoryBackend.create(config, Clock.systemUTC()), 1);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask(
          "count",
          TaskFunction.of(
              Long.class,
              x -> {
                runs.incrementAndGet();
                return x;
              }));
      server.newWorker("flaky", 1).launchAsync();
      AsyncResult result = server.sendTask(Signature.create("count", Arg.of(5L)));
      assertThat(result.get(Duration.ofSeconds(30))).containsExactly(5L);
      assertThat(backend.failures()).as("the first SUCCESS write failed").isEqualTo(1);
      assertThat(runs.get())
          .as("the function ran once; only its result write was retried")
          .isEqualTo(1);
      await()
          .during(Duration.ofSeconds(2))
          .atMost(Duration.ofSeconds(3))
          .until(() -> runs.get() == 1);
    }
  }

  /**
   * Good tasks and malformed messages (six kinds) interleaved on one subscription: every good task
   * ends SUCCESS and every malformed one reaches the dead-letter topic with its reason and source.
   * 300 of each ({@code -Dpubsub.malformed.count} for more; 1,000 each took 31 s of a 2-core {@code
   * make test}, mostly one-by-one publishing to the emulator).
   */
  @Test
  void malformedMessagesAreDeadLetteredWithTheirReasonAndGoodTasksSucceed() throws Exception {
    int good = Integer.getInteger("pubsub.malformed.count", 300);
    int badCount = good;
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
    try (GcpPubSubBroker broker = PubSubProjects.broker(config).build();
        MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
      long started = System.nanoTime();
      Signature carrier = Signature.builder("raw").routingKey(config.defaultQueue()).build();
      List<AsyncResult> results = new ArrayList<>();
      for (int i = 0; i < good; i++) {
        results.add(server.sendTask(Signature.create("add", Arg.of((long) i), Arg.of(1L))));
        broker.publish(carrier, bad.get(i % bad.size()));
      }
      server.newWorker("malformed-it", 10).launchAsync();
      for (int i = 0; i < good; i++) {
        assertThat(results.get(i).get(Duration.ofSeconds(60))).containsExactly(i + 1L);
      }
      List<ReceivedMessage> letters = new ArrayList<>();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                letters.addAll(drain(broker, GcpPubSubBroker.DEFAULT_DEAD_LETTER_TOPIC));
                return letters.size() >= badCount;
              });
      double seconds = (System.nanoTime() - started) / 1e9;
      Map<String, Integer> reasons = new HashMap<>();
      for (ReceivedMessage letter : letters) {
        String reason =
            letter
                .getMessage()
                .getAttributesOrDefault(GcpPubSubBroker.DEAD_LETTER_REASON_ATTRIBUTE, "");
        assertThat(reason).isNotBlank();
        assertThat(
                letter
                    .getMessage()
                    .getAttributesOrDefault(GcpPubSubBroker.DEAD_LETTER_SOURCE_ATTRIBUTE, ""))
            .contains(config.defaultQueue());
        reasons.merge(reason.length() > 60 ? reason.substring(0, 60) : reason, 1, Integer::sum);
      }
      assertThat(letters).hasSize(badCount);
      assertThat(broker.pendingTasks("")).isEmpty();
      System.out.printf(
          "[GcpPubSubFaultIT] %d good tasks all SUCCESS and %d malformed messages all dead-lettered in"
              + " %.1f s; reasons (first 60 chars): %s%n",
          good, badCount, seconds, reasons);
    }
  }

  /** Pulls and acknowledges what a subscription holds. */
  private static List<ReceivedMessage> drain(GcpPubSubBroker broker, String subscription) {
    @SuppressWarnings("deprecation")
    var request =
        com.google.pubsub.v1.PullRequest.newBuilder()
            .setSubscription(broker.client().subscriptionName(subscription))
            .setMaxMessages(1000)
            .setReturnImmediately(true)
            .build();
    List<ReceivedMessage> got =
        broker.client().subscriber().pullCallable().call(request).getReceivedMessagesList();
    if (!got.isEmpty()) {
      broker
          .client()
          .acknowledge(subscription, got.stream().map(ReceivedMessage::getAckId).toList());
    }
    return got;
  }
}
