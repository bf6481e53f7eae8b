package io.machinery;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.machinery.config.Config;
import io.machinery.internal.GoJson;
import io.machinery.spi.GroupMeta;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The JSON wire format of Go Machinery v2 (spec §1): task messages, task states and group metadata.
 *
 * <p>Encoding writes byte for byte what Go's {@code encoding/json} writes: every key in Go's order and
 * spelling, {@code null} for absent lists, integers as integers, RFC 3339 times with nanoseconds, {@code
 * []uint8} as base64, {@code <>&} escaped. Decoding accepts anything Go may write: keys match
 * case-insensitively, unknown keys are ignored, {@code null} leaves a field at its zero value, and numbers are
 * kept exact (uint64 beyond {@code Long}) to be read by their declared type later.
 *
 * <p>Decoding also survives hostile input (reliability review F1, F16): documents nest at most {@value
 * GoJson#MAX_NESTING_DEPTH} levels, number tokens have at most {@value GoJson#MAX_NUMBER_LENGTH} characters,
 * keys at most {@value GoJson#MAX_NAME_LENGTH}; a task message is at most {@link Config#maxMessageBytes()}
 * bytes and its ids and routing keys are checked ({@code WireChecks}). Bytes that are not UTF-8 and a
 * byte-order mark are refused (Go refuses the mark too; it would replace bad bytes by U+FFFD). Every failure is
 * a {@link MalformedMessageException} quoting at most 512 bytes of the input, escaped, with a SHA-256 prefix.
 *
 * <p>Thread-safe; all methods are static. Brokers and backends of every module use this one codec.
 */
public final class WireCodec {
  private WireCodec() {}

  // ---------------------------------------------------------------------------------------------- encoding

  /** The Go JSON of a task message. */
  public static byte[] encode(Signature signature) {
    return write(out -> writeSignature(out, signature));
  }

  /** The Go JSON of a task state. */
  public static byte[] encode(TaskState state) {
    return write(out -> writeState(out, state));
  }

  /** The Go JSON of group metadata. */
  public static byte[] encode(GroupMeta meta) {
    return write(
        out -> {
          out.writeStartObject();
          out.writeStringField("GroupUUID", meta.groupUuid());
          out.writeFieldName("TaskUUIDs");
          out.writeStartArray();
          for (String uuid : meta.taskUuids()) {
            out.writeString(uuid);
          }
          out.writeEndArray();
          out.writeBooleanField("ChordTriggered", meta.chordTriggered());
          out.writeBooleanField("Lock", meta.lock());
          out.writeStringField("CreatedAt", GoJson.formatTime(meta.createdAt()));
          out.writeNumberField("TTL", meta.ttl());
          out.writeEndObject();
        });
  }

  /** The Go JSON of a list of results ({@code [{"Type":..,"Value":..}]}), as stored inside states. */
  public static byte[] encodeResults(List<TaskResult> results) {
    return write(out -> writeResults(out, results));
  }

  private interface Writer {
    void write(JsonGenerator out) throws IOException;
  }

  private static byte[] write(Writer writer) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(512);
    try (JsonGenerator out = GoJson.FACTORY.createGenerator(bytes)) {
      writer.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static void writeSignature(JsonGenerator out, Signature s) throws IOException {
    out.writeStartObject();
    out.writeStringField("UUID", s.uuid());
    out.writeStringField("Name", s.name());
    out.writeStringField("RoutingKey", s.routingKey());
    OffsetDateTime eta = s.eta();
    if (eta == null) {
      out.writeNullField("ETA");
    } else {
      out.writeStringField("ETA", GoJson.formatTime(eta));
    }
    out.writeStringField("GroupUUID", s.groupUuid());
    out.writeNumberField("GroupTaskCount", s.groupTaskCount());
    out.writeFieldName("Args");
    if (!s.hasArgs()) {
      out.writeNull();
    } else {
      out.writeStartArray();
      for (Arg arg : s.args()) {
        out.writeStartObject();
        out.writeStringField("Name", arg.name());
        out.writeStringField("Type", arg.type());
        out.writeFieldName("Value");
        GoJson.writeValue(out, arg.value(), arg.type());
        out.writeEndObject();
      }
      out.writeEndArray();
    }
    out.writeFieldName("Headers");
    if (!s.hasHeaders()) {
      out.writeNull();
    } else {
      GoJson.writeValue(out, s.headers(), null);
    }
    out.writeNumberField("Priority", s.priority());
    out.writeBooleanField("Immutable", s.immutable());
    out.writeNumberField("RetryCount", s.retryCount());
    out.writeNumberField("RetryTimeout", s.retryTimeout());
    writeSignatures(out, "OnSuccess", s.hasOnSuccess() ? s.onSuccess() : null);
    writeSignatures(out, "OnError", s.hasOnError() ? s.onError() : null);
    out.writeFieldName("ChordCallback");
    Signature callback = s.chordCallback();
    if (callback == null) {
      out.writeNull();
    } else {
      writeSignature(out, callback);
    }
    out.writeStringField("BrokerMessageGroupId", s.brokerMessageGroupId());
    out.writeStringField("SQSReceiptHandle", s.sqsReceiptHandle());
    out.writeBooleanField("StopTaskDeletionOnError", s.stopTaskDeletionOnError());
    out.writeBooleanField("IgnoreWhenTaskNotRegistered", s.ignoreWhenTaskNotRegistered());
    out.writeEndObject();
  }

  private static void writeSignatures(JsonGenerator out, String field, @Nullable List<Signature> list)
      throws IOException {
    out.writeFieldName(field);
    if (list == null) {
      out.writeNull();
      return;
    }
    out.writeStartArray();
    for (Signature s : list) {
      writeSignature(out, s);
    }
    out.writeEndArray();
  }

  private static void writeState(JsonGenerator out, TaskState state) throws IOException {
    out.writeStartObject();
    out.writeStringField("TaskUUID", state.taskUuid());
    out.writeStringField("TaskName", state.taskName());
    out.writeStringField("State", state.state().name());
    out.writeFieldName("Results");
    if (!state.hasResults()) {
      out.writeNull();
    } else {
      writeResults(out, state.results());
    }
    out.writeStringField("Error", state.error());
    out.writeStringField("CreatedAt", GoJson.formatTime(state.createdAt()));
    out.writeNumberField("TTL", state.ttl());
    out.writeEndObject();
  }

  private static void writeResults(JsonGenerator out, List<TaskResult> results) throws IOException {
    out.writeStartArray();
    for (TaskResult result : results) {
      out.writeStartObject();
      out.writeStringField("Type", result.type());
      out.writeFieldName("Value");
      GoJson.writeValue(out, result.value(), result.type());
      out.writeEndObject();
    }
    out.writeEndArray();
  }

  // ---------------------------------------------------------------------------------------------- decoding

  /**
   * Reads a task message with the default checks ({@link Config#DEFAULT}: strict ids, at most {@value
   * Config#DEFAULT_MAX_MESSAGE_BYTES} bytes); see {@link #decodeSignature(byte[], Config)}.
   *
   * @throws MalformedMessageException with Go's text when the bytes are not an acceptable task message
   */
  public static Signature decodeSignature(byte[] json) {
    return decodeSignature(json, Config.DEFAULT);
  }

  /**
   * Reads a task message, refusing what a hostile producer could use to stop or misdirect a worker: more
   * than {@link Config#maxMessageBytes()} bytes, nesting deeper than {@value GoJson#MAX_NESTING_DEPTH}, number
   * tokens longer than {@value GoJson#MAX_NUMBER_LENGTH} characters, keys longer than {@value
   * GoJson#MAX_NAME_LENGTH}, bytes that are not UTF-8, a byte-order mark (as Go), and ids or routing keys
   * that could name keys other than task states and queues (see {@link Config#strictUuids()}). Each failure is
   * a {@link MalformedMessageException} whose text quotes at most 512 bytes of the message, escaped; nothing
   * else escapes, not even a {@link StackOverflowError}.
   *
   * @throws MalformedMessageException with Go's text ({@code Could not unmarshal '<msg>' into a task
   *     signature: <reason>}) when the bytes are not an acceptable task message
   */
  public static Signature decodeSignature(byte[] json, Config config) {
    try {
      if (json.length > config.maxMessageBytes()) {
        throw new IllegalArgumentException("message of " + json.length + " bytes is over the limit of "
            + config.maxMessageBytes() + " bytes (max_message_bytes)");
      }
      WireChecks.checkStart(json);
      Signature signature = parseSignature(json);
      WireChecks.checkSignature(signature, config);
      return signature;
    } catch (IOException | RuntimeException | StackOverflowError e) {
      throw malformed(json, "a task signature", e);
    }
  }

  private static Signature parseSignature(byte[] json) throws IOException {
    try (JsonParser in = GoJson.FACTORY.createParser(json)) {
      JsonToken first = in.nextToken();
      if (first == null) {
        throw new IOException("unexpected end of JSON input");
      }
      if (first != JsonToken.START_OBJECT) {
        throw new IllegalArgumentException(
            "json: cannot unmarshal " + kind(GoJson.readValue(in)) + " into Go value of type tasks.Signature");
      }
      Signature signature = readSignature(in);
      if (in.nextToken() != null) {
        throw new IOException("invalid character after top-level value");
      }
      return signature;
    }
  }

  /**
   * The exception for bytes that did not decode. A {@link StackOverflowError} is not kept as the cause: its
   * trace would be thousands of lines in a log.
   */
  private static MalformedMessageException malformed(byte[] json, String what, Throwable e) {
    String text = "Could not unmarshal '" + WireChecks.preview(json) + "' into " + what + ": " + reason(e);
    return e instanceof StackOverflowError ? new MalformedMessageException(text) : new MalformedMessageException(text, e);
  }

  /**
   * Reads one signature object, streaming (the parser is at its START_OBJECT). Field names match Go's
   * case-insensitively; a later duplicate wins; unknown fields are skipped; null leaves the zero value.
   */
  private static Signature readSignature(JsonParser in) throws IOException {
    Signature.Builder b = Signature.emptyBuilder();
    while (in.nextToken() == JsonToken.FIELD_NAME) {
      String field = in.currentName().toLowerCase(Locale.ROOT);
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
        case "grouptaskcount" -> b.groupTaskCount(Math.toIntExact(number(in, "GroupTaskCount")));
        case "args" -> b.args(readArgs(in));
        case "headers" -> {
          if (token != JsonToken.START_OBJECT) {
            throw new IllegalArgumentException("json: cannot unmarshal " + kind(GoJson.readValue(in))
                + " into Go struct field Signature.Headers of type tasks.Headers");
          }
          @SuppressWarnings("unchecked")
          Map<String, @Nullable Object> headers = (Map<String, @Nullable Object>) GoJson.readValue(in);
          b.headers(headers);
        }
        case "priority" -> {
          long priority = number(in, "Priority");
          if (priority < 0 || priority > 255) {
            throw new IllegalArgumentException("json: cannot unmarshal number " + priority
                + " into Go struct field Signature.Priority of type uint8");
          }
          b.priority((int) priority);
        }
        case "immutable" -> b.immutable(flag(in, "Immutable"));
        case "retrycount" -> b.retryCount(Math.max(0, Math.toIntExact(number(in, "RetryCount"))));
        case "retrytimeout" -> b.retryTimeout(Math.max(0, Math.toIntExact(number(in, "RetryTimeout"))));
        case "onsuccess" -> b.onSuccess(readSignatures(in, "OnSuccess"));
        case "onerror" -> b.onError(readSignatures(in, "OnError"));
        case "chordcallback" -> {
          expectObject(in, "ChordCallback");
          b.chordCallback(readSignature(in));
        }
        case "brokermessagegroupid" -> b.brokerMessageGroupId(text(in, "BrokerMessageGroupId"));
        case "sqsreceipthandle" -> b.sqsReceiptHandle(text(in, "SQSReceiptHandle"));
        case "stoptaskdeletiononerror" -> b.stopTaskDeletionOnError(flag(in, "StopTaskDeletionOnError"));
        case "ignorewhentasknotregistered" -> b.ignoreWhenTaskNotRegistered(flag(in, "IgnoreWhenTaskNotRegistered"));
        default -> in.skipChildren();
      }
    }
    return b.build();
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
      default -> { }
    }
  }

  private static List<Arg> readArgs(JsonParser in) throws IOException {
    if (in.currentToken() != JsonToken.START_ARRAY) {
      throw new IllegalArgumentException("json: cannot unmarshal " + kind(GoJson.readValue(in))
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
        String field = in.currentName().toLowerCase(Locale.ROOT);
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
      throw new IllegalArgumentException("json: cannot unmarshal " + kind(GoJson.readValue(in))
          + " into Go struct field Signature." + field);
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
      throw new IllegalArgumentException("json: cannot unmarshal " + kind(GoJson.readValue(in))
          + " into Go struct field " + field + " of type tasks.Signature");
    }
  }

  private static String text(JsonParser in, String field) throws IOException {
    if (in.currentToken() != JsonToken.VALUE_STRING) {
      throw new IllegalArgumentException("json: cannot unmarshal " + kind(GoJson.readValue(in))
          + " into Go struct field Signature." + field + " of type string");
    }
    return in.getText();
  }

  private static boolean flag(JsonParser in, String field) throws IOException {
    JsonToken token = in.currentToken();
    if (token != JsonToken.VALUE_TRUE && token != JsonToken.VALUE_FALSE) {
      throw new IllegalArgumentException("json: cannot unmarshal " + kind(GoJson.readValue(in))
          + " into Go struct field Signature." + field + " of type bool");
    }
    return token == JsonToken.VALUE_TRUE;
  }

  private static long number(JsonParser in, String field) throws IOException {
    if (in.currentToken() != JsonToken.VALUE_NUMBER_INT) {
      Object value = GoJson.readValue(in);
      throw new IllegalArgumentException("json: cannot unmarshal " + (value instanceof Number ? "number " + value
          : kind(value)) + " into Go struct field Signature." + field + " of type int");
    }
    BigInteger big = in.getBigIntegerValue();
    if (big.bitLength() > 63) {
      throw new IllegalArgumentException("json: cannot unmarshal number " + big + " into Go struct field Signature."
          + field + " of type int");
    }
    return big.longValue();
  }

  /**
   * Reads a task state.
   *
   * @throws MalformedMessageException when the bytes are not a task state
   */
  public static TaskState decodeTaskState(byte[] json) {
    try {
      Map<String, @Nullable Object> m = object(readDocument(json), "tasks.TaskState");
      String state = string(m, "state");
      State parsed;
      try {
        parsed = State.valueOf(state);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("unknown task state '" + state + "'");
      }
      Object results = m.get("results");
      return TaskState.of(
          string(m, "taskuuid"), string(m, "taskname"), parsed, results == null ? null : results(results),
          string(m, "error"), time(m, "createdat"), integer(m, "ttl"));
    } catch (IOException | RuntimeException | StackOverflowError e) {
      throw malformed(json, "a task state", e);
    }
  }

  /**
   * Reads group metadata.
   *
   * @throws MalformedMessageException when the bytes are not group metadata
   */
  public static GroupMeta decodeGroupMeta(byte[] json) {
    try {
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
          string(m, "groupuuid"), uuids, bool(m, "chordtriggered"), bool(m, "lock"), time(m, "createdat"),
          integer(m, "ttl"));
    } catch (IOException | RuntimeException | StackOverflowError e) {
      throw malformed(json, "a group meta", e);
    }
  }

  /** Reads the results list of a state ({@code [{"Type":..,"Value":..}]}). */
  public static List<TaskResult> decodeResults(byte[] json) {
    try {
      return results(readDocument(json));
    } catch (IOException | RuntimeException | StackOverflowError e) {
      throw malformed(json, "task results", e);
    }
  }

  private static @Nullable Object readDocument(byte[] json) throws IOException {
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

  private static List<TaskResult> results(@Nullable Object value) {
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

  /** Keys folded to lower case; Go matches field names case-insensitively and the last duplicate wins. */
  private static Map<String, @Nullable Object> folded(Map<?, ?> raw) {
    Map<String, @Nullable Object> out = new java.util.HashMap<>(raw.size() * 2);
    for (Map.Entry<?, ?> e : raw.entrySet()) {
      out.put(String.valueOf(e.getKey()).toLowerCase(Locale.ROOT), e.getValue());
    }
    return out;
  }

  private static Map<String, @Nullable Object> object(@Nullable Object value, String goType) {
    if (!(value instanceof Map<?, ?> map)) {
      throw new IllegalArgumentException("json: cannot unmarshal " + kind(value) + " into Go value of type " + goType);
    }
    return folded(map);
  }

  private static String string(Map<String, @Nullable Object> m, String key) {
    Object v = m.get(key);
    return v == null ? "" : requireString(v, key);
  }

  private static String requireString(Object v, String key) {
    if (!(v instanceof String s)) {
      throw new IllegalArgumentException("json: cannot unmarshal " + kind(v) + " into field " + key + " of type string");
    }
    return s;
  }

  private static boolean bool(Map<String, @Nullable Object> m, String key) {
    Object v = m.get(key);
    if (v == null) {
      return false;
    }
    if (!(v instanceof Boolean b)) {
      throw new IllegalArgumentException("json: cannot unmarshal " + kind(v) + " into field " + key + " of type bool");
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
        "json: cannot unmarshal " + (v instanceof Number ? "number " + v : kind(v)) + " into field " + key + " of type int64");
  }

  private static int intField(Map<String, @Nullable Object> m, String key) {
    return Math.toIntExact(integer(m, key));
  }

  private static OffsetDateTime time(Map<String, @Nullable Object> m, String key) {
    Object v = m.get(key);
    return v == null ? TaskState.ZERO_TIME : parseTime(requireString(v, key));
  }

  private static OffsetDateTime parseTime(String text) {
    try {
      return GoJson.parseTime(text);
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("parsing time \"" + text + "\" as RFC 3339: " + e.getMessage(), e);
    }
  }

  private static String kind(@Nullable Object value) {
    if (value == null) return "null";
    if (value instanceof String) return "string";
    if (value instanceof Boolean) return "bool";
    if (value instanceof Long || value instanceof BigInteger || value instanceof Double) return "number";
    if (value instanceof List) return "array";
    return "object";
  }

  private static String reason(Throwable e) {
    if (e instanceof StackOverflowError) {
      return "nested too deeply for this thread's stack";
    }
    String message = e.getMessage();
    if (e instanceof com.fasterxml.jackson.core.JsonProcessingException j) {
      message = j.getOriginalMessage();
    }
    return WireChecks.reason(message == null ? e.getClass().getSimpleName() : message);
  }
}
