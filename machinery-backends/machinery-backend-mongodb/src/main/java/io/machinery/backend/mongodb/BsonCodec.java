package io.machinery.backend.mongodb;

import io.machinery.MachineryException;
import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.internal.GoJson;
import io.machinery.internal.GoTypes;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.bson.Document;
import org.bson.types.Binary;
import org.bson.types.Decimal128;
import org.jspecify.annotations.Nullable;

/**
 * Task documents read as Go's bson tags read them, and task results as BSON, the way Go's bson
 * encoder writes the Go values behind them ({@code {type, value}} documents, spec §4.4), and back.
 *
 * <p>Go writes the reflect value, so the BSON type follows the Go type: int64 → Int64; int → Int32
 * when it fits, else Int64; int8/16/32, uint8/16 → Int32; uint, uint32, uint64 → Int64; float32/64
 * → Double; bool, string as such; {@code []uint8} → Binary (subtype 0); other slices → arrays of
 * their elements. Where Go cannot write a value at all (a uint64 above 2^63-1: "overflows int64"),
 * a Decimal128 keeps it exact for Java readers.
 *
 * <p>Reading: Int32/Int64 → Long, Decimal128 → BigInteger, Binary → byte[], arrays → lists,
 * documents → maps; every value is then read by its Go type name as with JSON. Go's worker stores a
 * string result that parses as a JSON object as {@code {type: "json", value: <document>}}, which no
 * Go client can read back; it is read here as the {@code string} it was.
 */
final class BsonCodec {
  private BsonCodec() {}

  static final String GO_JSON_TYPE = "json";

  static List<Document> toBson(List<TaskResult> results) {
    List<Document> out = new ArrayList<>(results.size());
    for (TaskResult result : results) {
      out.add(new Document("type", result.type()).append("value", value(result)));
    }
    return out;
  }

  private static @Nullable Object value(TaskResult result) {
    Object typed;
    try {
      typed = result.typedValue();
    } catch (IllegalArgumentException e) {
      return generic(
          result
              .value()); // a Go type name Machinery cannot read (main.MyStruct): stored as it came
    }
    return typed(result.type(), typed);
  }

  private static @Nullable Object typed(String type, @Nullable Object value) {
    if (value == null) {
      return null;
    }
    if (type.startsWith("[]")) {
      if (value instanceof byte[] bytes) {
        return new Binary(bytes);
      }
      String element = type.substring(2);
      List<Object> out = new ArrayList<>();
      for (Object item : (List<?>) value) {
        out.add(typed(element, item));
      }
      return out;
    }
    return switch (type) {
      case "int64" -> ((Number) value).longValue();
      case "int" -> {
        long v = ((Number) value).longValue();
        yield v == (int) v ? (Object) (int) v : (Object) v;
      }
      case "int8", "int16", "int32", "uint8", "uint16" -> ((Number) value).intValue();
      case "uint", "uint32", "uint64" -> {
        BigInteger v =
            value instanceof BigInteger b ? b : BigInteger.valueOf(((Number) value).longValue());
        yield v.bitLength() < 64 ? (Object) v.longValue() : new Decimal128(new BigDecimal(v));
      }
      case "float32", "float64" -> ((Number) value).doubleValue();
      default -> value; // bool, string
    };
  }

  /**
   * A value of an unknown type, written as its JSON shape (what Go's encoder does for maps and
   * structs): Java arrays become arrays, as they do in JSON. A value BSON has no codec for is left
   * to the driver, which refuses it.
   */
  private static @Nullable Object generic(@Nullable Object value) {
    if (value instanceof BigInteger b) {
      return b.bitLength() < 64 ? (Object) b.longValue() : new Decimal128(new BigDecimal(b));
    }
    if (value instanceof byte[] bytes) {
      return new Binary(bytes);
    }
    List<?> list = GoTypes.asList(value); // a List, or a Java array as the JSON writer takes it
    if (list != null) {
      List<Object> out = new ArrayList<>(list.size());
      for (Object item : list) {
        out.add(generic(item));
      }
      return out;
    }
    if (value instanceof Map<?, ?> map) {
      Document out = new Document();
      map.forEach((k, v) -> out.append(String.valueOf(k), generic(v)));
      return out;
    }
    return value;
  }

  static List<TaskResult> fromBson(List<?> results) {
    List<TaskResult> out = new ArrayList<>(results.size());
    for (Object item : results) {
      if (!(item instanceof Document doc)) {
        throw new IllegalArgumentException("a result is not a document: " + item);
      }
      Object type = doc.get("type");
      if (!(type instanceof String name)) {
        throw new IllegalArgumentException("a result has no string 'type': " + doc.toJson());
      }
      Object value = plain(doc.get("value"));
      if (name.equals(GO_JSON_TYPE) && (value == null || value instanceof Map)) {
        out.add(TaskResult.of("string", jsonText(value)));
      } else {
        out.add(TaskResult.of(name, value));
      }
    }
    return out;
  }

  /** Go's JSON text of a decoded document (keys sorted, as Go's encoder writes a map). */
  private static String jsonText(@Nullable Object value) {
    StringWriter out = new StringWriter();
    try (com.fasterxml.jackson.core.JsonGenerator json = GoJson.FACTORY.createGenerator(out)) {
      GoJson.writeValue(json, value, null);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot write a json result as text: " + e.getMessage(), e);
    }
    return out.toString();
  }

  /** A BSON value as the plain JSON-shaped value a result carries. */
  static @Nullable Object plain(@Nullable Object value) {
    if (value instanceof Integer i) {
      return i.longValue();
    }
    if (value instanceof Decimal128 d) {
      BigDecimal big = d.bigDecimalValue();
      try {
        return big.toBigIntegerExact();
      } catch (ArithmeticException e) {
        return big.doubleValue();
      }
    }
    if (value instanceof Binary b) {
      return b.getData();
    }
    if (value instanceof Date d) {
      return d.toInstant().toString();
    }
    if (value instanceof Document doc) {
      Map<String, @Nullable Object> out = new java.util.LinkedHashMap<>();
      doc.forEach((k, v) -> out.put(k, plain(v)));
      return out;
    }
    if (value instanceof List<?> list) {
      List<@Nullable Object> out = new ArrayList<>(list.size());
      for (Object item : list) {
        out.add(plain(item));
      }
      return out;
    }
    return value;
  }

  /**
   * A task document as Go's bson tags read it ({@code _id, task_name, state, results, error,
   * created_at, ttl}).
   */
  static TaskState taskState(Document doc) {
    String uuid = String.valueOf(doc.get("_id"));
    try {
      String state = doc.get("state") instanceof String s ? s : "";
      State parsed;
      try {
        parsed = State.valueOf(state);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("unknown task state '" + state + "'");
      }
      Object results = doc.get("results");
      return TaskState.of(
          uuid,
          doc.get("task_name") instanceof String n ? n : "",
          parsed,
          results instanceof List<?> list ? fromBson(list) : null,
          doc.get("error") instanceof String e ? e : "",
          time(doc.get("created_at")),
          doc.get("ttl") instanceof Number ttl ? ttl.longValue() : 0);
    } catch (RuntimeException e) {
      throw new MachineryException(
          "Could not read the MongoDB document of task " + uuid + ": " + e.getMessage(), e);
    }
  }

  private static OffsetDateTime time(@Nullable Object value) {
    return value instanceof Date d ? d.toInstant().atOffset(ZoneOffset.UTC) : TaskState.ZERO_TIME;
  }
}
