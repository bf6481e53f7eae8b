package io.machinery.spi;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.Objects;

/** What a result backend stores for a group: Go's {@code tasks.GroupMeta}. Immutable. */
public final class GroupMeta {
  private final String groupUuid;
  private final List<String> taskUuids;
  private final boolean chordTriggered;
  private final boolean lock;
  private final OffsetDateTime createdAt;
  private final long ttl;

  private GroupMeta(
      String groupUuid, List<String> taskUuids, boolean chordTriggered, boolean lock, OffsetDateTime createdAt,
      long ttl) {
    this.groupUuid = Objects.requireNonNull(groupUuid, "groupUuid");
    this.taskUuids = List.copyOf(taskUuids);
    this.chordTriggered = chordTriggered;
    this.lock = lock;
    this.createdAt = Objects.requireNonNull(createdAt, "createdAt");
    this.ttl = ttl;
  }

  public static GroupMeta of(
      String groupUuid, List<String> taskUuids, boolean chordTriggered, boolean lock, OffsetDateTime createdAt,
      long ttl) {
    return new GroupMeta(groupUuid, taskUuids, chordTriggered, lock, createdAt, ttl);
  }

  public static GroupMeta create(String groupUuid, List<String> taskUuids, OffsetDateTime now) {
    return new GroupMeta(groupUuid, taskUuids, false, false, now, 0);
  }

  public GroupMeta withChordTriggered(boolean triggered) {
    return new GroupMeta(groupUuid, taskUuids, triggered, lock, createdAt, ttl);
  }

  public GroupMeta withLock(boolean locked) {
    return new GroupMeta(groupUuid, taskUuids, chordTriggered, locked, createdAt, ttl);
  }

  public String groupUuid() { return groupUuid; }
  public List<String> taskUuids() { return taskUuids; }
  public boolean chordTriggered() { return chordTriggered; }
  public boolean lock() { return lock; }
  public OffsetDateTime createdAt() { return createdAt; }
  public long ttl() { return ttl; }

  @Override
  public boolean equals(Object o) {
    return o instanceof GroupMeta g && groupUuid.equals(g.groupUuid) && taskUuids.equals(g.taskUuids)
        && chordTriggered == g.chordTriggered && lock == g.lock && createdAt.equals(g.createdAt) && ttl == g.ttl;
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
