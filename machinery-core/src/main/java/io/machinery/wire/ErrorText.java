package io.machinery.wire;

import java.nio.charset.StandardCharsets;

/**
 * A FAILURE's error text cut to fit a result store's item (DynamoDB's 400 KB, a RabbitMQ message, a
 * MongoDB document): a FAILURE must always be storable, however long the exception's message. For
 * implementers of backends.
 */
public final class ErrorText {
  private ErrorText() {}

  /**
   * The error, or its first {@code maxBytes} bytes of UTF-8 (never half a character) followed by a
   * note of how long it was: {@code … (cut: N bytes in all)}.
   *
   * @param error the error text
   * @param maxBytes the most UTF-8 bytes to keep of it, at least 0
   * @return {@code error} when it fits, else the cut text (the note adds a few dozen bytes)
   */
  public static String cut(String error, int maxBytes) {
    if (maxBytes < 0) {
      throw new IllegalArgumentException("maxBytes must be at least 0; was " + maxBytes);
    }
    if (error.length() <= maxBytes / 3) {
      return error; // at most 3 bytes a char: fits without encoding it
    }
    byte[] utf8 = error.getBytes(StandardCharsets.UTF_8);
    if (utf8.length <= maxBytes) {
      return error;
    }
    int end = maxBytes;
    while (end > 0 && (utf8[end] & 0xC0) == 0x80) { // a continuation byte: inside a character
      end--;
    }
    return new String(utf8, 0, end, StandardCharsets.UTF_8)
        + "… (cut: "
        + utf8.length
        + " bytes in all)";
  }
}
