package io.machinery.embedded;

import io.machinery.spi.PriorityBands;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;
import org.jspecify.annotations.Nullable;

/**
 * A queue of messages in priority bands ({@link PriorityBands}): FIFO within a band, taken by the
 * weighted fetch. Not thread-safe: the memory broker's queue lock guards it.
 */
final class Bands<T> {
  private final List<ArrayDeque<T>> bands = new ArrayList<>(PriorityBands.BANDS);
  private final ToIntFunction<T> bandOf;
  private final boolean[] nonEmpty = new boolean[PriorityBands.BANDS];
  private long takes;
  private int size;

  Bands(ToIntFunction<T> bandOf) {
    this.bandOf = bandOf;
    for (int i = 0; i < PriorityBands.BANDS; i++) {
      bands.add(new ArrayDeque<>());
    }
  }

  void addLast(T item) {
    bands.get(bandOf.applyAsInt(item)).addLast(item);
    size++;
  }

  void addFirst(T item) {
    bands.get(bandOf.applyAsInt(item)).addFirst(item);
    size++;
  }

  boolean isEmpty() {
    return size == 0;
  }

  int size() {
    return size;
  }

  /** The next message by the weighted fetch, or null when empty. */
  @Nullable T pollFirst() {
    for (int i = 0; i < nonEmpty.length; i++) {
      nonEmpty[i] = !bands.get(i).isEmpty();
    }
    int band = PriorityBands.choose(takes, nonEmpty);
    if (band < 0) {
      return null;
    }
    takes++;
    size--;
    return bands.get(band).pollFirst();
  }

  /** Every message, highest band first, FIFO within a band. */
  List<T> snapshot() {
    List<T> all = new ArrayList<>(size);
    for (int i = bands.size() - 1; i >= 0; i--) {
      all.addAll(bands.get(i));
    }
    return all;
  }

  /** The oldest message by {@code age} (the smallest value), or null when empty. */
  @Nullable T oldest(java.util.function.ToLongFunction<T> enqueued) {
    T oldest = null;
    for (ArrayDeque<T> band : bands) {
      T head = band.peekFirst();
      if (head != null
          && (oldest == null || enqueued.applyAsLong(head) < enqueued.applyAsLong(oldest))) {
        oldest = head;
      }
    }
    return oldest;
  }

  void clear() {
    bands.forEach(ArrayDeque::clear);
    size = 0;
  }
}
