package io.machinery;

import java.util.UUID;

/** Go Machinery's identifiers: {@code task_}, {@code group_} and {@code chord_} followed by a lowercase UUIDv4. */
public final class Uuids {
  private Uuids() {}

  public static String newTaskUuid() {
    return "task_" + UUID.randomUUID();
  }

  public static String newGroupUuid() {
    return "group_" + UUID.randomUUID();
  }

  public static String newChordUuid() {
    return "chord_" + UUID.randomUUID();
  }
}
