package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.sqs.SqsClient;

/**
 * What needs no server: Go's queue URLs, delays rounded up and capped, dead-letter names, FIFO's
 * group id.
 */
class SqsBrokerTest {
  private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

  @Test
  void delaysRoundUpSoATaskIsNeverEarlyAndStopAtFifteenMinutes() {
    assertThat(SqsBroker.delaySeconds(NOW.minusSeconds(1), NOW)).isZero();
    assertThat(SqsBroker.delaySeconds(NOW.plusMillis(1), NOW)).isEqualTo(1);
    assertThat(SqsBroker.delaySeconds(NOW.plusMillis(1_999), NOW))
        .isEqualTo(2); // Go truncates to 1
    assertThat(SqsBroker.delaySeconds(NOW.plusSeconds(900), NOW)).isEqualTo(900);
    assertThat(SqsBroker.delaySeconds(NOW.plusSeconds(3_600), NOW))
        .isEqualTo(900); // Go refuses; here it hops
  }

  @Test
  void deadLetterQueuesKeepTheFifoSuffix() {
    assertThat(SqsBroker.deadLetterQueue("machinery_tasks"))
        .isEqualTo("machinery_tasks_dead_letters");
    assertThat(SqsBroker.deadLetterQueue("orders.fifo")).isEqualTo("orders_dead_letters.fifo");
  }

  @Test
  void queueUrlsAreGosConcatenation() {
    try (SqsClient client =
            SqsClient.builder()
                .region(Region.US_EAST_1)
                .credentialsProvider(AnonymousCredentialsProvider.create())
                .build();
        SqsBroker broker =
            SqsBroker.builder(
                    Config.builder()
                        .broker("https://sqs.us-east-2.amazonaws.com/123456789012")
                        .build())
                .client(client)
                .build()) {
      assertThat(broker.queueUrl("machinery_tasks"))
          .isEqualTo("https://sqs.us-east-2.amazonaws.com/123456789012/machinery_tasks");
      Signature fifo = Signature.builder("add").routingKey("orders.fifo").build();
      assertThatThrownBy(() -> broker.publish(fifo, WireCodec.encode(fifo)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith(
              "please specify BrokerMessageGroupId attribute for task Signature when submitting a task to FIFO queue");
    }
  }

  /**
   * The settling calls are bounded by the client's own {@code apiCallTimeout} when it sets one (the
   * broker adds nothing), else by the broker's default, per request.
   */
  @Test
  void settlingCallsAreBoundedByTheClientsApiCallTimeoutElseByTheDefault() {
    Config config = Config.builder().broker("https://sqs.us-east-2.amazonaws.com/1").build();
    try (SqsClient plain = client(null);
        SqsClient bounded = client(Duration.ofSeconds(7));
        SqsBroker byDefault = SqsBroker.builder(config).client(plain).build();
        SqsBroker byClient = SqsBroker.builder(config).client(bounded).build()) {
      assertThat(byDefault.callTimeout()).isEqualTo(SqsBroker.DEFAULT_CALL_TIMEOUT);
      assertThat(byDefault.callBound()).isNotNull();
      assertThat(byDefault.callBound().apiCallTimeout()).contains(SqsBroker.DEFAULT_CALL_TIMEOUT);

      assertThat(byClient.callTimeout()).isEqualTo(Duration.ofSeconds(7));
      assertThat(byClient.callBound()).as("the client's own timeout applies").isNull();
    }
    assertThatThrownBy(() -> SqsBroker.builder(config).callTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("callTimeout");
  }

  private static SqsClient client(@Nullable Duration apiCallTimeout) {
    return SqsClient.builder()
        .region(Region.US_EAST_1)
        .credentialsProvider(AnonymousCredentialsProvider.create())
        .overrideConfiguration(o -> o.apiCallTimeout(apiCallTimeout))
        .build();
  }
}
