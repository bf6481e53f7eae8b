package io.machinery.broker.redis;

import io.machinery.client.redis.RedisSession;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds messages that a lost fetch reply left in a consumer's processing list and returns them to
 * the head of the queue.
 *
 * <p>Design notes. When a fetch's reply is lost (timeout, dropped connection) the command may still
 * have run, and Lettuce may even send it again after reconnecting. A message in the processing list
 * that the consumer never handed to the worker (or whose settlement Redis has not confirmed) is a
 * <em>stray</em>. Right after a lost reply the fetch loop returns all strays at once ({@link
 * #returnStrays}); the consumer's slow maintenance also sweeps the list, and there a stray goes
 * back only when it was stray in two sweeps in a row ({@link #lostInTwoSweeps}): a fetch reply in
 * flight during one sweep has arrived long before the next. The snapshot of the unsettled messages
 * is taken before the list is read, so a settlement racing with a sweep never makes a message look
 * stray. A sweep lists the whole processing list (every in-flight message crosses the network
 * again), so it runs only when a stray is possible: in the two sweeps after the session reconnected
 * (when Lettuce resends commands that were in flight) and while there are suspects. Not
 * thread-safe: {@link #sweep} runs on the maintenance thread only.
 */
final class StrayCollector {
  private final RedisSession session;
  private final QueueKeys keys;
  private final String processing;

  /**
   * Whether messages with a fairness key go back to their lane ({@link
   * RedisBroker.Builder#fairness}).
   */
  private final boolean fairness;

  /** Stray messages of the last sweep. */
  private Set<MessageKey> suspects = Set.of();

  /**
   * The session's reconnect count the last sweep saw, and how many sweeps are still due since it
   * changed.
   */
  private long reconnectsSeen;

  private int sweepsDue =
      2; // sweep twice after the start too: a previous run of the process may have crashed

  StrayCollector(RedisSession session, QueueKeys keys, String processing, boolean fairness) {
    this.fairness = fairness;
    this.session = session;
    this.keys = keys;
    this.processing = processing;
  }

  /**
   * The listed messages that are not among the known unsettled ones, in list order. {@code known}
   * is a multiset (message to count), consumed by this call: two equal messages listed and one
   * known leave one stray.
   */
  static List<byte[]> strays(List<byte[]> listed, Map<MessageKey, Integer> known) {
    List<byte[]> strays = new ArrayList<>();
    for (byte[] message : listed) {
      MessageKey key = MessageKey.of(message);
      Integer count = known.get(key);
      if (count == null) {
        strays.add(message);
      } else if (count == 1) {
        known.remove(key);
      } else {
        known.put(key, count - 1);
      }
    }
    return strays;
  }

  /**
   * The two-sweep rule: of this sweep's strays, those that were stray in the previous sweep too (to
   * be returned), in order; the others are remembered as suspects for the next sweep.
   */
  List<byte[]> lostInTwoSweeps(List<byte[]> strays) {
    List<byte[]> lost = new ArrayList<>();
    Set<MessageKey> next = new HashSet<>();
    for (byte[] message : strays) {
      MessageKey key = MessageKey.of(message);
      if (suspects.contains(key)) {
        lost.add(message);
      } else {
        next.add(key);
      }
    }
    suspects = next;
    return lost;
  }

  /**
   * Returns every stray at once (right after a lost reply, before the next fetch); {@code
   * unsettled} must be a snapshot taken before this call. Returns how many went back.
   */
  long returnStrays(Map<MessageKey, Integer> unsettled) {
    List<byte[]> strays =
        strays(session.await(session.commands().lrange(processing, 0, -1)), unsettled);
    return strays.isEmpty() ? 0 : returnToHead(strays);
  }

  /**
   * Whether a sweep is due, given the session's reconnect count now: in the two sweeps after it
   * changed, and while a stray of the last sweep waits for its second look.
   */
  boolean sweepDue(long reconnects) {
    if (reconnects != reconnectsSeen) {
      reconnectsSeen = reconnects;
      sweepsDue = 2;
    }
    if (sweepsDue > 0) {
      sweepsDue--;
      return true;
    }
    return !suspects.isEmpty();
  }

  /** One sweep with the two-sweep rule; {@code unsettled} is a snapshot taken before this call. */
  long sweep(Map<MessageKey, Integer> unsettled) {
    List<byte[]> lost =
        lostInTwoSweeps(
            strays(session.await(session.commands().lrange(processing, 0, -1)), unsettled));
    return lost.isEmpty() ? 0 : returnToHead(lost);
  }

  /**
   * Puts messages back at the head of the queue in their order, those still in the processing list.
   */
  long returnToHead(List<byte[]> messages) {
    byte[][] args = new byte[1 + messages.size()][];
    args[0] = RedisBroker.fairnessFlag(fairness);
    for (int i = 0; i < messages.size(); i++) {
      args[1 + i] = messages.get(i);
    }
    return session.await(
        BrokerScripts.RETURN_TO_HEAD.<Long>run(
            session.commands(), new String[] {processing, keys.queue(), keys.fairRing()}, args));
  }
}
