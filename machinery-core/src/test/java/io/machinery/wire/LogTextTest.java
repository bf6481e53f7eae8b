package io.machinery.wire;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LogTextTest {
  @Test
  void lineBreaksAndControlCharactersAreEscapedSoANameCannotForgeLogLines() {
    assertThat(LogText.of("add\r\n12:00:00 INFO forged\tline\u0007"))
        .isEqualTo("add\\r\\n12:00:00 INFO forged\\tline\\u0007")
        .doesNotContain("\n", "\r");
    assertThat(LogText.of("line\u2028separator")).isEqualTo("line\\u2028separator");
  }

  @Test
  void longValuesAreCutWithTheirLength() {
    String huge = "x".repeat(5_000_000);
    String logged = LogText.of(huge);
    assertThat(logged).startsWith("x".repeat(LogText.MAX_CHARS)).endsWith("...(5000000 chars)");
    assertThat(logged.length()).isLessThan(LogText.MAX_CHARS + 30);
    assertThat(LogText.of("\n".repeat(1000)))
        .hasSize(2 * LogText.MAX_CHARS + "...(1000 chars)".length());
  }

  @Test
  void aCallerChoosesHowMuchToKeep() {
    assertThat(LogText.of("abcdef", 3)).isEqualTo("abc...(6 chars)");
    assertThat(LogText.of("a\nb", 3)).isEqualTo("a\\nb");
    assertThat(LogText.of("x".repeat(300), Integer.MAX_VALUE)).isEqualTo("x".repeat(300));
    assertThat(LogText.of("abc", 0)).isEqualTo("...(3 chars)");
  }

  @Test
  void ordinaryValuesAreUnchanged() {
    assertThat(LogText.of("task_0b6c5e3c-0a57-4f4e-9a38-0e3f1b2b8c2d"))
        .isEqualTo("task_0b6c5e3c-0a57-4f4e-9a38-0e3f1b2b8c2d");
    assertThat(LogText.of("")).isEmpty();
    assertThat(LogText.of(null)).isEqualTo("null");
  }
}
