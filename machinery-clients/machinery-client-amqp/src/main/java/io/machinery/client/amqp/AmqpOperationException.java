package io.machinery.client.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;
import io.machinery.MachineryException;
import io.machinery.internal.Causes;
import org.jspecify.annotations.Nullable;

/**
 * An AMQP operation failed. {@link #replyCode()} is the AMQP reply code when the broker closed the
 * channel or connection with one (404 NOT_FOUND, 405 RESOURCE_LOCKED, 406 PRECONDITION_FAILED,
 * ...), else 0; {@link #connectionLost()} tells a lost connection (worth retrying after
 * reconnecting) from a refused operation.
 */
public class AmqpOperationException extends MachineryException {
  private static final long serialVersionUID = 1L;

  public static final int NOT_FOUND = AMQP.NOT_FOUND;
  public static final int RESOURCE_LOCKED = AMQP.RESOURCE_LOCKED;
  public static final int PRECONDITION_FAILED = AMQP.PRECONDITION_FAILED;
  public static final int ACCESS_REFUSED = AMQP.ACCESS_REFUSED;

  /**
   * Not an AMQP code: RabbitMQ blocked publishing on the connection (a memory or disk alarm) until
   * the publish timeout passed.
   */
  public static final int BLOCKED = -1;

  private final int replyCode;
  private final boolean connectionLost;

  public AmqpOperationException(
      String message, int replyCode, boolean connectionLost, @Nullable Throwable cause) {
    super(message, cause);
    this.replyCode = replyCode;
    this.connectionLost = connectionLost;
  }

  /** The AMQP reply code the broker gave, or 0. */
  public int replyCode() {
    return replyCode;
  }

  /**
   * Whether the connection (not just the channel) was lost: the operation may succeed after
   * reconnecting.
   */
  public boolean connectionLost() {
    return connectionLost;
  }

  /**
   * Translates a client exception into an {@link AmqpOperationException} that says what was being
   * done.
   */
  public static AmqpOperationException of(String what, Throwable error) {
    if (error instanceof AmqpOperationException a) {
      return a;
    }
    ShutdownSignalException signal = shutdownSignal(error);
    if (signal == null) {
      return new AmqpOperationException(what + ": " + error, 0, true, error);
    }
    Object reason = signal.getReason();
    int code = 0;
    String text = String.valueOf(signal.getMessage());
    if (reason instanceof AMQP.Channel.Close close) {
      code = close.getReplyCode();
      text = close.getReplyText();
    } else if (reason instanceof AMQP.Connection.Close close) {
      code = close.getReplyCode();
      text = close.getReplyText();
    }
    return new AmqpOperationException(what + ": " + text, code, signal.isHardError(), error);
  }

  static @Nullable ShutdownSignalException shutdownSignal(Throwable error) {
    for (Throwable t : Causes.of(error)) {
      if (t instanceof ShutdownSignalException s) {
        return s;
      }
    }
    return null;
  }
}
