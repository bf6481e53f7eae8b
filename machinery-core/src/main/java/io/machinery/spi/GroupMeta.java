package io.machinery.spi;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** What a result backend stores for a group: Go's {@code tasks.GroupMeta}. Immutable. */
public final class GroupMeta {
  private final String groupUuid;
  private final List<String> taskUuids;
  private final boolean chordTriggered;
  private final boolean lock;
  private final OffsetDateTime createdAt;
  private final long ttl;

  private GroupMeta(
      String groupUuid,
      List<String> taskUuids,
      boolean chordTriggered,
      boolean lock,
      OffsetDateTime createdAt,
      long ttl) {
    this.groupUuid = Objects.requireNonNull(groupUuid, "groupUuid");
    this.taskUuids = List.copyOf(taskUuids);
    this.chordTriggered = chordTriggered;
    this.lock = lock;
    this.createdAt = Objects.requireNonNull(createdAt, "createdAt");
    this.ttl = ttl;
  }

  /**
   * Creates group metadata with every field given, as read from a store.
   *
   * @param groupUuid the group's UUID
   * @param taskUuids the members' UUIDs, in group order
   * @param chordTriggered whether the chord callback was sent
   * @param lock whether Go's chord mutex is held
   * @param createdAt when the group was recorded
   * @param ttl Unix seconds at which DynamoDB expires the item; 0 elsewhere
   * @return the metadata
   */
  public static GroupMeta of(
      String groupUuid,
      List<String> taskUuids,
      boolean chordTriggered,
      boolean lock,
      OffsetDateTime createdAt,
      long ttl) {
    return new GroupMeta(groupUuid, taskUuids, chordTriggered, lock, createdAt, ttl);
  }

  /**
   * Creates the metadata of a new group, not triggered and not locked.
   *
   * @param groupUuid the group's UUID
   * @param taskUuids the members' UUIDs, in group order
   * @param now when the group is recorded
   * @return the metadata
   */
  public static GroupMeta create(String groupUuid, List<String> taskUuids, OffsetDateTime now) {
    return new GroupMeta(groupUuid, taskUuids, false, false, now, 0);
  }

  /**
   * Returns this metadata with the chord flag set.
   *
   * @param triggered whether the chord callback was sent
   * @return new metadata
   */
  public GroupMeta withChordTriggered(boolean triggered) {
    return new GroupMeta(groupUuid, taskUuids, triggered, lock, createdAt, ttl);
  }

  /**
   * Returns this metadata with the lock flag set.
   *
   * @param locked whether Go's chord mutex is held
   * @return new metadata
   */
  public GroupMeta withLock(boolean locked) {
    return new GroupMeta(groupUuid, taskUuids, chordTriggered, locked, createdAt, ttl);
  }

  /**
   * Returns the group's UUID ({@code GroupUUID}).
   *
   * @return the UUID
   */
  public String groupUuid() {
    return groupUuid;
  }

  /**
   * Returns the members' UUIDs ({@code TaskUUIDs}).
   *
   * @return the UUIDs, in group order
   */
  public List<String> taskUuids() {
    return taskUuids;
  }

  /**
   * Tells whether the chord callback was sent ({@code ChordTriggered}).
   *
   * @return true once triggered
   */
  public boolean chordTriggered() {
    return chordTriggered;
  }

  /**
   * Tells whether Go's chord mutex is held ({@code Lock}).
   *
   * @return true while held
   */
  public boolean lock() {
    return lock;
  }

  /**
   * Returns when the group was recorded ({@code CreatedAt}).
   *
   * @return the time
   */
  public OffsetDateTime createdAt() {
    return createdAt;
  }

  /**
   * Returns when DynamoDB expires the item ({@code TTL}).
   *
   * @return Unix seconds; 0 on other backends
   */
  public long ttl() {
    return ttl;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof GroupMeta g
        && groupUuid.equals(g.groupUuid)
        && taskUuids.equals(g.taskUuids)
        && chordTriggered == g.chordTriggered
        && lock == g.lock
        && createdAt.equals(g.createdAt)
        && ttl == g.ttl;
  }

  @Override
  public int hashCode() {
    return Objects.hash(groupUuid, taskUuids, chordTriggered);
  }

  @Override
  public String toString() {
    return "GroupMeta{" + groupUuid + " " + taskUuids + (chordTriggered ? " triggered" : "") + "}";
  }
}
