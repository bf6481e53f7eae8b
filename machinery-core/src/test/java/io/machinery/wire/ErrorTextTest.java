package io.machinery.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ErrorTextTest {
  @Test
  void anErrorThatFitsIsKeptAsItIs() {
    assertThat(ErrorText.cut("boom", 4)).isEqualTo("boom");
    assertThat(ErrorText.cut("é".repeat(10), 20)).isEqualTo("é".repeat(10));
  }

  @Test
  void aLongerOneIsCutAtACharacterBoundaryWithItsLength() {
    String cut = ErrorText.cut("é".repeat(10), 5); // 2 bytes each: 5 would split the third
    assertThat(cut).isEqualTo("éé… (cut: 20 bytes in all)");
    String emoji = "😀".repeat(3); // 4 bytes each, a surrogate pair in Java
    assertThat(ErrorText.cut(emoji, 6)).isEqualTo("😀… (cut: 12 bytes in all)");
    assertThat(ErrorText.cut("x".repeat(100), 10).getBytes(StandardCharsets.UTF_8).length)
        .isLessThan(10 + 40);
  }

  @Test
  void refusesANegativeLimit() {
    assertThatThrownBy(() -> ErrorText.cut("x", -1)).isInstanceOf(IllegalArgumentException.class);
  }
}
