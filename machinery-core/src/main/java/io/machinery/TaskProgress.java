package io.machinery;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.machinery.internal.GoJson;
import io.machinery.wire.LogText;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * How far a running task is, as it last reported through {@link TaskContext#reportProgress}: a
 * percentage, a short message and when it was reported. Immutable.
 *
 * <p>Design notes: progress is not part of Go's {@code TaskState} (a Go client decoding a state
 * must see exactly Go's keys, and Go workers replace the state whole, which would drop it).
 * Backends keep it beside the state, under its own key or queue with the results' expiry ({@link
 * io.machinery.spi.Backend#setProgress}), as the small JSON document {@link #toJson()} writes; Go
 * never reads it. A newer report replaces the older one.
 *
 * @param percent how much is done, from 0 to 100
 * @param message what the task is doing, at most {@value #MAX_MESSAGE_LENGTH} characters (may be
 *     empty)
 * @param reportedAt when the task reported it
 */
public record TaskProgress(double percent, String message, Instant reportedAt) {
  /** The longest message kept; longer ones are cut (progress is a status line, not a log). */
  public static final int MAX_MESSAGE_LENGTH = 512;

  /**
   * Checks the values.
   *
   * @throws IllegalArgumentException when {@code percent} is not a number from 0 to 100 or {@code
   *     message} is longer than {@value #MAX_MESSAGE_LENGTH} characters
   */
  public TaskProgress {
    if (!(percent >= 0 && percent <= 100)) {
      throw new IllegalArgumentException(
          "progress must be a percentage from 0 to 100, was " + percent);
    }
    Objects.requireNonNull(message, "message");
    Objects.requireNonNull(reportedAt, "reportedAt");
    if (message.length() > MAX_MESSAGE_LENGTH) {
      throw new IllegalArgumentException(
          "a progress message is at most "
              + MAX_MESSAGE_LENGTH
              + " characters, was "
              + message.length());
    }
  }

  /**
   * Creates a progress from a count of steps done out of a total.
   *
   * @param done steps done, from 0 to {@code total}
   * @param total all steps, positive
   * @param message what the task is doing
   * @param reportedAt when
   * @return the progress, {@code 100 * done / total} percent
   * @throws IllegalArgumentException when {@code total} is not positive or {@code done} is outside
   *     0..total
   */
  public static TaskProgress of(long done, long total, String message, Instant reportedAt) {
    if (total <= 0 || done < 0 || done > total) {
      throw new IllegalArgumentException(
          "progress needs 0 <= done <= total and total > 0, was " + done + "/" + total);
    }
    return new TaskProgress(100.0 * done / total, message, reportedAt);
  }

  /**
   * Returns the progress as a fraction.
   *
   * @return {@link #percent()} / 100, from 0 to 1
   */
  public double fraction() {
    return percent / 100;
  }

  /**
   * Writes the document backends store: {@code {"Percent":42.5,"Message":"…","ReportedAt":"<RFC
   * 3339>"}}.
   *
   * @return UTF-8 JSON
   */
  public byte[] toJson() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + message.length());
    try (JsonGenerator out = GoJson.FACTORY.createGenerator(bytes)) {
      out.writeStartObject();
      out.writeNumberField("Percent", percent);
      out.writeStringField("Message", message);
      out.writeStringField("ReportedAt", GoJson.formatTime(reportedAt.atOffset(ZoneOffset.UTC)));
      out.writeEndObject();
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory failed", e);
    }
    return bytes.toByteArray();
  }

  /**
   * Reads what {@link #toJson()} wrote; unknown keys are ignored.
   *
   * @param json the stored document
   * @return the progress
   * @throws MalformedMessageException when the bytes are not such a document (say, written by
   *     another program)
   */
  public static TaskProgress fromJson(byte[] json) {
    double percent = 0;
    String message = "";
    Instant at = Instant.EPOCH;
    try (JsonParser in = GoJson.FACTORY.createParser(json)) {
      if (in.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not a JSON object");
      }
      while (in.nextToken() == JsonToken.FIELD_NAME) {
        String key = in.currentName();
        in.nextToken();
        switch (key) {
          case "Percent" -> percent = in.getDoubleValue();
          case "Message" -> message = in.getValueAsString("");
          case "ReportedAt" -> at = OffsetDateTime.parse(in.getText()).toInstant();
          default -> in.skipChildren();
        }
      }
      return new TaskProgress(percent, message, at);
    } catch (IOException | RuntimeException e) {
      String text = new String(json, 0, Math.min(json.length, 200), StandardCharsets.UTF_8);
      throw new MalformedMessageException(
          "Could not read a task progress (" + e.getMessage() + "): " + LogText.of(text), e);
    }
  }
}
