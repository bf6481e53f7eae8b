package io.machinery;

import io.machinery.wire.Uuids;
import java.util.ArrayList;
import java.util.List;

/**
 * Tasks that run in parallel and complete together: Go's {@code tasks.NewGroup}. Every member gets
 * the group UUID, the member count and, if it has none, a task UUID. Immutable.
 */
public final class Group {
  private final String groupUuid;
  private final List<Signature> tasks;

  private Group(String groupUuid, List<Signature> tasks) {
    this.groupUuid = groupUuid;
    this.tasks = List.copyOf(tasks);
  }

  /**
   * Creates a group: Go's {@code NewGroup(signatures...)}.
   *
   * @param tasks the members, at least one
   * @return the group, with a fresh {@code group_} UUID set on every member
   * @throws IllegalArgumentException if there are no tasks
   */
  public static Group of(Signature... tasks) {
    return of(List.of(tasks));
  }

  /**
   * Creates a group, as {@link #of(Signature...)} does.
   *
   * @param tasks the members, at least one
   * @return the group, with a fresh {@code group_} UUID set on every member
   * @throws IllegalArgumentException if there are no tasks
   */
  public static Group of(List<Signature> tasks) {
    if (tasks.isEmpty()) {
      throw new IllegalArgumentException("a group needs at least one task");
    }
    String groupUuid = Uuids.newGroupUuid();
    List<Signature> members = new ArrayList<>(tasks.size());
    for (Signature task : tasks) {
      Signature.Builder b = task.toBuilder().groupUuid(groupUuid).groupTaskCount(tasks.size());
      if (task.uuid().isEmpty()) {
        b.uuid(Uuids.newTaskUuid());
      }
      members.add(b.build());
    }
    return new Group(groupUuid, members);
  }

  /**
   * Returns the group's UUID.
   *
   * @return the {@code group_} UUID
   */
  public String groupUuid() {
    return groupUuid;
  }

  /**
   * Returns the members as they will be sent.
   *
   * @return the members, in order, each with the group UUID, the member count and a task UUID
   */
  public List<Signature> tasks() {
    return tasks;
  }

  /**
   * Returns the members' task UUIDs (Go's {@code GetUUIDs}).
   *
   * @return the UUIDs, in order
   */
  public List<String> taskUuids() {
    return tasks.stream().map(Signature::uuid).toList();
  }

  Group withTasks(List<Signature> newTasks) {
    return new Group(groupUuid, newTasks);
  }
}
