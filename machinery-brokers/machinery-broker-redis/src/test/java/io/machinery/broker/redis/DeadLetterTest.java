package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class DeadLetterTest {
  private static final Instant AT = Instant.parse("2026-11-27T11:36:15.123Z");

  @Test
  void aTextMessageIsKeptAsTextWithItsReasonQueueConsumerAndTime() throws Exception {
    byte[] raw = "{\"UUID\": 42, not json \u2028 é".getBytes(StandardCharsets.UTF_8);
    DeadLetter letter = new DeadLetter("machinery_tasks", "Could not unmarshal: \"x\"", "worker-1-abc", AT, raw);
    JsonNode json = new ObjectMapper().readTree(letter.toJson());
    assertThat(json.get("reason").asText()).isEqualTo("Could not unmarshal: \"x\"");
    assertThat(json.get("queue").asText()).isEqualTo("machinery_tasks");
    assertThat(json.get("consumer").asText()).isEqualTo("worker-1-abc");
    assertThat(json.get("at").asText()).isEqualTo("2026-11-27T11:36:15.123Z");
    assertThat(json.get("message").asText().getBytes(StandardCharsets.UTF_8)).isEqualTo(raw);
    assertThat(DeadLetter.fromJson("machinery_tasks", letter.toJson())).isEqualTo(letter);
  }

  @Test
  void bytesThatAreNotUtf8AreKeptInBase64() throws Exception {
    byte[] raw = {(byte) 0xff, 0, (byte) 0xc3};
    DeadLetter letter = new DeadLetter("q", "binary", "c", AT, raw);
    JsonNode json = new ObjectMapper().readTree(letter.toJson());
    assertThat(json.has("message")).isFalse();
    assertThat(json.get("message_base64").asText()).isEqualTo("/wDD");
    assertThat(DeadLetter.fromJson("q", letter.toJson()).message()).isEqualTo(raw);
  }

  @Test
  void anElementSomeoneElsePushedIsShownAsIs() {
    byte[] element = "plain".getBytes(StandardCharsets.UTF_8);
    DeadLetter letter = DeadLetter.fromJson("q", element);
    assertThat(letter.message()).isEqualTo(element);
    assertThat(letter.reason()).isEqualTo("not a dead-letter envelope");
  }
}
