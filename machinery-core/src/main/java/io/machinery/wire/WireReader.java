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
 * MalformedMessageException}s. Recursion follows the nesting of signatures only, which {@link
 * GoJson#FACTORY} bounds. Stateless and thread-safe.
 */
final class WireReader {
  private WireReader() {}

  static Signature signature(byte[] json) throws IOException {
    try (JsonParser in = GoJson.FACTORY.createParser(json)) {
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
   * Reads one signature object, streaming (the parser is at its START_OBJECT). Field names match
   * Go's case-insensitively; a later duplicate wins; unknown fields are skipped; null leaves the
   * zero value.
   */
  private static Signature readSignature(JsonParser in) throws IOException {
    Signature.Builder b = Signature.emptyBuilder();
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
        case "onsuccess" -> b.onSuccess(readSignatures(in, "OnSuccess"));
        case "onerror" -> b.onError(readSignatures(in, "OnError"));
        case "chordcallback" -> {
          expectObject(in, "ChordCallback");
          b.chordCallback(readSignature(in));
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
    return b.build();
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

  private static List<Signature> readSignatures(JsonParser in, String field) throws IOException {
    if (in.currentToken() != JsonToken.START_ARRAY) {
      throw new IllegalArgumentException(
          "json: cannot unmarshal "
              + kind(GoJson.readValue(in))
              + " into Go struct field Signature."
              + field);
    }
    List<Signature> out = new ArrayList<>();
    while (in.nextToken() != JsonToken.END_ARRAY) {
      if (in.currentToken() == JsonToken.VALUE_NULL) {
        out.add(Signature.emptyBuilder().build());
      } else {
        expectObject(in, field);
        out.add(readSignature(in));
      }
    }
    return out;
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
