package io.machinery.spi;

/**
 * The priority policy of brokers without native priorities (memory, Redis), so that Go's {@code
 * Priority} (0-255) means the same everywhere. Stateless; thread-safe.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Bands.</b> A message's band is its priority capped at {@value #TOP_BAND}, as a RabbitMQ
 *       queue declared with {@code x-max-priority: 9} treats higher values: 0 is Go's default and
 *       the plain queue; 1-9 are the levels people use with AMQP. Within a band, first in first
 *       out.
 *   <li><b>Weighted fetch.</b> Strict priority, except that every {@value #SHARE_EVERY}th message a
 *       consumer takes goes to a lower band that has messages, the lower bands taking these turns
 *       round-robin (lowest first). So while higher bands keep filling, each waiting lower band
 *       still gets at least one take in {@code SHARE_EVERY × (non-empty bands − 1)}: nothing
 *       starves for ever, and a queue with one band in use is plain FIFO.
 * </ul>
 */
public final class PriorityBands {
  /** The highest band: priorities above it count as it. */
  public static final int TOP_BAND = 9;

  /** The number of bands, 0 to {@link #TOP_BAND}. */
  public static final int BANDS = TOP_BAND + 1;

  /** One take in this many goes to a lower non-empty band while higher ones have messages. */
  public static final int SHARE_EVERY = 10;

  private PriorityBands() {}

  /**
   * The band of a message.
   *
   * @param priority Go's {@code Priority}, 0 to 255
   * @return the band, 0 to {@link #TOP_BAND}
   */
  public static int band(int priority) {
    return Math.clamp(priority, 0, TOP_BAND);
  }

  /**
   * Chooses the band of a consumer's {@code take}-th message (counting from 0).
   *
   * @param take how many messages the consumer took before this one
   * @param nonEmpty which bands have messages, indexed by band
   * @return the band to take from, or -1 when every band is empty
   */
  public static int choose(long take, boolean[] nonEmpty) {
    int top = -1;
    int lower = 0;
    for (int b = nonEmpty.length - 1; b >= 0; b--) {
      if (nonEmpty[b]) {
        if (top < 0) {
          top = b;
        } else {
          lower++;
        }
      }
    }
    if (top < 0 || lower == 0 || take % SHARE_EVERY != SHARE_EVERY - 1) {
      return top;
    }
    long turn = (take / SHARE_EVERY) % lower;
    for (int b = 0; b < top; b++) {
      if (nonEmpty[b] && turn-- == 0) {
        return b;
      }
    }
    return top;
  }
}
