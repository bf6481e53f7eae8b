package io.machinery.client.amqp;

import io.machinery.wire.BodyPreview;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/** Queue names built from a caller's names, within RabbitMQ's 255 bytes. */
public final class AmqpNames {
  /** RabbitMQ's longest queue name, in UTF-8 bytes. */
  public static final int MAX_QUEUE_NAME_BYTES = 255;

  private AmqpNames() {}

  /**
   * {@code prefix + name}, or {@code prefix} and the hex SHA-256 of {@code name} when that would
   * pass {@link #MAX_QUEUE_NAME_BYTES}.
   *
   * @param prefix the fixed part (short enough to leave room for 64 hex digits)
   * @param name the caller's name (a worker id, a lock key)
   * @return the queue name
   */
  public static String queueName(String prefix, String name) {
    String full = prefix + Objects.requireNonNull(name, "name");
    if (full.getBytes(StandardCharsets.UTF_8).length <= MAX_QUEUE_NAME_BYTES) {
      return full;
    }
    return prefix + BodyPreview.sha256Hex(name.getBytes(StandardCharsets.UTF_8));
  }
}
