package io.machinery.wire;

import org.jspecify.annotations.Nullable;

/**
 * Makes text that comes from a message or a caller (task names, UUIDs, queue names, uniqueness
 * keys) safe to put in a log line or an exception's message: control characters are escaped, so a
 * name cannot forge log lines with CR/LF, and long values are cut, so a multi-megabyte name cannot
 * flood the log. Values are written as Java escapes ({@code \n}, {@code \u0007}). For implementers
 * of brokers and backends, as the worker and the server use it.
 */
public final class LogText {
  /** Characters kept from a value; the rest is replaced by a note of how long it was. */
  public static final int MAX_CHARS = 200;

  private LogText() {}

  /**
   * The value, escaped and cut to {@value #MAX_CHARS} characters (a longer one ends with {@code
   * ...(N chars)}).
   *
   * @param value the text to show; may be null
   * @return the text safe to log; {@code "null"} for null
   */
  public static String of(@Nullable String value) {
    return of(value, MAX_CHARS);
  }

  /**
   * The value, escaped and cut to {@code maxChars} characters (a longer one ends with {@code ...(N
   * chars)}).
   *
   * @param value the text to show; may be null
   * @param maxChars how many characters of it to keep, at least 0
   * @return the text safe to log; {@code "null"} for null
   */
  public static String of(@Nullable String value, int maxChars) {
    if (maxChars < 0) {
      throw new IllegalArgumentException("maxChars must be at least 0; was " + maxChars);
    }
    if (value == null) {
      return "null";
    }
    int keep = Math.min(value.length(), maxChars);
    StringBuilder out = null;
    for (int i = 0; i < keep; i++) {
      char c = value.charAt(i);
      if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
        if (out == null) {
          out = new StringBuilder(keep + 16).append(value, 0, i);
        }
        switch (c) {
          case '\n' -> out.append("\\n");
          case '\r' -> out.append("\\r");
          case '\t' -> out.append("\\t");
          default -> out.append(String.format("\\u%04x", (int) c));
        }
      } else if (out != null) {
        out.append(c);
      }
    }
    String kept =
        out != null ? out.toString() : keep == value.length() ? value : value.substring(0, keep);
    return keep == value.length() ? kept : kept + "...(" + value.length() + " chars)";
  }
}
