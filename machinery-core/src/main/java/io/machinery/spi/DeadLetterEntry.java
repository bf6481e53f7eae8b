package io.machinery.spi;

import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.wire.WireCodec;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One dead letter as an {@link Inspector} lists it: the raw message (it may not decode: that can be
 * why it is here), why it was set aside and when.
 *
 * @param id identifies the entry within its queue's dead letters, for requeueing or deleting
 *     exactly it
 * @param queue the queue the message came from
 * @param reason why it was dead-lettered
 * @param at when it was dead-lettered ({@link Instant#EPOCH} when the broker does not record it)
 * @param message the message's bytes
 */
public record DeadLetterEntry(String id, String queue, String reason, Instant at, byte[] message) {
  /**
   * Checks the components and copies {@code message}, so later changes to the caller's array do not
   * show.
   *
   * @throws NullPointerException if any component is null
   */
  public DeadLetterEntry {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(at, "at");
    message = message.clone();
  }

  /**
   * Returns the message's bytes as the broker stored them.
   *
   * @return a fresh copy of the message's bytes on every call, so callers may change it freely
   */
  @Override
  public byte[] message() {
    return message.clone();
  }

  /**
   * Decodes the message into a task.
   *
   * @return the task; empty when the message does not decode (malformed, or nested too deeply)
   */
  public Optional<Signature> signature() {
    try {
      return Optional.of(WireCodec.decodeSignature(message));
    } catch (MalformedMessageException | StackOverflowError e) {
      return Optional.empty();
    }
  }
}
