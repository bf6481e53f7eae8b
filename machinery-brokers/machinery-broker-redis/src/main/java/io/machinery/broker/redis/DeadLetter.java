package io.machinery.broker.redis;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A message a worker could never handle, as kept in the dead-letter list {@code {<queue>}:dead_letters}.
 *
 * <p>Each list element is one JSON object (an envelope, written with Jackson):
 *
 * <pre>{@code
 * {"reason":"Could not unmarshal ...","queue":"machinery_tasks","consumer":"worker-1-3f2a9c1e",
 *  "at":"2026-11-27T11:36:15.123Z","message":"<the raw message as a JSON string>"}
 * }</pre>
 *
 * <p>{@code message} holds the raw bytes as text when they are valid UTF-8; otherwise {@code message_base64}
 * holds them in standard Base64 instead. Elements are appended at the tail (oldest first) and never trimmed
 * by the broker. Immutable.
 *
 * @param queue the queue the message was taken from
 * @param reason why it was dead-lettered
 * @param consumer the consumer that dead-lettered it
 * @param at when it was dead-lettered
 * @param message the raw message, byte for byte
 */
public record DeadLetter(String queue, String reason, String consumer, Instant at, byte[] message) {
  private static final JsonFactory JSON = JsonFactory.builder().build();

  public DeadLetter {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(consumer, "consumer");
    Objects.requireNonNull(at, "at");
    message = message.clone();
  }

  @Override
  public byte[] message() {
    return message.clone();
  }

  /** The envelope stored in Redis. */
  byte[] toJson() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(message.length + 256);
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      g.writeStringField("reason", reason);
      g.writeStringField("queue", queue);
      g.writeStringField("consumer", consumer);
      g.writeStringField("at", at.toString());
      String text = utf8(message);
      if (text != null) {
        g.writeStringField("message", text);
      } else {
        g.writeStringField("message_base64", Base64.getEncoder().encodeToString(message));
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * Reads an envelope; anything else (an element pushed by someone else) comes back as a dead letter whose
   * message is the element itself and whose reason says so.
   */
  static DeadLetter fromJson(String queue, byte[] element) {
    String reason = null;
    String consumer = "";
    Instant at = Instant.EPOCH;
    byte[] message = null;
    try (JsonParser p = JSON.createParser(element)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not an object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        p.nextToken();
        switch (field) {
          case "reason" -> reason = p.getValueAsString();
          case "queue" -> queue = p.getValueAsString(queue);
          case "consumer" -> consumer = p.getValueAsString("");
          case "at" -> at = Instant.parse(p.getValueAsString());
          case "message" -> message = p.getValueAsString("").getBytes(StandardCharsets.UTF_8);
          case "message_base64" -> message = Base64.getDecoder().decode(p.getValueAsString(""));
          default -> p.skipChildren();
        }
      }
    } catch (IOException | RuntimeException e) {
      return new DeadLetter(queue, "not a dead-letter envelope", "", Instant.EPOCH, element);
    }
    if (reason == null || message == null) {
      return new DeadLetter(queue, "not a dead-letter envelope", "", Instant.EPOCH, element);
    }
    return new DeadLetter(queue, reason, consumer, at, message);
  }

  private static @Nullable String utf8(byte[] bytes) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DeadLetter d && queue.equals(d.queue) && reason.equals(d.reason) && consumer.equals(d.consumer)
        && at.equals(d.at) && Arrays.equals(message, d.message);
  }

  @Override
  public int hashCode() {
    return Objects.hash(queue, reason, consumer, at, Arrays.hashCode(message));
  }

  @Override
  public String toString() {
    return "DeadLetter{" + queue + " at " + at + ": " + reason + " (" + message.length + " bytes)}";
  }
}
