package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.api.core.ApiFuture;
import com.google.api.core.SettableApiFuture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The publish window's bound, without a server: publishes are futures the test completes. */
class PublishWindowTest {
  @Test
  void aFullWindowStartsTheNextPublishOnlyOnceOneIsAnswered() throws Exception {
    PublishWindow window = new PublishWindow(2);
    List<SettableApiFuture<String>> publishes = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      SettableApiFuture<String> publish = SettableApiFuture.create();
      publishes.add(publish);
      window.start(() -> publish);
    }
    SettableApiFuture<String> third = SettableApiFuture.create();
    CompletableFuture<ApiFuture<String>> started =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return window.start(() -> third);
              } catch (InterruptedException e) {
                throw new IllegalStateException(e);
              }
            });
    assertThat(window.awaitIdle(Duration.ZERO)).isFalse();
    assertThat(started).isNotDone();
    publishes.get(0).set("answered");
    assertThat(started.get(10, TimeUnit.SECONDS)).isSameAs(third);
  }

  @Test
  void aStartThatThrowsGivesItsPlaceBackAsAFailedPublish() throws Exception {
    PublishWindow window = new PublishWindow(1);
    ApiFuture<String> failed =
        window.start(
            () -> {
              throw new IllegalStateException("injected: the stub throws");
            });
    assertThatThrownBy(failed::get)
        .isInstanceOf(ExecutionException.class)
        .hasMessageContaining("injected");
    assertThat(window.awaitIdle(Duration.ZERO)).as("the place is free again").isTrue();
  }
}
