package io.machinery;

import io.machinery.wire.Uuids;
import java.util.List;

/**
 * A group whose results, in group order, are passed to a callback once every member succeeded: Go's
 * {@code tasks.NewChord}. The callback travels embedded in every member message. Immutable.
 *
 * <p>The callback's UUID has Go's {@code chord_} prefix: an empty UUID becomes {@code
 * chord_<uuid4>} (as in Go), and the {@code task_<uuid>} that {@link Signature#builder(String)}
 * assigns becomes {@code chord_} with the same UUID, since a Java callback is rarely built without
 * one. Any other UUID is the caller's own and is kept, as Go keeps it.
 */
public final class Chord {
  private final Group group;
  private final Signature callback;

  private Chord(Group group, Signature callback) {
    this.group = group;
    this.callback = callback;
  }

  /**
   * Creates a chord: Go's {@code NewChord(group, callback)}. Every member carries the callback,
   * which gets a {@code chord_} UUID.
   *
   * @param group the tasks whose results the callback receives
   * @param callback the task sent when every member succeeded
   * @return the chord
   */
  public static Chord of(Group group, Signature callback) {
    Signature cb = callback.toBuilder().uuid(Uuids.chordUuidFor(callback.uuid())).build();
    List<Signature> members =
        group.tasks().stream().map(t -> t.toBuilder().chordCallback(cb).build()).toList();
    return new Chord(group.withTasks(members), cb);
  }

  /**
   * Returns this chord with an error callback: when the group is complete and any member failed for
   * good (FAILURE, retries used up, or cancelled), it is sent once, instead of the callback, with
   * two {@code []string} arguments before its own: the failed members' UUIDs and their errors, in
   * group order. It travels in the callback's header {@value ChordErrors#HEADER} (Go's message has
   * no place for it); a Go worker carries it on, but a chord completed by a Go worker does not send
   * it.
   *
   * @param errorCallback the task to send when the chord fails; without a UUID it gets one
   * @return a new chord; this one is unchanged
   * @throws IllegalArgumentException when an argument of {@code errorCallback} does not fit its Go
   *     type
   */
  public Chord withErrorCallback(Signature errorCallback) {
    Signature cb = ChordErrors.attach(callback, errorCallback);
    List<Signature> members =
        group.tasks().stream().map(t -> t.toBuilder().chordCallback(cb).build()).toList();
    return new Chord(group.withTasks(members), cb);
  }

  /**
   * Returns the chord's error callback ({@link #withErrorCallback}), with its UUID: look its result
   * up by it.
   *
   * @return the error callback; empty when the chord has none
   */
  public java.util.Optional<Signature> errorCallback() {
    return ChordErrors.of(callback, io.machinery.config.Config.DEFAULT);
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
