package io.machinery.backend.dynamodb;

import io.machinery.State;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.internal.GoJson;
import io.machinery.internal.GoTypes;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.services.dynamodb.model.AttributeValue;

/**
 * Go's items: attribute names are Go's field names, values as {@code attributevalue.MarshalMap}
 * writes them (strings S, numbers N, bools BOOL, slices L, nil NULL, times S in RFC 3339).
 */
final class Items {
  static final String TASK_UUID = "TaskUUID";
  static final String GROUP_UUID = "GroupUUID";
  static final AttributeValue NULL = AttributeValue.builder().nul(true).build();

  private Items() {}

  static AttributeValue s(String value) {
    return AttributeValue.builder().s(value).build();
  }

  static AttributeValue n(long value) {
    return AttributeValue.builder().n(Long.toString(value)).build();
  }

  static AttributeValue bool(boolean value) {
    return AttributeValue.builder().bool(value).build();
  }

  static Map<String, AttributeValue> taskKey(String uuid) {
    return Map.of(TASK_UUID, s(uuid));
  }

  static Map<String, AttributeValue> groupKey(String uuid) {
    return Map.of(GROUP_UUID, s(uuid));
  }

  /** A PENDING state as Go's {@code PutItem} of the whole TaskState writes it. */
  static Map<String, AttributeValue> pending(String uuid, String name, OffsetDateTime createdAt) {
    Map<String, AttributeValue> item = new HashMap<>();
    item.put(TASK_UUID, s(uuid));
    item.put("TaskName", s(name));
    item.put("State", s(State.PENDING.name()));
    item.put("Results", NULL);
    item.put("Error", NULL); // Go reads NULL as ""; some DynamoDB emulators refuse empty strings
    item.put("CreatedAt", s(GoJson.formatTime(createdAt)));
    item.put("TTL", n(0));
    return item;
  }

  /** {@code L} of {@code M{Type: S, Value: S(%v)}}, Go's results. */
  static AttributeValue results(List<TaskResult> results) {
    List<AttributeValue> out = new ArrayList<>(results.size());
    for (TaskResult result : results) {
      out.add(
          AttributeValue.builder()
              .m(Map.of("Type", s(result.type()), "Value", s(GoValues.format(result))))
              .build());
    }
    return AttributeValue.builder().l(out).build();
  }

  static Map<String, AttributeValue> groupMeta(
      String uuid, List<String> taskUuids, OffsetDateTime createdAt, long ttl) {
    List<AttributeValue> uuids = taskUuids.stream().map(Items::s).toList();
    Map<String, AttributeValue> item = new HashMap<>();
    item.put(GROUP_UUID, s(uuid));
    item.put("TaskUUIDs", AttributeValue.builder().l(uuids).build());
    item.put("ChordTriggered", bool(false));
    item.put("Lock", bool(false));
    item.put("CreatedAt", s(GoJson.formatTime(createdAt)));
    item.put("TTL", n(ttl));
    return item;
  }

  static List<String> taskUuids(Map<String, AttributeValue> meta) {
    AttributeValue list = meta.get("TaskUUIDs");
    if (list == null || !list.hasL()) {
      return List.of();
    }
    return list.l().stream().map(AttributeValue::s).toList();
  }

  /** Reads an item written by Go or Java. */
  static TaskState taskState(Map<String, AttributeValue> item) {
    String uuid = string(item, TASK_UUID);
    State state = State.valueOf(string(item, "State"));
    return TaskState.of(
        uuid,
        string(item, "TaskName"),
        state,
        results(item.get("Results")),
        string(item, "Error"),
        time(item.get("CreatedAt")),
        number(item.get("TTL")));
  }

  private static @Nullable List<TaskResult> results(@Nullable AttributeValue value) {
    if (value == null || !value.hasL()) {
      return null;
    }
    List<TaskResult> out = new ArrayList<>();
    for (AttributeValue entry : value.l()) {
      Map<String, AttributeValue> m = entry.m();
      String type = m.get("Type") == null ? "string" : m.get("Type").s();
      AttributeValue v = m.get("Value");
      out.add(result(type, v == null ? null : v.s()));
    }
    return out;
  }

  /**
   * A result read back by its type; a Go type this library has no mapping for (a map, a struct,
   * {@code time.Duration}: a Go task may return any) keeps Go's {@code %v} text as it is stored.
   */
  private static TaskResult result(String type, @Nullable String text) {
    if (text == null || !GoTypes.isSupported(type)) {
      return TaskResult.of(type, text);
    }
    return TaskResult.of(type, GoTypes.toTyped(type, GoValues.parse(type, text)));
  }

  private static String string(Map<String, AttributeValue> item, String name) {
    AttributeValue value = item.get(name);
    return value == null || value.s() == null ? "" : value.s();
  }

  private static long number(@Nullable AttributeValue value) {
    return value == null || value.n() == null ? 0 : Long.parseLong(value.n());
  }

  private static OffsetDateTime time(@Nullable AttributeValue value) {
    if (value == null || value.s() == null || value.s().isEmpty()) {
      return TaskState.ZERO_TIME;
    }
    try {
      return GoJson.parseTime(value.s());
    } catch (DateTimeParseException e) {
      return TaskState
          .ZERO_TIME; // Go's time.String() form, which Go's own reader cannot parse either
    }
  }
}
