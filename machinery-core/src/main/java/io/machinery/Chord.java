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

  /**
   * Creates a chord: Go's {@code NewChord(group, callback)}. Every member carries the callback, which gets a
   * {@code chord_} UUID.
   *
   * @param group the tasks whose results the callback receives
   * @param callback the task sent when every member succeeded
   * @return the chord
   */
  public static Chord of(Group group, Signature callback) {
    Signature cb = callback.toBuilder().uuid(Uuids.chordUuidFor(callback.uuid())).build();
    List<Signature> members = group.tasks().stream().map(t -> t.toBuilder().chordCallback(cb).build()).toList();
    return new Chord(group.withTasks(members), cb);
  }

  /**
   * Returns the group, each member carrying the callback.
   *
   * @return the group as sent
   */
  public Group group() {
    return group;
  }

  /**
   * Returns the callback as sent, with its {@code chord_} UUID: look its result up by this one.
   *
   * @return the callback
   */
  public Signature callback() {
    return callback;
  }
}
