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
    DeadLetter letter =
        new DeadLetter("machinery_tasks", "Could not unmarshal: \"x\"", "worker-1-abc", AT, raw);
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

  @Test
  void anEnvelopeOverJacksonsDefaultStringLimitReadsBack() {
    byte[] raw = new byte[25_000_000]; // Jackson stops strings at 20,000,000 characters by default
    java.util.Arrays.fill(raw, (byte) 'a');
    DeadLetter letter = new DeadLetter("q", "big", "c", AT, raw);
    DeadLetter read = DeadLetter.fromJson("q", letter.toJson());
    assertThat(read.reason()).isEqualTo("big");
    assertThat(read.message()).hasSize(raw.length);
  }

  @Test
  void aMessageOverTheLimitKeepsAPreviewCutAtACharacterBoundaryItsSizeAndItsSha1()
      throws Exception {
    byte[] raw =
        ("x".repeat(DeadLetter.PREVIEW_BYTES - 1) + "é" + "y".repeat(5_000))
            .getBytes(StandardCharsets.UTF_8);
    DeadLetter letter = DeadLetter.of("q", "too big", "c", AT, raw, 4_096);
    assertThat(letter.truncated()).isTrue();
    assertThat(letter.message())
        .hasSize(DeadLetter.PREVIEW_BYTES - 1); // the two-byte character is not split
    assertThat(letter.size()).isEqualTo(raw.length);
    assertThat(letter.sha1()).isEqualTo(DeadLetter.sha1Hex(raw)).hasSize(40);
    JsonNode json = new ObjectMapper().readTree(letter.toJson());
    assertThat(json.get("message_bytes").asLong()).isEqualTo(raw.length);
    assertThat(DeadLetter.fromJson("q", letter.toJson())).isEqualTo(letter);
    assertThat(DeadLetter.of("q", "small", "c", AT, raw, raw.length).truncated()).isFalse();
  }
}
