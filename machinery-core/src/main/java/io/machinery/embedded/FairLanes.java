package io.machinery.embedded;

import io.machinery.spi.FairShares;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.ToIntFunction;
import java.util.function.ToLongFunction;
import org.jspecify.annotations.Nullable;

/**
 * A queue of messages in lanes ({@link FairShares}): one per fairness key, FIFO within each, and
 * the unkeyed messages in priority {@link Bands}; taken round-robin over the keyed lanes (a key of
 * weight w takes up to w in a row) with a turn for the unkeyed lane. Not thread-safe: the memory
 * broker's queue lock guards it.
 */
final class FairLanes<T> {
  private final Bands<T> unkeyed;
  private final Function<T, @Nullable String> keyOf;
  private final Map<String, ArrayDeque<T>> keyed = new HashMap<>();

  /** The keys with waiting messages, in turn order: the head's lane is taken next. */
  private final ArrayDeque<String> ring = new ArrayDeque<>();

  /** The weights above 1 ({@link FairShares}), by key; kept when a key's lane empties. */
  private final java.util.TreeMap<String, Integer> weights = new java.util.TreeMap<>();

  private long turns;
  private int keyedSize;

  /** How many messages the ring's head key took in its current turn. */
  private int headTakes;

  FairLanes(ToIntFunction<T> bandOf, Function<T, @Nullable String> keyOf) {
    this.unkeyed = new Bands<>(bandOf);
    this.keyOf = keyOf;
  }

  void addLast(T item) {
    String key = keyOf.apply(item);
    if (key == null) {
      unkeyed.addLast(item);
    } else {
      lane(key).addLast(item);
      keyedSize++;
    }
  }

  void addFirst(T item) {
    String key = keyOf.apply(item);
    if (key == null) {
      unkeyed.addFirst(item);
    } else {
      lane(key).addFirst(item);
      keyedSize++;
    }
  }

  private ArrayDeque<T> lane(String key) {
    return keyed.computeIfAbsent(
        key,
        k -> {
          ring.addLast(k);
          return new ArrayDeque<>();
        });
  }

  boolean isEmpty() {
    return size() == 0;
  }

  int size() {
    return unkeyed.size() + keyedSize;
  }

  /** The next message by the fair shares (unkeyed: by the weighted fetch), or null when empty. */
  @Nullable T pollFirst() {
    if (ring.isEmpty()) {
      return unkeyed.pollFirst();
    }
    boolean unkeyedTurn = FairShares.unkeyedTurn(turns++, ring.size());
    if (unkeyedTurn && !unkeyed.isEmpty()) {
      return unkeyed.pollFirst();
    }
    String key = Objects.requireNonNull(ring.peekFirst());
    ArrayDeque<T> lane = Objects.requireNonNull(keyed.get(key));
    T item = lane.pollFirst();
    keyedSize--;
    headTakes++;
    if (lane.isEmpty()) {
      keyed.remove(key);
      ring.pollFirst();
      headTakes = 0;
    } else if (headTakes >= weights.getOrDefault(key, 1)) {
      ring.addLast(Objects.requireNonNull(ring.pollFirst()));
      headTakes = 0;
    }
    return item;
  }

  /** Sets a key's weight; 1 removes it. The head's current turn ends at its new weight. */
  void setWeight(String key, int weight) {
    if (weight == 1) {
      weights.remove(key);
    } else {
      weights.put(key, weight);
    }
  }

  /** The weights above 1, sorted by key. */
  Map<String, Integer> weights() {
    return java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(weights));
  }

  /** Every message: the unkeyed ones (highest band first), then each key's in turn order. */
  List<T> snapshot() {
    List<T> all = new ArrayList<>(size());
    all.addAll(unkeyed.snapshot());
    for (String key : ring) {
      all.addAll(Objects.requireNonNull(keyed.get(key)));
    }
    return all;
  }

  /** The keys with waiting messages, in turn order, each with its count; at most {@code limit}. */
  Map<String, Long> keyCounts(int limit) {
    Map<String, Long> counts = new java.util.LinkedHashMap<>();
    for (String key : ring) {
      if (counts.size() == limit) {
        break;
      }
      counts.put(key, (long) Objects.requireNonNull(keyed.get(key)).size());
    }
    return counts;
  }

  /** The oldest message by {@code enqueued} (the smallest value), or null when empty. */
  @Nullable T oldest(ToLongFunction<T> enqueued) {
    T oldest = unkeyed.oldest(enqueued);
    for (ArrayDeque<T> lane : keyed.values()) {
      T head = lane.peekFirst();
      if (head != null
          && (oldest == null || enqueued.applyAsLong(head) < enqueued.applyAsLong(oldest))) {
        oldest = head;
      }
    }
    return oldest;
  }

  void clear() {
    unkeyed.clear();
    keyed.clear();
    ring.clear();
    keyedSize = 0;
    headTakes = 0;
  }
}
