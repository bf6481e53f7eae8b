package io.machinery.broker.sqs;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.spi.LeaseTimeline;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.sqs.model.Message;

/**
 * A delivery's visibility timeline as the heartbeat extends it: an extension that comes after the
 * visibility may have lapsed is reported once (the consumer logs it), the ones after it are not.
 */
class SqsDeliveryTest {
  private static final long MS = 1_000_000L;

  @Test
  void anExtensionAfterTheVisibilityLapsedIsReportedOnceAndTheMessageIsNoLongerHeld() {
    long t = System.nanoTime(); // stillHeld() asks at the real now, just after t
    LeaseTimeline hold = LeaseTimeline.of(Duration.ofSeconds(2));
    hold.renewed(t, t + 10 * MS); // the receive
    SqsDelivery delivery =
        new SqsDelivery(null, Message.builder().receiptHandle("r").body("{}").build(), hold, t);

    assertThat(delivery.extendedAfterALapse(t + 600 * MS, t + 610 * MS)).isFalse();
    assertThat(delivery.extendedAfterALapse(t + 1_200 * MS, t + 1_250 * MS)).isFalse();
    assertThat(delivery.stillHeld()).isTrue();

    assertThat(delivery.extendedAfterALapse(t + 3_500 * MS, t + 3_510 * MS))
        .as("held until 3.2 s at most, extended at 3.5 s")
        .isTrue();
    assertThat(delivery.extendedAfterALapse(t + 4_100 * MS, t + 4_110 * MS))
        .as("reported once")
        .isFalse();
    assertThat(delivery.stillHeld()).as("a lapse is never mended by later extensions").isFalse();
  }

  @Test
  void aMessageThatIsNotHiddenHasNoLapse() {
    SqsDelivery delivery =
        new SqsDelivery(null, Message.builder().receiptHandle("r").body("{}").build(), null, 0);
    assertThat(delivery.extendedAfterALapse(0, 10 * MS)).isFalse();
    assertThat(delivery.stillHeld()).isTrue();
  }
}
