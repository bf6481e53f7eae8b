package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Unique sends on the memory broker and backend where the backend's client loses a claim's reply
 * and tries again ({@link FaultyBackend#losingClaimReplies}); the DynamoDB module's {@code
 * DynamoDbBackendEdgeCasesIT} shows the same with the AWS SDK and a proxy that loses the reply.
 */
class UniqueTasksTest {
  private static final Duration TTL = Duration.ofMinutes(5);

  @Test
  void aSendWhoseClaimReplyWasLostIsSentAndHoldsTheKey() {
    try (MemoryBroker broker = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
        FaultyBackend backend =
            new FaultyBackend(MemoryBackend.create(Config.DEFAULT, Clock.systemUTC()))
                .losingClaimReplies();
        Server server = Server.builder().broker(broker).backend(backend).build()) {
      AsyncResult sent = server.sendTaskUnique(Signature.create("report"), "nightly", TTL);
      assertThat(broker.pendingTasks(Config.DEFAULT.defaultQueue()))
          .as("sent, though the claim came back naming the sender itself")
          .singleElement()
          .satisfies(task -> assertThat(task.uuid()).isEqualTo(sent.taskUuid()));
      AsyncResult again = server.sendTaskUnique(Signature.create("report"), "nightly", TTL);
      assertThat(again.taskUuid()).isEqualTo(sent.taskUuid());
      assertThat(broker.pendingTasks(Config.DEFAULT.defaultQueue())).hasSize(1);
    }
  }

  @Test
  void aSignatureSentAgainWithItsUuidWhileItWaitsIsNotSentTwice() {
    try (MemoryBroker broker = MemoryBroker.create(Config.DEFAULT, Clock.systemUTC());
        FaultyBackend backend =
            new FaultyBackend(MemoryBackend.create(Config.DEFAULT, Clock.systemUTC()));
        Server server = Server.builder().broker(broker).backend(backend).build()) {
      Signature report = Signature.create("report");
      AsyncResult sent = server.sendTaskUnique(report, "nightly", TTL);
      AsyncResult again = server.sendTaskUnique(report, "nightly", TTL);
      assertThat(again.taskUuid()).isEqualTo(sent.taskUuid());
      assertThat(broker.pendingTasks(Config.DEFAULT.defaultQueue()))
          .as("the holder is the same UUID, with a state: an earlier send, not a lost reply")
          .hasSize(1);
    }
  }
}
