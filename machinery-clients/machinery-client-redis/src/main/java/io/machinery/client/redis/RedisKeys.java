package io.machinery.client.redis;

import io.lettuce.core.cluster.SlotHash;
import java.nio.charset.StandardCharsets;

/**
 * Names for keys that must live in the same Redis Cluster slot as a Go key they belong to.
 *
 * <p>Go's own keys (a queue list such as {@code machinery_tasks}) keep their exact names; keys this
 * library adds for a queue carry the queue's hash tag, {@code {machinery_tasks}:processing:…}, so
 * that a Lua script touching the queue and its processing list never crosses slots. When the queue
 * name has a hash tag of its own ({@code {app}tasks}), that tag is reused. Thread-safe; all methods
 * are static.
 */
public final class RedisKeys {
  private RedisKeys() {}

  /**
   * The part of {@code key} Redis Cluster hashes: the first non-empty {@code {…}} section, else the
   * whole key.
   */
  public static String hashTag(String key) {
    int open = key.indexOf('{');
    if (open >= 0) {
      int close = key.indexOf('}', open + 1);
      if (close > open + 1) {
        return key.substring(open + 1, close);
      }
    }
    return key;
  }

  /**
   * {@code {tag-of-owner}:suffix}: a key in the same cluster slot as {@code owner}. When the part
   * of the owner Redis hashes contains a '}' (a name like {@code a}b}, which cannot be wrapped in
   * braces), the tag is instead the first of {@code ~0, ~1, …} (base 36) that hashes to the owner's
   * slot; every process computes the same one.
   */
  public static String tagged(String owner, String suffix) {
    String tag = hashTag(owner);
    if (tag.indexOf('}') >= 0) {
      tag = SLOT_TAGS.computeIfAbsent(slot(owner), RedisKeys::tagForSlot);
    }
    return "{" + tag + "}:" + suffix;
  }

  private static final java.util.concurrent.ConcurrentHashMap<Integer, String> SLOT_TAGS =
      new java.util.concurrent.ConcurrentHashMap<>();

  private static String tagForSlot(int slot) {
    for (long i = 0; ; i++) {
      String candidate = "~" + Long.toString(i, 36);
      if (slot(candidate) == slot) {
        return candidate;
      }
    }
  }

  /** The cluster slot of a key (0..16383). */
  public static int slot(String key) {
    return SlotHash.getSlot(key.getBytes(StandardCharsets.UTF_8));
  }
}
