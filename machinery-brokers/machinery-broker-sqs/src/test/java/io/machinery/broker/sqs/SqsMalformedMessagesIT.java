package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.sqs.model.Message;
import software.amazon.awssdk.services.sqs.model.SendMessageBatchRequestEntry;

/**
 * 1,000 malformed messages among good tasks: every one dead-lettered with its reason, every task
 * succeeds.
 */
class SqsMalformedMessagesIT {
  private static final int BAD = 1_000;
  private static final int GOOD = 1_000;

  @AfterAll
  static void deleteQueues() {
    SqsTestQueues.deleteTracked();
  }

  @Test
  void malformedMessagesAreDeadLetteredWithTheirReasonAndNeverBlockTheQueue() throws Exception {
    Config config =
        BrokerContract.uniqueQueue(
            SqsTestQueues.config().resultBackend(TestEndpoints.redisUrl()).build(),
            "malformed_it_");
    String queue = config.defaultQueue();
    SqsTestQueues.track(queue);
    try (SqsBroker broker = SqsTestQueues.broker(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, n -> n[0] + n[1]));
      SqsQueues.create(SqsTestQueues.client(), queue);
      long started = System.nanoTime();
      List<AsyncResult> results = new ArrayList<>();
      for (int batch = 0; batch < BAD / 10; batch++) {
        List<SendMessageBatchRequestEntry> entries = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          int n = batch * 10 + i;
          entries.add(
              SendMessageBatchRequestEntry.builder()
                  .id("m" + i)
                  .messageBody(n % 2 == 0 ? "not json " + n : "{\"UUID\": " + n + ", \"Name\": [}")
                  .build());
        }
        SqsTestQueues.client()
            .sendMessageBatch(r -> r.queueUrl(SqsTestQueues.url(queue)).entries(entries));
        for (int i = 0; i < GOOD / (BAD / 10); i++) {
          results.add(
              server.sendTask(Signature.create("add", Arg.of((long) batch), Arg.of((long) i))));
        }
      }
      server.newWorker("malformed", 20).launchAsync();
      for (AsyncResult result : results) {
        assertThat(result.get(Duration.ofSeconds(120), Duration.ofMillis(20))).hasSize(1);
      }
      double seconds = (System.nanoTime() - started) / 1e9;
      String dlq = SqsBroker.deadLetterQueue(queue);
      Set<String> bodies = new HashSet<>();
      Set<String> reasons = new HashSet<>();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                for (Message m : SqsTestQueues.receive(dlq, 1, 300)) {
                  bodies.add(m.body());
                  reasons.add(
                      m.messageAttributes()
                          .get(SqsBroker.DEAD_LETTER_REASON_ATTRIBUTE)
                          .stringValue()
                          .replaceAll("[0-9]+", "N"));
                }
                return bodies.size() == BAD;
              });
      System.out.printf(
          "[SqsMalformedMessagesIT] %d good tasks all SUCCESS and %d malformed messages dead-lettered"
              + " in %.1f s; distinct reasons: %s%n",
          GOOD, bodies.size(), seconds, reasons);
      assertThat(reasons).allSatisfy(r -> assertThat(r).isNotBlank());
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> SqsTestQueues.approximateCount(queue) == 0);
    }
  }
}
