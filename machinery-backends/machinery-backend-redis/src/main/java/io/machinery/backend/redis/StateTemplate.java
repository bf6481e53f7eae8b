package io.machinery.backend.redis;

import static io.machinery.client.redis.RedisArgs.bytes;

import io.machinery.MalformedMessageException;
import io.machinery.State;
import io.machinery.TaskState;
import io.machinery.wire.WireCodec;
import java.nio.charset.StandardCharsets;
import java.time.Month;
import java.time.Year;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * A state's Go JSON cut around its TaskName and CreatedAt values, so that the stored state's two
 * values can be spliced in as raw JSON (Go's mergeNewTaskState without re-encoding anything). The
 * JSON is WireCodec's (Go's key order), written for a state with Go's zero TaskName and CreatedAt,
 * as Go's constructors make every state after PENDING.
 */
record StateTemplate(byte[] head, byte[] middle, byte[] tail) {
  private static final byte[] GO_LAYOUT = bytes("{\"TaskUUID\":");
  private static final byte[] NAME = bytes("\"TaskName\":");
  private static final byte[] EMPTY_NAME = bytes("\"TaskName\":\"\"");
  private static final byte[] CREATED = bytes("\"CreatedAt\":");
  private static final byte[] ZERO_CREATED = bytes("\"CreatedAt\":\"0001-01-01T00:00:00Z\"");

  private static final byte[] SUCCESS_AFTER_NAME = bytes(",\"State\":\"SUCCESS\"");

  /**
   * The two raw JSON strings (quotes included) carried from a stored state into the next one, and
   * whether that state is SUCCESS.
   */
  record Carried(byte[] name, byte[] createdAt, boolean succeeded) {
    /** Go's zero values: no stored state, or one that cannot be read. */
    static final Carried ZERO =
        new Carried(bytes("\"\""), bytes("\"0001-01-01T00:00:00Z\""), false);
  }

  private static final String SAMPLE_UUID = "task_00000000-0000-0000-0000-000000000000";
  private static final byte[] HEAD_BEFORE_UUID;
  private static final byte[] HEAD_AFTER_UUID;

  /** The cut of the states whose JSON does not depend on the task beyond its UUID. */
  private static final java.util.Map<State, StateTemplate> PLAIN =
      new java.util.EnumMap<>(State.class);

  private static final StateTemplate PLAIN_EMPTY_SUCCESS;

  static {
    io.machinery.Signature sample = io.machinery.Signature.emptyBuilder().uuid(SAMPLE_UUID).build();
    for (TaskState state :
        new TaskState[] {
          TaskState.received(sample), TaskState.started(sample), TaskState.retry(sample)
        }) {
      PLAIN.put(state.state(), encode(state));
    }
    PLAIN_EMPTY_SUCCESS = encode(TaskState.success(sample, java.util.List.of()));
    byte[] head = PLAIN_EMPTY_SUCCESS.head();
    byte[] uuid = bytes(SAMPLE_UUID);
    int at = indexOf(head, uuid, 0);
    HEAD_BEFORE_UUID = Arrays.copyOfRange(head, 0, at);
    HEAD_AFTER_UUID = Arrays.copyOfRange(head, at + uuid.length, head.length);
  }

  /**
   * The cut JSON of {@code state}, whose TaskName must be empty and CreatedAt Go's zero time (as
   * Go's constructors make every state after PENDING). RECEIVED, STARTED, RETRY and a SUCCESS
   * without results differ from one task to the next only in the UUID, so theirs is assembled from
   * WireCodec's output for a sample state (no JSON encoding per write); anything else is encoded.
   *
   * @throws IllegalArgumentException when the state has a TaskName or CreatedAt of its own
   */
  static StateTemplate of(TaskState state) {
    if (!state.taskName().isEmpty() || !state.createdAt().equals(TaskState.ZERO_TIME)) {
      throw new IllegalArgumentException(
          "a merged state takes TaskName and CreatedAt from the stored one: " + state);
    }
    StateTemplate plain =
        state.ttl() != 0 || !state.error().isEmpty()
            ? null
            : state.state() == State.SUCCESS
                ? (state.results().isEmpty() ? PLAIN_EMPTY_SUCCESS : null)
                : PLAIN.get(state.state());
    if (plain != null && isPlain(state.taskUuid())) {
      byte[] uuid = bytes(state.taskUuid());
      byte[] head = new byte[HEAD_BEFORE_UUID.length + uuid.length + HEAD_AFTER_UUID.length];
      System.arraycopy(HEAD_BEFORE_UUID, 0, head, 0, HEAD_BEFORE_UUID.length);
      System.arraycopy(uuid, 0, head, HEAD_BEFORE_UUID.length, uuid.length);
      System.arraycopy(
          HEAD_AFTER_UUID, 0, head, HEAD_BEFORE_UUID.length + uuid.length, HEAD_AFTER_UUID.length);
      return new StateTemplate(head, plain.middle(), plain.tail());
    }
    return encode(state);
  }

  /**
   * Whether Go's encoder writes {@code uuid} verbatim (no escapes): task_/group_/chord_ + hex and
   * dashes, and the like.
   */
  private static boolean isPlain(String uuid) {
    if (uuid.isEmpty() || uuid.length() > 200) {
      return false;
    }
    for (int i = 0; i < uuid.length(); i++) {
      char c = uuid.charAt(i);
      if (!(c >= 'a' && c <= 'z'
          || c >= 'A' && c <= 'Z'
          || c >= '0' && c <= '9'
          || c == '_'
          || c == '-'
          || c == '.'
          || c == ':')) {
        return false;
      }
    }
    return true;
  }

  private static StateTemplate encode(TaskState state) {
    byte[] json = WireCodec.encode(state);
    int name = indexOf(json, EMPTY_NAME, 0);
    int created = lastIndexOf(json, ZERO_CREATED);
    if (name < 0 || created < 0 || created < name) {
      throw new IllegalStateException(
          "unexpected state JSON layout: " + new String(json, StandardCharsets.UTF_8));
    }
    return new StateTemplate(
        Arrays.copyOfRange(json, 0, name + NAME.length),
        Arrays.copyOfRange(json, name + EMPTY_NAME.length, created + CREATED.length),
        Arrays.copyOfRange(json, created + ZERO_CREATED.length, json.length));
  }

  /** The state's JSON with the carried values in place. */
  byte[] with(Carried carried) {
    byte[] out =
        new byte
            [head.length
                + carried.name().length
                + middle.length
                + carried.createdAt().length
                + tail.length];
    int at = 0;
    for (byte[] part : new byte[][] {head, carried.name(), middle, carried.createdAt(), tail}) {
      System.arraycopy(part, 0, out, at, part.length);
      at += part.length;
    }
    return out;
  }

  /**
   * What a new state carries from the stored one ({@code null}: none): its TaskName and CreatedAt
   * as raw JSON. In Go's layout they are found by position (TaskName is the first such key, before
   * Results; CreatedAt the last, after them; a key followed by ':' cannot occur inside a string
   * value, where quotes are escaped); any other layout is decoded as Go would; an unreadable state
   * (not JSON, or a CreatedAt that is not a time) carries nothing, as in Go.
   */
  static Carried carried(byte @Nullable [] stored) {
    if (stored == null) {
      return Carried.ZERO;
    }
    if (startsWith(stored, GO_LAYOUT)) {
      int nameAt = indexOf(stored, NAME, 0);
      byte[] name = token(stored, nameAt, NAME.length);
      byte[] created = token(stored, lastIndexOf(stored, CREATED), CREATED.length);
      if (name != null && created != null && !isTime(created)) {
        return Carried.ZERO; // Go cannot read it either; carried, it would spoil the new state
      }
      if (name != null && created != null) {
        int stateAt = nameAt + NAME.length + name.length;
        return new Carried(name, created, regionEquals(stored, stateAt, SUCCESS_AFTER_NAME));
      }
    }
    try {
      TaskState old = WireCodec.decodeTaskState(stored);
      TaskState sample =
          TaskState.of("", old.taskName(), State.PENDING, null, "", old.createdAt(), 0);
      byte[] json = WireCodec.encode(sample);
      byte[] name = token(json, indexOf(json, NAME, 0), NAME.length);
      byte[] created = token(json, lastIndexOf(json, CREATED), CREATED.length);
      return name != null && created != null
          ? new Carried(name, created, old.state() == State.SUCCESS)
          : Carried.ZERO; // our own encoding has both
    } catch (MalformedMessageException e) {
      return Carried.ZERO;
    }
  }

  /**
   * Whether a raw JSON string (quotes included) is a time Go and Java both read: RFC 3339 with
   * seconds, at most nine fraction digits, {@code Z} or an offset within java.time's ±18:00, a day
   * its month has; the rules of the scripts' {@code validTime} ({@link BackendScripts}). Read byte
   * by byte: a chain's read checks one per task, and parsing it with java.time (which also took
   * times Go does not read, such as one without seconds) cost 2-4 µs and a few objects a read,
   * against well under 0.1 µs (issue #18; measured in a loop, not with JMH).
   */
  private static boolean isTime(byte[] token) {
    int n = token.length;
    if (n < 22
        || n > 37
        || token[0] != '"'
        || token[n - 1] != '"'
        || token[5] != '-'
        || token[8] != '-'
        || token[11] != 'T'
        || token[14] != ':'
        || token[17] != ':') {
      return false;
    }
    int year = digits(token, 1, 4);
    int month = digits(token, 6, 2);
    int day = digits(token, 9, 2);
    int hour = digits(token, 12, 2);
    int minute = digits(token, 15, 2);
    int second = digits(token, 18, 2);
    if (year < 0
        || month < 1
        || month > 12
        || day < 1
        || day > Month.of(month).length(Year.isLeap(year))
        || hour < 0
        || hour > 23
        || minute < 0
        || minute > 59
        || second < 0
        || second > 59) {
      return false;
    }
    int at = 20;
    if (token[at] == '.') {
      int fraction = at + 1;
      do {
        at++;
      } while (token[at] >= '0' && token[at] <= '9'); // stops at the closing quote at the latest
      if (at == fraction || at - fraction > 9) {
        return false;
      }
    }
    if (at == n - 2) {
      return token[at] == 'Z';
    }
    if (at != n - 7 || token[at] != '+' && token[at] != '-' || token[at + 3] != ':') {
      return false;
    }
    int offsetHours = digits(token, at + 1, 2);
    int offsetMinutes = digits(token, at + 4, 2);
    return offsetHours >= 0
        && offsetMinutes >= 0
        && offsetMinutes <= 59
        && (offsetHours < 18 || offsetHours == 18 && offsetMinutes == 0);
  }

  /** The decimal number of {@code width} digits at {@code at}, or -1 if one is not a digit. */
  private static int digits(byte[] json, int at, int width) {
    int value = 0;
    for (int i = at; i < at + width; i++) {
      int digit = json[i] - '0';
      if (digit < 0 || digit > 9) {
        return -1;
      }
      value = value * 10 + digit;
    }
    return value;
  }

  private static boolean regionEquals(byte[] json, int at, byte[] expected) {
    return at + expected.length <= json.length
        && Arrays.equals(json, at, at + expected.length, expected, 0, expected.length);
  }

  /**
   * The JSON string token after the key at {@code keyAt} (quotes included), or null if it is not a
   * string.
   */
  private static byte @Nullable [] token(byte[] json, int keyAt, int keyLength) {
    if (keyAt < 0) {
      return null;
    }
    int start = keyAt + keyLength;
    if (start >= json.length || json[start] != '"') {
      return null;
    }
    for (int i = start + 1; i < json.length; i++) {
      if (json[i] == '\\') {
        i++;
      } else if (json[i] == '"') {
        return Arrays.copyOfRange(json, start, i + 1);
      }
    }
    return null;
  }

  private static boolean startsWith(byte[] bytes, byte[] prefix) {
    return bytes.length >= prefix.length
        && Arrays.equals(bytes, 0, prefix.length, prefix, 0, prefix.length);
  }

  private static int indexOf(byte[] haystack, byte[] needle, int from) {
    outer:
    for (int i = from; i <= haystack.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  private static int lastIndexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = haystack.length - needle.length; i >= 0; i--) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
