package io.machinery;

import org.jspecify.annotations.Nullable;

/**
 * The broker's server refused a consumer for a reason that trying again does not mend: RabbitMQ
 * refusing the queue's declaration (the queue was declared before with other arguments, {@code
 * PRECONDITION_FAILED}; no permission, {@code ACCESS_REFUSED}), Redis refusing the consumer's
 * commands to an ACL user without them ({@code NOPERM}), Pub/Sub without the queue's topic or
 * subscription (and no {@code createMissing}) or refusing them ({@code PERMISSION_DENIED}). A
 * worker whose start fails with it stops at once ({@link Worker#launch()} throws it), where any
 * other {@link MachineryException} from a start makes the worker try again later. Brokers throw it
 * from {@link io.machinery.spi.Broker#startConsuming}.
 */
public final class ConsumerRefusedException extends MachineryException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what was refused and the server's reason
   * @param cause the client's error, if any
   */
  public ConsumerRefusedException(String message, @Nullable Throwable cause) {
    super(message, cause);
  }
}
