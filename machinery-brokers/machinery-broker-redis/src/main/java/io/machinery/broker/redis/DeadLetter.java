package io.machinery.broker.redis;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A message a worker could never handle, as kept in the dead-letter list {@code
 * {<queue>}:dead_letters}.
 *
 * <p>Each list element is one JSON object (an envelope, written with Jackson):
 *
 * <pre>{@code
 * {"reason":"Could not unmarshal ...","queue":"machinery_tasks","consumer":"worker-1-3f2a9c1e",
 *  "at":"2026-11-27T11:36:15.123Z","message":"<the raw message as a JSON string>"}
 * }</pre>
 *
 * <p>{@code message} holds the raw bytes as text when they are valid UTF-8; otherwise {@code
 * message_base64} holds them in standard Base64 instead. A message longer than the broker's {@code
 * maxMessageBytes} is not kept whole (it would cost Redis memory and every reader a transfer of
 * that size): the envelope holds its first {@value #PREVIEW_BYTES} bytes as {@code message} (when
 * the fetch script made the preview inside Redis, bytes above 127 show as {@code ?}), plus {@code
 * message_bytes} (the full length) and {@code message_sha1} (hex SHA-1 of the whole), enough to
 * recognise it. Elements are appended at the tail (oldest first); the broker keeps the newest
 * {@code deadLetterLimit} of each list (see {@link RedisBroker.Builder#deadLetterLimit(int)}).
 * Immutable.
 *
 * @param queue the queue the message was taken from
 * @param reason why it was dead-lettered
 * @param consumer the consumer that dead-lettered it
 * @param at when it was dead-lettered
 * @param message the raw message, byte for byte, or its first bytes when {@link #truncated()}
 * @param size the length of the whole message in bytes
 * @param sha1 the hex SHA-1 of the whole message when only a preview is kept, else empty
 */
public record DeadLetter(
    String queue,
    String reason,
    String consumer,
    Instant at,
    byte[] message,
    long size,
    String sha1) {
  /** How much of an over-long message a dead letter keeps. */
  public static final int PREVIEW_BYTES = 1024;

  /** Envelopes of any size read back (Jackson's default stops strings at 20,000,000 characters). */
  private static final JsonFactory JSON =
      JsonFactory.builder()
          .streamReadConstraints(
              StreamReadConstraints.builder().maxStringLength(Integer.MAX_VALUE).build())
          .build();

  public DeadLetter {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(reason, "reason");
    Objects.requireNonNull(consumer, "consumer");
    Objects.requireNonNull(at, "at");
    Objects.requireNonNull(sha1, "sha1");
    message = message.clone();
    if (size < message.length) {
      throw new IllegalArgumentException(
          "size " + size + " is less than the " + message.length + " bytes kept");
    }
  }

  /** A dead letter that keeps the whole message. */
  public DeadLetter(String queue, String reason, String consumer, Instant at, byte[] message) {
    this(queue, reason, consumer, at, message, message.length, "");
  }

  /**
   * The dead letter of {@code message}: whole when it has at most {@code maxWholeBytes} bytes, else
   * its first {@link #PREVIEW_BYTES} bytes (cut at a UTF-8 character boundary), its size and its
   * SHA-1.
   */
  static DeadLetter of(
      String queue, String reason, String consumer, Instant at, byte[] message, int maxWholeBytes) {
    if (message.length <= maxWholeBytes) {
      return new DeadLetter(queue, reason, consumer, at, message);
    }
    int cut = Math.min(PREVIEW_BYTES, message.length);
    while (cut > 0 && cut < message.length && (message[cut] & 0xC0) == 0x80) {
      cut--; // do not split a UTF-8 sequence: the preview stays text
    }
    return new DeadLetter(
        queue, reason, consumer, at, Arrays.copyOf(message, cut), message.length, sha1Hex(message));
  }

  /**
   * Whether only the first bytes of the message are kept ({@link #sha1()} and {@link #size()}
   * identify it).
   */
  public boolean truncated() {
    return !sha1.isEmpty();
  }

  static String sha1Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-1", e);
    }
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
      if (truncated()) {
        g.writeNumberField("message_bytes", size);
        g.writeStringField("message_sha1", sha1);
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /**
   * Reads an envelope; anything else (an element pushed by someone else) comes back as a dead
   * letter whose message is the element itself and whose reason says so.
   */
  static DeadLetter fromJson(String queue, byte[] element) {
    String reason = null;
    String consumer = "";
    Instant at = Instant.EPOCH;
    byte[] message = null;
    long size = -1;
    String sha1 = "";
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
          case "message_bytes" -> size = p.getValueAsLong(-1);
          case "message_sha1" -> sha1 = p.getValueAsString("");
          default -> p.skipChildren();
        }
      }
    } catch (IOException | RuntimeException e) {
      return new DeadLetter(queue, "not a dead-letter envelope", "", Instant.EPOCH, element);
    }
    if (reason == null || message == null) {
      return new DeadLetter(queue, "not a dead-letter envelope", "", Instant.EPOCH, element);
    }
    return new DeadLetter(
        queue, reason, consumer, at, message, Math.max(size, message.length), sha1);
  }

  private static @Nullable String utf8(byte[] bytes) {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
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
    return o instanceof DeadLetter d
        && queue.equals(d.queue)
        && reason.equals(d.reason)
        && consumer.equals(d.consumer)
        && at.equals(d.at)
        && Arrays.equals(message, d.message)
        && size == d.size
        && sha1.equals(d.sha1);
  }

  @Override
  public int hashCode() {
    return Objects.hash(queue, reason, consumer, at, Arrays.hashCode(message), size, sha1);
  }

  @Override
  public String toString() {
    return "DeadLetter{"
        + queue
        + " at "
        + at
        + ": "
        + reason
        + " ("
        + size
        + " bytes"
        + (truncated() ? ", preview only" : "")
        + ")}";
  }
}
