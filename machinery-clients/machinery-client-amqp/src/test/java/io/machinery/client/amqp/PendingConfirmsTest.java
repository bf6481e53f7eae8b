package io.machinery.client.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** Matching RabbitMQ's confirms and returns to the messages that wait for them. */
class PendingConfirmsTest {
  private final PendingConfirms confirms = new PendingConfirms();

  private CompletableFuture<Void> send(long sequence, String routingKey, String body) {
    PendingConfirms.Pending p =
        new PendingConfirms.Pending(
            "ex", routingKey, body.getBytes(StandardCharsets.UTF_8), System.nanoTime());
    confirms.add(sequence, p);
    return p.future;
  }

  private static Throwable failure(CompletableFuture<Void> f) {
    try {
      f.get();
      throw new AssertionError("completed normally");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aMultipleAckSettlesEverythingUpToItsTagAndNothingAfter() {
    var one = send(1, "a", "1");
    var two = send(2, "a", "2");
    var three = send(3, "a", "3");
    confirms.confirmed(2, true, true);
    assertThat(one).isCompleted();
    assertThat(two).isCompleted();
    assertThat(three).isNotDone();
    confirms.confirmed(3, false, false);
    assertThat(failure(three)).isInstanceOf(NackedException.class).hasMessageContaining("nacked");
    assertThat(confirms.size()).isZero();
  }

  @Test
  void aReturnFailsTheMatchingMessageWhenItsConfirmComesNotAnother() {
    var routed = send(1, "a", "same");
    var lost = send(2, "b", "same");
    var twin = send(3, "b", "same");
    confirms.returned("ex", "b", "same".getBytes(StandardCharsets.UTF_8));
    confirms.confirmed(3, true, true);
    assertThat(routed).isCompleted();
    assertThat(failure(lost)).isInstanceOf(UnroutableException.class);
    assertThat(twin)
        .as("one return marks one message: the oldest match")
        .isCompletedWithValue(null);
  }

  @Test
  void aReturnForAnotherBodyOrExchangeMarksNothing() {
    var message = send(1, "a", "x");
    confirms.returned("ex", "a", "y".getBytes(StandardCharsets.UTF_8));
    confirms.returned("other", "a", "x".getBytes(StandardCharsets.UTF_8));
    confirms.confirmed(1, false, true);
    assertThat(message).isCompletedWithValue(null);
  }

  @Test
  void aLostChannelFailsEveryPendingMessage() {
    var one = send(7, "a", "1");
    var two = send(8, "a", "2");
    confirms.failAll(new AmqpOperationException("gone", 0, true, null));
    assertThat(failure(one)).hasMessage("gone");
    assertThat(failure(two)).hasMessage("gone");
    confirms.confirmed(8, true, true); // a late confirm finds nothing
    assertThat(confirms.size()).isZero();
  }
}
