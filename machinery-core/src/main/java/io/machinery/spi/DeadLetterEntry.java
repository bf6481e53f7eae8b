package io.machinery.spi;

import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.WireCodec;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * One dead letter as an {@link Inspector} lists it: the raw message (it may not decode: that can be why it is
 * here), why it was set aside and when.
 *
 * @param id identifies the entry within its queue's dead letters, for requeueing or deleting exactly it
 * @param queue the queue the message came from
 * @param reason why it was dead-lettered
 * @param at when it was dead-lettered ({@link Instant#EPOCH} when the broker does not record it)
 * @param message the message's bytes
 */
public record DeadLetterEntry(String id, String queue, String reason, Instant at, byte[] message) {
  public DeadLetterEntry {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(at, "at");
    message = message.clone();
  }

  @Override
  public byte[] message() {
    return message.clone();
  }

  /** The task, when the message decodes. */
  public Optional<Signature> signature() {
    try {
      return Optional.of(WireCodec.decodeSignature(message));
    } catch (MalformedMessageException | StackOverflowError e) {
      return Optional.empty();
    }
  }
}
