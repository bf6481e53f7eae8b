package io.machinery.wire;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;

/**
 * What a broker keeps of a message body too large to keep whole: its first bytes, its size and its
 * SHA-256. For implementers of brokers that dead-letter messages over {@code
 * Config.maxMessageBytes}; applications never need it.
 *
 * <p>Design notes. A worker refuses a message over {@code maxMessageBytes} by dead-lettering it; a
 * dead-letter queue that kept the whole body would hoard exactly what the worker refused for its
 * size, and every listing would transfer it again (reliability review F10). So such a dead letter
 * keeps a preview of at most {@value #PREVIEW_BYTES} bytes, cut at a UTF-8 character boundary (so a
 * text body stays valid text, which SQS and Pub/Sub attribute readers expect), plus the whole
 * body's size and SHA-256 under the keys {@value #SIZE_KEY} and {@value #SHA256_KEY} (AMQP headers,
 * SQS message attributes, Pub/Sub attributes: one spelling for every broker). A preview is never
 * requeued: it would run a broken task; {@link #isPreview(Map)} tells an inspector so. The Redis
 * broker, whose fetch script cuts oversized messages inside Redis, keeps a SHA-1 instead (Redis's
 * Lua has no SHA-256).
 *
 * <p>Immutable and thread-safe.
 */
public final class BodyPreview {
  /** How many bytes of an oversized body a preview keeps at most. */
  public static final int PREVIEW_BYTES = 4_096;

  /** Header or attribute holding the size of the whole body, in bytes (decimal). */
  public static final String SIZE_KEY = "x-machinery-original-size";

  /** Header or attribute holding the SHA-256 of the whole body, as 64 lower-case hex digits. */
  public static final String SHA256_KEY = "x-machinery-original-sha256";

  private final byte[] preview;
  private final long size;
  private final String sha256;

  private BodyPreview(byte[] preview, long size, String sha256) {
    this.preview = preview;
    this.size = size;
    this.sha256 = sha256;
  }

  /**
   * The preview of {@code body}: its first {@value #PREVIEW_BYTES} bytes at most (fewer when the
   * cut would split a UTF-8 sequence; all of it when it is shorter), its size and its SHA-256.
   *
   * @param body the whole message body
   * @return the preview; {@code body} is not kept
   * @throws NullPointerException if {@code body} is null
   */
  public static BodyPreview of(byte[] body) {
    Objects.requireNonNull(body, "body");
    int cut = Math.min(PREVIEW_BYTES, body.length);
    while (cut > 0 && cut < body.length && (body[cut] & 0xC0) == 0x80) {
      cut--; // body[cut] continues a UTF-8 sequence: cutting here would leave half a character
    }
    return new BodyPreview(Arrays.copyOf(body, cut), body.length, sha256Hex(body));
  }

  /**
   * Whether a dead letter's headers or attributes mark it as a preview (it has {@value #SIZE_KEY}),
   * which must not be requeued.
   *
   * @param attributes the dead letter's headers or attributes
   * @return true when only a preview of the message was kept
   */
  public static boolean isPreview(Map<String, ?> attributes) {
    return attributes.containsKey(SIZE_KEY);
  }

  /**
   * The SHA-256 of {@code bytes}.
   *
   * @param bytes what to hash
   * @return 64 lower-case hex digits
   */
  public static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /**
   * The first bytes of the body.
   *
   * @return a fresh copy of the kept bytes, at most {@value #PREVIEW_BYTES}
   */
  public byte[] preview() {
    return preview.clone();
  }

  /**
   * The kept bytes as text.
   *
   * @return the preview decoded as UTF-8 (malformed bytes replaced), for brokers whose bodies are
   *     strings
   */
  public String previewText() {
    return new String(preview, StandardCharsets.UTF_8);
  }

  /**
   * The size of the whole body.
   *
   * @return its length in bytes
   */
  public long size() {
    return size;
  }

  /**
   * The SHA-256 of the whole body, to recognise it again.
   *
   * @return 64 lower-case hex digits
   */
  public String sha256() {
    return sha256;
  }

  /**
   * The size and hash as string attributes.
   *
   * @return {@value #SIZE_KEY} to the decimal size and {@value #SHA256_KEY} to the hex SHA-256
   */
  public Map<String, String> attributes() {
    return Map.of(SIZE_KEY, Long.toString(size), SHA256_KEY, sha256);
  }

  @Override
  public String toString() {
    return "BodyPreview{" + preview.length + " of " + size + " bytes, sha256 " + sha256 + "}";
  }
}
