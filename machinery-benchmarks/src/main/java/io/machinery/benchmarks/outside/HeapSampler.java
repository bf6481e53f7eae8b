package io.machinery.benchmarks.outside;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.management.ListenerNotFoundException;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * The heap of a worker JVM while it runs, measured without disturbing it: the used heap after every
 * garbage collection the JVM does on its own (GC notifications, so no collection is forced while
 * the clock runs), folded into windows of a few seconds, and the peak of the heap pools.
 *
 * <p>Design notes. "After GC" is the live set plus whatever the collection left (a young collection
 * leaves the old generation as it is), so the lowest value in a window is the best estimate of what
 * the program holds then; a heap that is flat shows the same lowest value window after window, one
 * that leaks climbs. {@link #usedAfterFullGcMb()} forces a collection and is for before and after a
 * measurement only.
 */
final class HeapSampler implements NotificationListener, AutoCloseable {
  private static final double MB = 1024.0 * 1024.0;

  private final long windowNanos;
  private final long t0 = System.nanoTime();
  private final List<double[]> windows = new ArrayList<>(); // {end seconds, min after GC, GCs}
  private final List<NotificationEmitter> emitters = new ArrayList<>();
  private double windowMin = Double.NaN;
  private int windowGcs;
  private long windowEnd;
  private double maxAfterGc = Double.NaN;

  HeapSampler(double windowSeconds) {
    this.windowNanos = (long) (windowSeconds * 1e9);
    this.windowEnd = t0 + windowNanos;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        pool.resetPeakUsage();
      }
    }
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      if (gc instanceof NotificationEmitter emitter) {
        emitter.addNotificationListener(this, null, null);
        emitters.add(emitter);
      }
    }
  }

  /** Forces a full collection and returns the used heap after it, in MiB. */
  static double usedAfterFullGcMb() {
    System.gc();
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() / MB;
  }

  @Override
  public synchronized void handleNotification(Notification n, Object handback) {
    if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
      return;
    }
    GarbageCollectionNotificationInfo info =
        GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
    long used = 0;
    for (Map.Entry<String, MemoryUsage> e : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
      if (isHeapPool(e.getKey())) {
        used += e.getValue().getUsed();
      }
    }
    long now = System.nanoTime();
    roll(now);
    windowMin = Double.isNaN(windowMin) ? used / MB : Math.min(windowMin, used / MB);
    maxAfterGc = Double.isNaN(maxAfterGc) ? used / MB : Math.max(maxAfterGc, used / MB);
    windowGcs++;
  }

  private static boolean isHeapPool(String name) {
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getName().equals(name)) {
        return pool.getType() == MemoryType.HEAP;
      }
    }
    return false;
  }

  /** Closes the windows that ended before {@code now}. */
  private void roll(long now) {
    while (now >= windowEnd) {
      windows.add(new double[] {(windowEnd - t0) / 1e9, windowMin, windowGcs});
      windowMin = Double.NaN;
      windowGcs = 0;
      windowEnd += windowNanos;
    }
  }

  /**
   * The windows so far: seconds since the start at the window's end, the lowest used heap after a
   * GC in it in MiB (NaN when no GC ran in it), and how many GCs ran in it.
   */
  synchronized List<double[]> windows() {
    roll(System.nanoTime());
    List<double[]> copy = new ArrayList<>(windows);
    if (windowGcs > 0) {
      copy.add(new double[] {(System.nanoTime() - t0) / 1e9, windowMin, windowGcs});
    }
    return copy;
  }

  /**
   * The lowest used heap after a GC per window, in MiB, rounded; windows without a GC are left out.
   */
  List<Long> series() {
    List<Long> out = new ArrayList<>();
    for (double[] w : windows()) {
      if (!Double.isNaN(w[1])) {
        out.add(Math.round(w[1]));
      }
    }
    return out;
  }

  /** The highest used heap after any GC so far, in MiB (NaN before the first GC). */
  synchronized double maxAfterGcMb() {
    return maxAfterGc;
  }

  /** The peak of the heap pools since this sampler started, in MiB (the pools' peaks summed). */
  static double peakMb() {
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peak += pool.getPeakUsage().getUsed();
      }
    }
    return peak / MB;
  }

  /** The largest heap this JVM may grow to, in MiB. */
  static double maxMb() {
    return Runtime.getRuntime().maxMemory() / MB;
  }

  @Override
  public void close() {
    for (NotificationEmitter emitter : emitters) {
      try {
        emitter.removeNotificationListener(this);
      } catch (ListenerNotFoundException e) {
        // never added
      }
    }
  }
}
