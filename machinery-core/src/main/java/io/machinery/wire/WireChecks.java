package io.machinery.wire;

import io.machinery.Signature;
import io.machinery.config.Config;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import org.jspecify.annotations.Nullable;

/**
 * What {@link WireCodec} checks beyond JSON syntax, and how it quotes bad input.
 *
 * <p>Design notes. Identifiers and routing keys from a message become raw keys and queue names: a
 * task's UUID is the Redis key of its state (and an AMQP result queue), a group UUID the key of its
 * meta, a routing key a Redis list or an AMQP routing key. A message naming {@code
 * TriggerChordMutex}, {@code delayed_tasks}, a group meta or this library's {@code {queue}:…} keys
 * would make every state write overwrite or fail on a key that is not a task state (reliability
 * review F16). So a decoded message is refused (malformed, dead-lettered by the worker) unless:
 *
 * <ul>
 *   <li>with {@link Config#strictUuids()} (the default): the task UUID is {@code task_<uuid>},
 *       {@code chord_<uuid>} or a bare UUID, the group UUID {@code group_<uuid>} or a bare UUID
 *       (Go's only shapes, spec §1.9); callbacks may leave their UUID empty, the top-level message
 *       may not;
 *   <li>relaxed (Go deployments that set their own UUIDs): an identifier is at most {@value
 *       #MAX_RELAXED_ID_LENGTH} characters without whitespace or control characters, is not a
 *       reserved key, and a task UUID does not start with {@code group_};
 *   <li>in both modes a routing key is at most {@value #MAX_ROUTING_KEY_BYTES} UTF-8 bytes (AMQP's
 *       limit), has no control characters, is not a reserved key, not shaped like a task or group
 *       id, and not one of this library's {@code {tag}:…} keys;
 *   <li>a task name is at most {@value #MAX_NAME_LENGTH} characters without control characters (it
 *       is logged).
 * </ul>
 *
 * <p>Reserved keys: Go's chord mutex {@code TriggerChordMutex}, the configured delayed-task key
 * and, for identifiers, the configured default queue. Error texts quote at most {@value
 * #PREVIEW_BYTES} bytes of a message, with control characters escaped, plus its length and a
 * SHA-256 prefix to find it again: a hostile message must not make a huge or forged log line.
 * Stateless and thread-safe.
 */
final class WireChecks {
  private WireChecks() {}

  static final int PREVIEW_BYTES = 512;
  static final int MAX_REASON_CHARS = 512;
  static final int MAX_RELAXED_ID_LENGTH = 256;
  static final int MAX_ROUTING_KEY_BYTES = 255;
  static final int MAX_NAME_LENGTH = 1024;

  /** Go's redsync mutex for chord triggering (Redis backend). */
  static final String CHORD_MUTEX = "TriggerChordMutex";

  // The identifier shapes are matched by hand, not by regular expressions: every message a worker
  // takes passes these checks, and the regex engine was about 2% of a no-op task's CPU.

  /** A task id: {@code task_<uuid>}, {@code chord_<uuid>} or a bare UUID. */
  static boolean isTaskId(String s) {
    return isUuidAt(s, prefixLength(s, "task_", "chord_"));
  }

  /** A group id: {@code group_<uuid>} or a bare UUID. */
  static boolean isGroupId(String s) {
    return isUuidAt(s, s.startsWith("group_") ? 6 : 0);
  }

  private static boolean isAnyId(String s) {
    return isUuidAt(s, prefixLength(s, "task_", "chord_")) || isGroupId(s);
  }

  private static int prefixLength(String s, String one, String other) {
    return s.startsWith(one) ? one.length() : s.startsWith(other) ? other.length() : 0;
  }

  /** Whether {@code s} from {@code from} to its end is a UUID in 8-4-4-4-12 hex digits. */
  private static boolean isUuidAt(String s, int from) {
    if (s.length() - from != 36) {
      return false;
    }
    for (int i = 0; i < 36; i++) {
      char c = s.charAt(from + i);
      boolean ok =
          i == 8 || i == 13 || i == 18 || i == 23
              ? c == '-'
              : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code RedisKeys.tagged}: a key this library derives from a queue ({@code {q}:processing:…}):
   * an opening brace, no closing one until the first, then a colon.
   */
  static boolean isDerivedKey(String s) {
    if (s.isEmpty() || s.charAt(0) != '{') {
      return false;
    }
    int close = s.indexOf('}', 1);
    return close > 0 && close + 1 < s.length() && s.charAt(close + 1) == ':';
  }

  /**
   * Refuses a decoded message whose identifiers, routing keys or names could address foreign keys.
   */
  static void checkSignature(Signature s, Config config) {
    if (s.uuid().isEmpty()) {
      throw new IllegalArgumentException("the task has no UUID");
    }
    checkTree(s, config);
  }

  /** Checks every signature of the tree, without recursion (a chain nests thousands). */
  private static void checkTree(Signature root, Config config) {
    checkOwnFields(root, config);
    if (root.onSuccess().isEmpty() && root.onError().isEmpty() && root.chordCallback() == null) {
      return; // a plain task: nothing more to allocate or walk
    }
    ArrayDeque<Nested> pending = new ArrayDeque<>();
    pushCallbacks(pending, new Nested(root, null, ""));
    while (!pending.isEmpty()) {
      Nested at = pending.pop();
      try {
        checkOwnFields(at.signature, config);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(at.path() + e.getMessage(), e);
      }
      pushCallbacks(pending, at);
    }
  }

  /** The checks of one signature; an error names the field from this signature on. */
  private static void checkOwnFields(Signature s, Config config) {
    checkTaskUuid(s.uuid(), config, "");
    checkGroupUuid(s.groupUuid(), config, "");
    checkRoutingKey(s.routingKey(), config, "RoutingKey");
    checkName(s.name(), "");
  }

  /** Pushed last first, so that they are checked in Go's order of fields. */
  private static void pushCallbacks(ArrayDeque<Nested> pending, Nested at) {
    Signature s = at.signature;
    Signature callback = s.chordCallback();
    if (callback != null) {
      pending.push(new Nested(callback, at, "ChordCallback."));
    }
    for (int i = s.onError().size() - 1; i >= 0; i--) {
      pending.push(new Nested(s.onError().get(i), at, "OnError."));
    }
    for (int i = s.onSuccess().size() - 1; i >= 0; i--) {
      pending.push(new Nested(s.onSuccess().get(i), at, "OnSuccess."));
    }
  }

  /**
   * A signature met in {@link #checkTree}, with the way to it from the top. The path that names it
   * in an error ({@code OnSuccess.OnSuccess.UUID}) is built only when it is refused: a string per
   * signature would cost a chain time and memory by the square of its length.
   */
  private record Nested(Signature signature, @Nullable Nested parent, String field) {
    String path() {
      ArrayDeque<String> fields = new ArrayDeque<>();
      for (Nested n = this; n.parent != null; n = n.parent) {
        fields.push(n.field);
      }
      return String.join("", fields);
    }
  }

  private static void checkTaskUuid(String uuid, Config config, String path) {
    if (uuid.isEmpty()) {
      return;
    }
    if (config.strictUuids()) {
      if (!isTaskId(uuid)) {
        throw new IllegalArgumentException(
            path
                + "UUID "
                + quote(uuid)
                + " is not a Go Machinery task id (task_<uuid>, "
                + "chord_<uuid> or a UUID); a deployment with its own ids sets strict_uuids: false (MACHINERY_STRICT_UUIDS)");
      }
      return;
    }
    checkRelaxed(uuid, config, path + "UUID");
    checkNotAGroup(uuid, path);
  }

  /** A task UUID by the relaxed rules, whatever {@link Config#strictUuids()} says. */
  static void checkRelaxedTaskUuid(String uuid, Config config) {
    checkRelaxed(uuid, config, "UUID");
    checkNotAGroup(uuid, "");
  }

  private static void checkNotAGroup(String uuid, String path) {
    if (uuid.startsWith("group_")) {
      throw new IllegalArgumentException(
          path + "UUID " + quote(uuid) + " names a group, not a task");
    }
  }

  private static void checkGroupUuid(String uuid, Config config, String path) {
    if (uuid.isEmpty()) {
      return;
    }
    if (config.strictUuids()) {
      if (!isGroupId(uuid)) {
        throw new IllegalArgumentException(
            path
                + "GroupUUID "
                + quote(uuid)
                + " is not a Go Machinery group id "
                + "(group_<uuid> or a UUID); a deployment with its own ids sets strict_uuids: false (MACHINERY_STRICT_UUIDS)");
      }
      return;
    }
    checkRelaxed(uuid, config, path + "GroupUUID");
  }

  private static void checkRelaxed(String id, Config config, String field) {
    if (id.length() > MAX_RELAXED_ID_LENGTH) {
      throw new IllegalArgumentException(
          field
              + " of "
              + id.length()
              + " characters is longer than "
              + MAX_RELAXED_ID_LENGTH
              + ": "
              + quote(id));
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      if (Character.isISOControl(c) || Character.isWhitespace(c) || Character.isSpaceChar(c)) {
        throw new IllegalArgumentException(
            field + " " + quote(id) + " contains whitespace or a control character");
      }
    }
    if (reserved(id, config) || id.equals(config.defaultQueue()) || isDerivedKey(id)) {
      throw new IllegalArgumentException(field + " " + quote(id) + " names a reserved key");
    }
  }

  /**
   * Refuses a routing key or queue name that is too long for AMQP, holds a control character or
   * names a key that is not a queue; {@code label} starts the error ("RoutingKey", "queue").
   */
  static void checkRoutingKey(String key, Config config, String label) {
    if (key.isEmpty()) {
      return;
    }
    long bytes = Utf8.encodedLength(key);
    if (bytes > MAX_ROUTING_KEY_BYTES) {
      throw new IllegalArgumentException(
          label
              + " of "
              + bytes
              + " bytes is longer than "
              + MAX_ROUTING_KEY_BYTES
              + ": "
              + quote(key));
    }
    if (hasControl(key)) {
      throw new IllegalArgumentException(
          label + " " + quote(key) + " contains a control character");
    }
    if (reserved(key, config) || isAnyId(key) || isDerivedKey(key)) {
      throw new IllegalArgumentException(
          label + " " + quote(key) + " names a reserved key, not a queue");
    }
  }

  private static void checkName(String name, String path) {
    if (name.length() > MAX_NAME_LENGTH) {
      throw new IllegalArgumentException(
          path
              + "Name of "
              + name.length()
              + " characters is longer than "
              + MAX_NAME_LENGTH
              + ": "
              + quote(name));
    }
    if (hasControl(name)) {
      throw new IllegalArgumentException(
          path + "Name " + quote(name) + " contains a control character");
    }
  }

  private static boolean reserved(String key, Config config) {
    return key.equals(CHORD_MUTEX) || key.equals(config.redis().delayedTasksKey());
  }

  private static boolean hasControl(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (Character.isISOControl(s.charAt(i))) {
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------------------------------------ quoting

  /**
   * Go refuses a UTF-8 byte-order mark ("invalid character 'ï' looking for beginning of value") and
   * reads only UTF-8. Jackson would skip the mark and detect UTF-16/32 from NUL bytes among the
   * first four, so both are refused here (a NUL byte never appears in UTF-8 JSON text outside a
   * string, nor raw inside one).
   */
  static void checkStart(byte[] json) {
    if (json.length > 0 && (json[0] & 0xff) == 0xef) {
      throw new IllegalArgumentException(
          "invalid character 'ï' looking for beginning of value (a UTF-8 byte-order mark)");
    }
    for (int i = 0; i < Math.min(json.length, 4); i++) {
      int b = json[i] & 0xff;
      if (b == 0x00 || b == 0xfe || b == 0xff) {
        throw new IllegalArgumentException(
            String.format("invalid character '\\x%02x' at byte %d: not UTF-8 JSON", b, i));
      }
    }
  }

  /** A value quoted for an error text: at most 64 characters, control characters escaped. */
  static String quote(String value) {
    return "'" + LogText.of(value, 64) + "'";
  }

  /** The reason of a failure, bounded and escaped (it may quote the input). */
  static String reason(@Nullable String message) {
    return message == null ? "unknown error" : LogText.of(message, MAX_REASON_CHARS);
  }

  /**
   * The start of a message for error texts: at most {@value #PREVIEW_BYTES} bytes, escaped; a
   * longer one ends with {@code …(N bytes) sha256:<16 hex digits>}.
   */
  static String preview(byte[] json) {
    int end = Math.min(json.length, PREVIEW_BYTES);
    String text = LogText.of(new String(json, 0, end, StandardCharsets.UTF_8), Integer.MAX_VALUE);
    if (json.length <= PREVIEW_BYTES) {
      return text;
    }
    return text + "…(" + json.length + " bytes) sha256:" + sha256Prefix(json);
  }

  static String sha256Prefix(byte[] bytes) {
    return BodyPreview.sha256Hex(bytes).substring(0, 16);
  }
}
