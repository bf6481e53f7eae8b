package io.machinery.wire;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.machinery.Arg;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.internal.GoJson;
import io.machinery.spi.GroupMeta;
import java.io.IOException;
import java.math.BigInteger;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The reading half of {@link WireCodec}: Go's JSON into signatures (streaming), task states and
 * group metas (through a plain tree). Throws {@link IOException} or {@link RuntimeException} with
 * Go's texts where Go has one; {@link WireCodec} turns them into {@link
 * MalformedMessageException}s. Stateless and thread-safe.
 *
 * <p>Design notes. A task message nests as deep as Go's decoder admits ({@link
 * GoJson#MAX_MESSAGE_DEPTH}: a chain of 4,999 tasks), so signatures are read without recursion: the
 * signatures still open form a linked stack on the heap ({@code Open}), and a worker's stack, a
 * virtual thread's included, holds one frame whatever the chain's length. Values (arguments,
 * headers) are read by {@link GoJson#readValue}, iterative too and bounded by {@link
 * GoJson#MAX_NESTING_DEPTH} each, which keeps the recursive walks over them safe.
 */
final class WireReader {
  private WireReader() {}

  static Signature signature(byte[] json) throws IOException {
    try (JsonParser in = GoJson.MESSAGE_FACTORY.createParser(json)) {
      JsonToken first = in.nextToken();
      if (first == null) {
        throw new IOException("unexpected end of JSON input");
      }
      if (first != JsonToken.START_OBJECT) {
        throw new IllegalArgumentException(
            "json: cannot unmarshal "
                + kind(GoJson.readValue(in))
                + " into Go value of type tasks.Signature");
      }
      Signature signature = readSignature(in);
      if (in.nextToken() != null) {
        throw new IOException("invalid character after top-level value");
      }
      return signature;
    }
  }

  /**
   * A signature being read: its builder, and the callback list being filled or the chord callback
   * awaited when a nested signature is open below it.
   */
  private static final class Open {
    final Signature.Builder builder = Signature.emptyBuilder();
    final @Nullable Open parent;

    /** The {@code OnSuccess} or {@code OnError} elements read so far, while in that array. */
    @Nullable List<Signature> list;

    /** Which array {@link #list} is: Go's field name, "OnSuccess" or "OnError". */
    String listField = "";

    Open(@Nullable Open parent) {
      this.parent = parent;
    }

    /** Takes a nested signature that ended: an element of the list, or the chord callback. */
    void received(Signature nested) {
      if (list != null) {
        list.add(nested);
      } else {
        builder.chordCallback(nested);
      }
    }

    /** The array ended: its elements become the field. */
    void listEnded() {
      if (listField.equals("OnSuccess")) {
        builder.onSuccess(list);
      } else {
        builder.onError(list);
      }
      list = null;
    }
  }

  /**
   * Reads one signature object and every signature nested in it, streaming, without recursion (the
   * parser is at its START_OBJECT). Field names match Go's case-insensitively; a later duplicate
   * wins; unknown fields are skipped; null leaves the zero value.
   */
  private static Signature readSignature(JsonParser in) throws IOException {
    Open open = new Open(null);
    while (true) {
      if ((open.list != null && readElements(in, open)) || readFields(in, open)) {
        open = new Open(open); // the parser is at a nested signature's START_OBJECT
        continue;
      }
      Signature done = open.builder.build();
      Open parent = open.parent;
      if (parent == null) {
        return done;
      }
      parent.received(done);
      open = parent;
    }
  }

  /**
   * Reads fields of {@code open}'s object: true when a nested signature starts (the parser is at
   * its START_OBJECT), false at the end of the object.
   */
  private static boolean readFields(JsonParser in, Open open) throws IOException {
    Signature.Builder b = open.builder;
    while (in.nextToken() == JsonToken.FIELD_NAME) {
      String field = folded(in.currentName());
      JsonToken token = in.nextToken();
      if (token == JsonToken.VALUE_NULL) {
        nullField(b, field);
        continue;
      }
      switch (field) {
        case "uuid" -> b.uuid(text(in, "UUID"));
        case "name" -> b.name(text(in, "Name"));
        case "routingkey" -> b.routingKey(text(in, "RoutingKey"));
        case "eta" -> b.eta(parseTime(text(in, "ETA")));
        case "groupuuid" -> b.groupUuid(text(in, "GroupUUID"));
        case "grouptaskcount" -> b.groupTaskCount(saturated(number(in, "GroupTaskCount")));
        case "args" -> b.args(readArgs(in));
        case "headers" -> {
          if (token != JsonToken.START_OBJECT) {
            throw new IllegalArgumentException(
                "json: cannot unmarshal "
                    + kind(GoJson.readValue(in))
                    + " into Go struct field Signature.Headers of type tasks.Headers");
          }
          @SuppressWarnings("unchecked")
          Map<String, @Nullable Object> headers =
              (Map<String, @Nullable Object>) GoJson.readValue(in);
          b.headers(headers);
        }
        case "priority" -> {
          long priority = number(in, "Priority");
          if (priority < 0 || priority > 255) {
            throw new IllegalArgumentException(
                "json: cannot unmarshal number "
                    + priority
                    + " into Go struct field Signature.Priority of type uint8");
          }
          b.priority((int) priority);
        }
        case "immutable" -> b.immutable(flag(in, "Immutable"));
        case "retrycount" -> b.retryCount(Math.max(0, saturated(number(in, "RetryCount"))));
        case "retrytimeout" -> b.retryTimeout(Math.max(0, saturated(number(in, "RetryTimeout"))));
        case "onsuccess", "onerror" -> {
          String goField = field.equals("onsuccess") ? "OnSuccess" : "OnError";
          if (token != JsonToken.START_ARRAY) {
            throw new IllegalArgumentException(
                "json: cannot unmarshal "
                    + kind(GoJson.readValue(in))
                    + " into Go struct field Signature."
                    + goField);
          }
          open.list = new ArrayList<>();
          open.listField = goField;
          if (readElements(in, open)) {
            return true;
          }
        }
        case "chordcallback" -> {
          expectObject(in, "ChordCallback");
          return true;
        }
        case "brokermessagegroupid" -> b.brokerMessageGroupId(text(in, "BrokerMessageGroupId"));
        case "sqsreceipthandle" -> b.sqsReceiptHandle(text(in, "SQSReceiptHandle"));
        case "stoptaskdeletiononerror" ->
            b.stopTaskDeletionOnError(flag(in, "StopTaskDeletionOnError"));
        case "ignorewhentasknotregistered" ->
            b.ignoreWhenTaskNotRegistered(flag(in, "IgnoreWhenTaskNotRegistered"));
        default -> in.skipChildren();
      }
    }
    return false;
  }

  /**
   * Reads elements of the {@code OnSuccess} or {@code OnError} array {@code open} is in: true when
   * one is a signature (the parser is at its START_OBJECT), false at the end of the array, which
   * then becomes the field.
   */
  private static boolean readElements(JsonParser in, Open open) throws IOException {
    List<Signature> list = java.util.Objects.requireNonNull(open.list);
    while (in.nextToken() != JsonToken.END_ARRAY) {
      if (in.currentToken() == JsonToken.VALUE_NULL) {
        list.add(Signature.emptyBuilder().build());
      } else {
        expectObject(in, open.listField);
        return true;
      }
    }
    open.listEnded();
    return false;
  }

  /**
   * Go's field names as Go writes them, folded to lower case: Go matches JSON keys to fields
   * without regard to case, so this reader switches on folded names, and a message as Go (or this
   * library) writes it needs no {@code toLowerCase} per key (about 2% of a no-op task's CPU).
   */
  private static final Map<String, String> GO_NAMES_FOLDED = goNamesFolded();

  private static Map<String, String> goNamesFolded() {
    Map<String, String> names = new HashMap<>();
    for (String name :
        List.of(
            "UUID",
            "Name",
            "RoutingKey",
            "ETA",
            "GroupUUID",
            "GroupTaskCount",
            "Args",
            "Headers",
            "Priority",
            "Immutable",
            "RetryCount",
            "RetryTimeout",
            "OnSuccess",
            "OnError",
            "ChordCallback",
            "BrokerMessageGroupId",
            "SQSReceiptHandle",
            "StopTaskDeletionOnError",
            "IgnoreWhenTaskNotRegistered",
            "Type",
            "Value")) {
      names.put(name, name.toLowerCase(Locale.ROOT));
    }
    return Map.copyOf(names);
  }

  private static String folded(String field) {
    String known = GO_NAMES_FOLDED.get(field);
    return known != null ? known : field.toLowerCase(Locale.ROOT);
  }

  /** Go leaves a field at its zero value for null; pointer and slice fields become nil. */
  private static void nullField(Signature.Builder b, String field) {
    switch (field) {
      case "eta" -> b.eta((OffsetDateTime) null);
      case "args" -> b.args((List<Arg>) null);
      case "headers" -> b.headers(null);
      case "onsuccess" -> b.onSuccess((List<Signature>) null);
      case "onerror" -> b.onError((List<Signature>) null);
      case "chordcallback" -> b.chordCallback(null);
      default -> {}
    }
  }

  private static List<Arg> readArgs(JsonParser in) throws IOException {
    if (in.currentToken() != JsonToken.START_ARRAY) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal "
              + kind(GoJson.readValue(in))
              + " into Go struct field Signature.Args of type []tasks.Arg");
    }
    List<Arg> args = new ArrayList<>();
    while (in.nextToken() != JsonToken.END_ARRAY) {
      if (in.currentToken() == JsonToken.VALUE_NULL) {
        args.add(Arg.named("", "", null));
        continue;
      }
      expectObject(in, "Args");
      String name = "";
      String type = "";
      Object value = null;
      while (in.nextToken() == JsonToken.FIELD_NAME) {
        String field = folded(in.currentName());
        JsonToken token = in.nextToken();
        switch (field) {
          case "name" -> name = token == JsonToken.VALUE_NULL ? "" : text(in, "Arg.Name");
          case "type" -> type = token == JsonToken.VALUE_NULL ? "" : text(in, "Arg.Type");
          case "value" -> value = GoJson.readValue(in);
          default -> in.skipChildren();
        }
      }
      args.add(Arg.named(name, type, value));
    }
    return args;
  }

  private static void expectObject(JsonParser in, String field) throws IOException {
    if (in.currentToken() != JsonToken.START_OBJECT) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal "
              + kind(GoJson.readValue(in))
              + " into Go struct field "
              + field
              + " of type tasks.Signature");
    }
  }

  private static String text(JsonParser in, String field) throws IOException {
    if (in.currentToken() != JsonToken.VALUE_STRING) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal "
              + kind(GoJson.readValue(in))
              + " into Go struct field Signature."
              + field
              + " of type string");
    }
    return in.getText();
  }

  private static boolean flag(JsonParser in, String field) throws IOException {
    JsonToken token = in.currentToken();
    if (token != JsonToken.VALUE_TRUE && token != JsonToken.VALUE_FALSE) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal "
              + kind(GoJson.readValue(in))
              + " into Go struct field Signature."
              + field
              + " of type bool");
    }
    return token == JsonToken.VALUE_TRUE;
  }

  /**
   * A Go {@code int} (64 bits) as a Java {@code int}, saturated: Go accepts RetryCount,
   * RetryTimeout and GroupTaskCount up to 2^63-1, so a message with {@code "RetryCount":
   * 9223372036854775807} ("retry forever") must run, not be refused. Beyond 2^31-1 each means the
   * same in practice: more retries, seconds (68 years) or group members than can ever happen.
   */
  private static int saturated(long value) {
    return Math.clamp(value, Integer.MIN_VALUE, Integer.MAX_VALUE);
  }

  private static long number(JsonParser in, String field) throws IOException {
    if (in.currentToken() != JsonToken.VALUE_NUMBER_INT) {
      Object value = GoJson.readValue(in);
      throw new IllegalArgumentException(
          "json: cannot unmarshal "
              + (value instanceof Number ? "number " + value : kind(value))
              + " into Go struct field Signature."
              + field
              + " of type int");
    }
    JsonParser.NumberType type = in.getNumberType();
    if (type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG) {
      return in.getLongValue(); // no BigInteger for the common case (four fields per message)
    }
    BigInteger big = in.getBigIntegerValue();
    if (big.bitLength() > 63) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal number "
              + big
              + " into Go struct field Signature."
              + field
              + " of type int");
    }
    return big.longValue();
  }

  static TaskState taskState(byte[] json) throws IOException {
    Map<String, @Nullable Object> m = object(readDocument(json), "tasks.TaskState");
    String state = string(m, "state");
    State parsed;
    try {
      parsed = State.valueOf(state);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown task state " + WireChecks.quote(state));
    }
    Object results = m.get("results");
    return TaskState.of(
        string(m, "taskuuid"),
        string(m, "taskname"),
        parsed,
        results == null ? null : results(results),
        string(m, "error"),
        time(m, "createdat"),
        integer(m, "ttl"));
  }

  static GroupMeta groupMeta(byte[] json) throws IOException {
    Map<String, @Nullable Object> m = object(readDocument(json), "tasks.GroupMeta");
    List<String> uuids = new ArrayList<>();
    Object list = m.get("taskuuids");
    if (list != null) {
      if (!(list instanceof List<?> items)) {
        throw new IllegalArgumentException("TaskUUIDs is not a list");
      }
      for (Object item : items) {
        uuids.add(item == null ? "" : requireString(item, "TaskUUIDs"));
      }
    }
    return GroupMeta.of(
        string(m, "groupuuid"),
        uuids,
        bool(m, "chordtriggered"),
        bool(m, "lock"),
        time(m, "createdat"),
        integer(m, "ttl"));
  }

  static @Nullable Object readDocument(byte[] json) throws IOException {
    WireChecks.checkStart(json);
    try (JsonParser in = GoJson.FACTORY.createParser(json)) {
      if (in.nextToken() == null) {
        throw new IOException("unexpected end of JSON input");
      }
      Object value = GoJson.readValue(in);
      if (in.nextToken() != null) {
        throw new IOException("invalid character after top-level value");
      }
      return value;
    }
  }

  static List<TaskResult> results(@Nullable Object value) {
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof List<?> items)) {
      throw new IllegalArgumentException("Results is not a list");
    }
    List<TaskResult> out = new ArrayList<>(items.size());
    for (Object item : items) {
      Map<String, @Nullable Object> r = item == null ? Map.of() : object(item, "tasks.TaskResult");
      out.add(TaskResult.of(string(r, "type"), r.get("value")));
    }
    return out;
  }

  /**
   * Keys folded to lower case; Go matches field names case-insensitively and the last duplicate
   * wins.
   */
  private static Map<String, @Nullable Object> folded(Map<?, ?> raw) {
    Map<String, @Nullable Object> out = new HashMap<>(raw.size() * 2);
    for (Map.Entry<?, ?> e : raw.entrySet()) {
      out.put(String.valueOf(e.getKey()).toLowerCase(Locale.ROOT), e.getValue());
    }
    return out;
  }

  private static Map<String, @Nullable Object> object(@Nullable Object value, String goType) {
    if (!(value instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal " + kind(value) + " into Go value of type " + goType);
    }
    return folded(map);
  }

  private static String string(Map<String, @Nullable Object> m, String key) {
    Object v = m.get(key);
    return v == null ? "" : requireString(v, key);
  }

  private static String requireString(Object v, String key) {
    if (!(v instanceof String s)) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal " + kind(v) + " into field " + key + " of type string");
    }
    return s;
  }

  private static boolean bool(Map<String, @Nullable Object> m, String key) {
    Object v = m.get(key);
    if (v == null) {
      return false;
    }
    if (!(v instanceof Boolean b)) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal " + kind(v) + " into field " + key + " of type bool");
    }
    return b;
  }

  private static long integer(Map<String, @Nullable Object> m, String key) {
    Object v = m.get(key);
    if (v == null) {
      return 0;
    }
    if (v instanceof Long l) {
      return l;
    }
    throw new IllegalArgumentException(
        "json: cannot unmarshal "
            + (v instanceof Number ? "number " + v : kind(v))
            + " into field "
            + key
            + " of type int64");
  }

  private static OffsetDateTime time(Map<String, @Nullable Object> m, String key) {
    Object v = m.get(key);
    return v == null ? TaskState.ZERO_TIME : parseTime(requireString(v, key));
  }

  private static OffsetDateTime parseTime(String text) {
    try {
      return GoJson.parseTime(text);
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException(
          "parsing time \"" + text + "\" as RFC 3339: " + e.getMessage(), e);
    }
  }

  private static String kind(@Nullable Object value) {
    if (value == null) return "null";
    if (value instanceof String) return "string";
    if (value instanceof Boolean) return "bool";
    if (value instanceof Long || value instanceof BigInteger || value instanceof Double)
      return "number";
    if (value instanceof List) return "array";
    return "object";
  }
}
