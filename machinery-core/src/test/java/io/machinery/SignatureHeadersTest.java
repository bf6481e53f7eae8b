package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A signature's headers are its own, unmodifiable, and not copied again by every {@code toBuilder}.
 */
class SignatureHeadersTest {

  @Test
  void copiesOfASignatureShareItsHeadersInsteadOfCopyingThem() {
    Signature task = Signature.builder("add").header("trace", "abc").build();
    Signature copy = task.toBuilder().uuid("task_2").routingKey("q").build();
    assertThat(copy.headers()).isSameAs(task.headers()).containsExactly(Map.entry("trace", "abc"));
    Signature empty = Signature.builder("add").headers(Map.of()).build();
    assertThat(empty.hasHeaders()).isTrue();
    assertThat(empty.headers()).isEmpty();
    assertThat(empty.headers())
        .isSameAs(Signature.builder("sub").headers(new HashMap<>()).build().headers());
    assertThat(Signature.builder("add").build().hasHeaders()).isFalse();
  }

  @Test
  void headersStayTheSignaturesOwnWhateverHappensToTheMapOrTheBuilderAfterwards() {
    Map<String, Object> mine = new HashMap<>(Map.of("a", "1"));
    Signature.Builder builder = Signature.builder("add").headers(mine);
    Signature task = builder.build();
    mine.put("b", "2");
    builder.header("c", "3");
    Signature later = builder.build();
    assertThat(task.headers()).containsExactly(Map.entry("a", "1"));
    assertThat(later.headers()).containsOnlyKeys("a", "c");
    assertThatThrownBy(() -> task.headers().put("d", "4"))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> task.toBuilder().build().headers().put("d", "4"))
        .isInstanceOf(UnsupportedOperationException.class);
  }
}
