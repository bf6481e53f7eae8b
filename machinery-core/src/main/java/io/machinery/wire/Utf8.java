package io.machinery.wire;

/**
 * UTF-8 sizes of text, for limits checked before encoding (a routing key's 255 bytes, a message
 * body against {@code MaxMessageBytes}). Stateless.
 */
public final class Utf8 {
  private Utf8() {}

  /**
   * The length of {@code s} in UTF-8, as {@code s.getBytes(UTF_8).length} would give it, without
   * copying: an unpaired surrogate counts one byte (the encoder writes {@code ?}).
   *
   * @param s the text
   * @return its UTF-8 length in bytes
   */
  public static long encodedLength(CharSequence s) {
    long bytes = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes++;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else if (Character.isSurrogate(c)) {
        bytes++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }
}
