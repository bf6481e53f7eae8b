package io.machinery.spi;

import io.machinery.Signature;
import org.jspecify.annotations.Nullable;

/**
 * The fairness policy of brokers that share a queue's turns between fairness keys (memory, Redis
 * with fairness on), so that one tenant's backlog does not hold up the others. Stateless;
 * thread-safe.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>The key</b> is the message header {@value Signature#FAIRNESS_KEY_HEADER} (a string; see
 *       {@link Signature.Builder#fairnessKey}). It travels in Go's {@code Headers}, so a Go
 *       producer can set it and Go workers carry it on a retry. A value that is not a string, is
 *       blank or is longer than {@value #MAX_KEY_LENGTH} characters is no key.
 *   <li><b>Turns.</b> Each key with waiting messages is one lane; the messages without a key (with
 *       their priority bands) are one more. A consumer takes round-robin over the keyed lanes, and
 *       every ({@code lanes} + 1)th take goes to the unkeyed lane. So with {@code k} keys waiting,
 *       each gets about one take in {@code k + 1}, however many messages each has queued; within a
 *       key, first in first out. A key's messages ignore {@code Priority}.
 *   <li><b>Weights.</b> A key given a weight {@code w} ({@link Inspector#setFairnessWeight}) takes
 *       up to {@code w} messages in a row when its turn comes (1 by default), so with a key of
 *       weight 3 and one of weight 1 waiting, the first gets about three of every four keyed takes
 *       (exactly, but for a turn lengthened by tasks a consumer fetched ahead and gave back). The
 *       unkeyed lane keeps its one take in {@code lanes + 1}. Weights belong to the queue, not to
 *       the messages, and stay when a key's lane empties.
 * </ul>
 */
public final class FairShares {
  /** Keys longer than this are no keys (a Redis key name is built from them). */
  public static final int MAX_KEY_LENGTH = 256;

  /** The highest weight a key can have ({@link #checkWeight}). */
  public static final int MAX_WEIGHT = 1000;

  private FairShares() {}

  /**
   * Checks a key and its weight for {@link Inspector#setFairnessWeight}.
   *
   * @param key the fairness key
   * @param weight the weight
   * @throws IllegalArgumentException if the key is no usable key or the weight is outside 1 to
   *     {@value #MAX_WEIGHT}
   */
  public static void checkWeight(String key, int weight) {
    if (usable(key) == null) {
      throw new IllegalArgumentException(
          "a fairness key is not blank and at most " + MAX_KEY_LENGTH + " characters");
    }
    if (weight < 1 || weight > MAX_WEIGHT) {
      throw new IllegalArgumentException(
          "a fairness weight is from 1 to " + MAX_WEIGHT + "; was " + weight);
    }
  }

  /**
   * The fairness key of a message.
   *
   * @param signature the decoded message
   * @return its key, or null when it has none (or an unusable one)
   */
  public static @Nullable String keyOf(Signature signature) {
    return usable(signature.headers().get(Signature.FAIRNESS_KEY_HEADER));
  }

  /**
   * A header value as a fairness key.
   *
   * @param value the header's value
   * @return the key, or null when the value is not a usable key
   */
  public static @Nullable String usable(@Nullable Object value) {
    return value instanceof String key && !key.isBlank() && key.length() <= MAX_KEY_LENGTH
        ? key
        : null;
  }

  /**
   * Whether a consumer's {@code turn}-th take (counting the takes made while keyed lanes waited)
   * goes to the unkeyed lane.
   *
   * @param turn the takes counted so far
   * @param keyedLanes how many keys have waiting messages (at least 1)
   * @return true for the unkeyed lane's turn (when it has messages)
   */
  public static boolean unkeyedTurn(long turn, int keyedLanes) {
    return Math.floorMod(turn, keyedLanes + 1L) == keyedLanes;
  }
}
