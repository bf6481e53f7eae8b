package io.machinery;

import io.machinery.wire.LogText;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chord error callback's wire and texts.
 *
 * <p>Design notes: Go's message has no place for a chord's error callback, and new top-level keys
 * are out (Go clients must read every message). So the error callback travels as a header of the
 * chord callback, {@value #HEADER}: its whole Go JSON message as a string value. Every member
 * carries the chord callback (Go's {@code ChordCallback}), so whichever member completes the group
 * finds it; Go workers carry the header on untouched when they retry a member, but a Go worker that
 * completes the group does not know it (the error callback then does not run; the chord callback
 * still gets no results, as in Go). It is sent by the member that wins the chord trigger and finds
 * failed members, so it runs once exactly when the chord callback would have: the backend's {@code
 * triggerChord} is true for one caller per group, across processes and languages. It receives two
 * {@code []string} arguments before its own: the failed members' UUIDs and their errors, in group
 * order.
 */
final class ChordErrors {
  private static final Logger log = LoggerFactory.getLogger(ChordErrors.class);

  /** The chord callback's header holding the error callback's JSON message. */
  static final String HEADER = "machinery_chord_error_callback";

  private ChordErrors() {}

  /** The chord callback carrying {@code errorCallback} in its headers. */
  static Signature attach(Signature chordCallback, Signature errorCallback) {
    Signature onError =
        errorCallback.uuid().isEmpty()
            ? errorCallback.toBuilder().uuid(Uuids.newTaskUuid()).build()
            : errorCallback;
    String json =
        new String(WireCodec.encode(onError), StandardCharsets.UTF_8); // refuses bad arguments now
    return chordCallback.toBuilder().header(HEADER, json).build();
  }

  /** The error callback a chord callback carries; empty when none (or unreadable: logged). */
  static Optional<Signature> of(Signature chordCallback, io.machinery.config.Config config) {
    Object value = chordCallback.headers().get(HEADER);
    if (!(value instanceof String json) || json.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(WireCodec.decodeSignature(json.getBytes(StandardCharsets.UTF_8), config));
    } catch (RuntimeException e) {
      log.error(
          "Chord callback {} carries an unreadable error callback in header {}: {}",
          LogText.of(chordCallback.uuid()),
          HEADER,
          LogText.of(e.getMessage()));
      return Optional.empty();
    }
  }

  /**
   * The chord callback as it is sent on success: without the error callback (nobody needs it
   * there).
   */
  static Signature withoutErrorCallback(Signature chordCallback) {
    if (!chordCallback.headers().containsKey(HEADER)) {
      return chordCallback;
    }
    Map<String, @Nullable Object> headers = new LinkedHashMap<>(chordCallback.headers());
    headers.remove(HEADER);
    return chordCallback.toBuilder().headers(headers).build();
  }

  /** The chord callback's FAILURE text: every failed member with its state and error. */
  static String failureText(String groupUuid, List<TaskState> failed) {
    StringBuilder text = new StringBuilder("chord group ").append(groupUuid).append(" failed: ");
    for (int i = 0; i < failed.size(); i++) {
      TaskState state = failed.get(i);
      text.append(i == 0 ? "" : "; ")
          .append("task ")
          .append(state.taskUuid())
          .append(" is ")
          .append(state.state());
      if (!state.error().isEmpty()) {
        text.append(": ").append(state.error());
      }
    }
    return text.toString();
  }

  /** The error callback to send: failed UUIDs and errors first, then its own arguments. */
  static Signature callbackFor(Signature errorCallback, List<TaskState> failed) {
    List<String> uuids = new ArrayList<>(failed.size());
    List<String> errors = new ArrayList<>(failed.size());
    for (TaskState state : failed) {
      uuids.add(state.taskUuid());
      errors.add(state.error().isEmpty() ? state.state().name() : state.error());
    }
    List<Arg> args = new ArrayList<>();
    args.add(Arg.of("[]string", uuids));
    args.add(Arg.of("[]string", errors));
    args.addAll(errorCallback.args());
    return errorCallback.toBuilder().args(args).build();
  }
}
