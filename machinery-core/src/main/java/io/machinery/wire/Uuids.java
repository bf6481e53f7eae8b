package io.machinery.wire;

import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Go Machinery's identifiers: {@code task_}, {@code group_} and {@code chord_} followed by a
 * lowercase UUIDv4.
 */
public final class Uuids {
  private Uuids() {}

  private static final Pattern TASK_UUID =
      Pattern.compile("task_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

  /**
   * Makes a task UUID.
   *
   * @return {@code task_} and a random UUIDv4
   */
  public static String newTaskUuid() {
    return "task_" + UUID.randomUUID();
  }

  /**
   * Makes a group UUID.
   *
   * @return {@code group_} and a random UUIDv4
   */
  public static String newGroupUuid() {
    return "group_" + UUID.randomUUID();
  }

  /**
   * Makes a chord callback UUID.
   *
   * @return {@code chord_} and a random UUIDv4
   */
  public static String newChordUuid() {
    return "chord_" + UUID.randomUUID();
  }

  /**
   * The UUID a chord callback is sent with: a fresh {@code chord_} one for an empty UUID (Go's
   * {@code NewChord}), {@code chord_<u>} for a generated {@code task_<u>}, any other UUID
   * unchanged.
   *
   * @param uuid the callback's UUID as given
   * @return the UUID to send it with
   */
  public static String chordUuidFor(String uuid) {
    if (uuid.isEmpty()) {
      return newChordUuid();
    }
    return TASK_UUID.matcher(uuid).matches() ? "chord_" + uuid.substring("task_".length()) : uuid;
  }
}
