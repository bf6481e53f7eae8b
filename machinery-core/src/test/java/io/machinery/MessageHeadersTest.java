package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.wire.WireCodec;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MessageHeadersTest {
  @Test
  void countsAreReadFromStringsAndJsonNumbersAndAnythingElseCountsAsZero() {
    Signature s =
        Signature.builder("t")
            .headers(Map.of("a", "3", "b", 4L, "c", "lots", "d", " 5 ", "e", "-2"))
            .build();
    assertThat(MessageHeaders.count(s, "a")).isEqualTo(3);
    assertThat(MessageHeaders.count(s, "b")).isEqualTo(4);
    assertThat(MessageHeaders.count(s, "c")).isZero();
    assertThat(MessageHeaders.count(s, "d")).isEqualTo(5);
    assertThat(MessageHeaders.count(s, "e")).isZero();
    assertThat(MessageHeaders.count(s, "absent")).isZero();
    assertThat(MessageHeaders.count(Signature.builder("t").header("x", "99999999999").build(), "x"))
        .isEqualTo(Integer.MAX_VALUE);
  }

  @Test
  void aTimeoutHeaderIsMillisecondsOrAGoDuration() {
    assertThat(MessageHeaders.duration("1500")).isEqualTo(Duration.ofMillis(1500));
    assertThat(MessageHeaders.duration(250L)).isEqualTo(Duration.ofMillis(250));
    assertThat(MessageHeaders.duration("1m30s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(MessageHeaders.duration("90s")).isEqualTo(Duration.ofSeconds(90));
    assertThat(MessageHeaders.duration("soon")).isZero();
    assertThat(MessageHeaders.duration(null)).isZero();
  }

  @Test
  void countersAreWrittenAsStringsAsGosAmqpHeadersNeed() {
    Signature s =
        MessageHeaders.with(
            Signature.builder("t").header("keep", "me").build(), MessageHeaders.REQUEUES, 2);
    assertThat(s.headers()).containsEntry(MessageHeaders.REQUEUES, "2").containsEntry("keep", "me");
    assertThat(WireCodec.decodeSignature(WireCodec.encode(s)).headers())
        .containsEntry(MessageHeaders.REQUEUES, "2");
  }

  @Test
  void theNextRunCountsItsAttemptAndForgetsTheRequeuesOfThePreviousOne() {
    Signature s =
        Signature.builder("t")
            .headers(
                Map.of(
                    MessageHeaders.ATTEMPT,
                    "2",
                    MessageHeaders.REQUEUES,
                    "5",
                    MessageHeaders.UNREGISTERED,
                    "1",
                    "k",
                    "v"))
            .build();
    assertThat(MessageHeaders.nextAttempt(s))
        .containsOnly(Map.entry(MessageHeaders.ATTEMPT, "3"), Map.entry("k", "v"));
    assertThat(MessageHeaders.attempt(Signature.create("t"))).isEqualTo(1);
  }
}
