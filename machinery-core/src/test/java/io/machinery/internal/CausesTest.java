package io.machinery.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class CausesTest {
  @Test
  void theRootCauseIsAddedWhenItSaysMore() {
    Exception wrapped =
        new IllegalStateException(
            "UNAVAILABLE: io exception",
            new RuntimeException("io exception", new ConnectException("Connection refused")));
    assertThat(Causes.withRoot("could not reach Pub/Sub: UNAVAILABLE: io exception", wrapped))
        .isEqualTo(
            "could not reach Pub/Sub: UNAVAILABLE: io exception"
                + " (ConnectException: Connection refused)");
  }

  @Test
  void theCausesOutermostFirst() {
    ConnectException root = new ConnectException("Connection refused");
    RuntimeException middle = new RuntimeException("io exception", root);
    IllegalStateException outer = new IllegalStateException("UNAVAILABLE", middle);
    assertThat(Causes.of(outer)).containsExactly(outer, middle, root);
    assertThat(Causes.of(root)).containsExactly(root);
  }

  @Test
  void theMessageAloneWhenTheRootSaysNothingMore() {
    Exception said = new IllegalStateException("x", new ConnectException("Connection refused"));
    assertThat(Causes.withRoot("failed: Connection refused", said))
        .isEqualTo("failed: Connection refused");
    assertThat(Causes.withRoot("failed", new IllegalStateException("no cause")))
        .isEqualTo("failed");
    assertThat(Causes.withRoot("failed", new IllegalStateException("x", new RuntimeException())))
        .as("a root without a message")
        .isEqualTo("failed");
  }

  @Test
  @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a regression would spin
  void aCauseCycleEndsTheWalkAtTheLastNewCause() {
    Exception a = new IllegalStateException("outer");
    Exception b = new RuntimeException("inner");
    a.initCause(b);
    b.initCause(a);
    assertThat(Causes.of(a)).containsExactly(a, b);
    assertThat(Causes.of(b)).containsExactly(b, a);
    assertThat(Causes.withRoot("failed", a)).isEqualTo("failed (RuntimeException: inner)");
    assertThat(Causes.withRoot("failed", b)).isEqualTo("failed (IllegalStateException: outer)");
  }
}
