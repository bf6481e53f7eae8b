package io.machinery.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import org.junit.jupiter.api.Test;

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
}
