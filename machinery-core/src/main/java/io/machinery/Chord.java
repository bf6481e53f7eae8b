package io.machinery;

import java.util.List;

/**
 * A group whose results, in group order, are passed to a callback once every member succeeded: Go's {@code
 * tasks.NewChord}. The callback gets a {@code chord_} UUID if it has none (build it with {@link
 * Signature#emptyBuilder()} for that) and travels embedded in every member
 * message. Immutable.
 */
public final class Chord {
  private final Group group;
  private final Signature callback;

  private Chord(Group group, Signature callback) {
    this.group = group;
    this.callback = callback;
  }

  public static Chord of(Group group, Signature callback) {
    Signature cb = callback.uuid().isEmpty() ? callback.toBuilder().uuid(Uuids.newChordUuid()).build() : callback;
    List<Signature> members = group.tasks().stream().map(t -> t.toBuilder().chordCallback(cb).build()).toList();
    return new Chord(group.withTasks(members), cb);
  }

  public Group group() {
    return group;
  }

  public Signature callback() {
    return callback;
  }
}
