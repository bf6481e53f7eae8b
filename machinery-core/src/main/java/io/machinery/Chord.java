package io.machinery;

import java.util.List;

/**
 * A group whose results, in group order, are passed to a callback once every member succeeded: Go's {@code
 * tasks.NewChord}. The callback travels embedded in every member message. Immutable.
 *
 * <p>The callback's UUID has Go's {@code chord_} prefix: an empty UUID becomes {@code chord_<uuid4>} (as in
 * Go), and the {@code task_<uuid>} that {@link Signature#builder(String)} assigns becomes {@code chord_} with
 * the same UUID, since a Java callback is rarely built without one. Any other UUID is the caller's own and is
 * kept, as Go keeps it.
 */
public final class Chord {
  private final Group group;
  private final Signature callback;

  private Chord(Group group, Signature callback) {
    this.group = group;
    this.callback = callback;
  }

  /** Go's {@code NewChord(group, callback)}: every member carries the callback, which gets a {@code chord_} UUID. */
  public static Chord of(Group group, Signature callback) {
    Signature cb = callback.toBuilder().uuid(Uuids.chordUuidFor(callback.uuid())).build();
    List<Signature> members = group.tasks().stream().map(t -> t.toBuilder().chordCallback(cb).build()).toList();
    return new Chord(group.withTasks(members), cb);
  }

  public Group group() {
    return group;
  }

  /** The callback as sent, with its {@code chord_} UUID: look its result up by this one. */
  public Signature callback() {
    return callback;
  }
}
