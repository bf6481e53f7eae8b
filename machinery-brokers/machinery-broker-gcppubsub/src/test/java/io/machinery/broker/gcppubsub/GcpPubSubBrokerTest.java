package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import io.machinery.config.GcpPubSubConfig;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** What needs no server: URL and option validation, attribute limits. */
class GcpPubSubBrokerTest {
  @Test
  void onlyGosUrlFormIsAccepted() {
    for (String url :
        new String[] {
          "redis://127.0.0.1:6379",
          "gcppubsub://",
          "gcppubsub://project",
          "gcppubsub://project/",
          "gcppubsub:///subscription",
          "gcppubsub://p/s/extra"
        }) {
      assertThatThrownBy(() -> GcpPubSubBroker.builder(Config.builder().broker(url).build()))
          .as(url)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("gcppubsub://PROJECT/SUBSCRIPTION");
    }
    GcpPubSubBroker.builder(
        Config.builder().broker("gcppubsub://my-project/my-subscription").build());
  }

  @Test
  void optionsOutsidePubSubsLimitsAreRefusedWithTheRange() {
    var builder = GcpPubSubBroker.builder(Config.builder().broker("gcppubsub://p/s").build());
    assertThatThrownBy(() -> builder.ackDeadline(Duration.ofSeconds(5)))
        .hasMessageContaining("between 10 s and 600 s");
    assertThatThrownBy(() -> builder.ackDeadline(Duration.ofMinutes(11)))
        .hasMessageContaining("between 10 s and 600 s");
    assertThatThrownBy(() -> builder.prefetch(0)).hasMessageContaining("between 1 and 1000");
    assertThatThrownBy(() -> builder.delayTopic("")).hasMessageContaining("must not be empty");
    assertThatThrownBy(() -> new GcpPubSubConfig(Duration.ZERO))
        .hasMessageContaining("MaxExtension must be positive");
    assertThatThrownBy(() -> builder.delayTopic("s").build())
        .hasMessageContaining("three different names");
  }

  @Test
  void maxExtensionDefaultsToTheGoClientsHour() {
    assertThat(Config.DEFAULT.gcpPubSub().maxExtension()).isEqualTo(Duration.ofMinutes(60));
    assertThat(
            Config.DEFAULT.toBuilder()
                .gcpPubSub(GcpPubSubConfig.DEFAULT.withMaxExtension(Duration.ofMinutes(5)))
                .build()
                .gcpPubSub()
                .maxExtension())
        .isEqualTo(Duration.ofMinutes(5));
  }

  @Test
  void aLongReasonIsCutToPubSubsAttributeLimitOnACharacterBoundary() {
    String reason = "é".repeat(2_000); // 2 bytes each in UTF-8
    String cut = GcpPubSubBroker.truncate(reason);
    assertThat(cut.getBytes(StandardCharsets.UTF_8).length)
        .isLessThanOrEqualTo(GcpPubSubBroker.MAX_ATTRIBUTE_BYTES);
    assertThat(cut).endsWith("…").startsWith("éé");
    assertThat(GcpPubSubBroker.truncate("short")).isEqualTo("short");
  }
}
