package io.machinery.testkit;

import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;

/**
 * Task messages as a careless or hostile producer could write them, the same for the same seed:
 * mostly Go's shape with the given task names, and now and then a field with a value of the wrong
 * JSON kind, out of its Go type's range, or of the right kind at an edge (Go's {@code int} limits,
 * times outside Go's range, an argument whose value does not fit its declared type, callbacks
 * nested three deep, a callback without a name, unknown keys).
 *
 * <p>Whether a message must be run or refused is not the generator's to say: a test asks {@code
 * WireCodec.decodeSignature}, the worker's own decoder, and holds the worker to that verdict (run
 * to a state, or dead-lettered). Every message carries its UUID first, so a dead letter's quoted
 * preview names it. Times to run are in the past or at most 300 ms ahead. Retries are at most two
 * unless an odd value asks for more (up to Go's largest {@code int}), and a retry may be due
 * decades ahead ({@code RetryTimeout} 2^31-1 s): a test counts RETRY and PENDING as an outcome, as
 * {@link FaultSuite} does. Not thread-safe.
 */
public final class RandomTaskMessages {
  /** One in this many fields gets an odd value. */
  private static final int ODD = 20;

  private static final String[] ARG_TYPES = {
    "int64",
    "int64",
    "string",
    "string",
    "[]byte",
    "float64",
    "bool",
    "[]int64",
    "[]string",
    "uint64",
    "int8",
    "[]float64",
    "int",
    "uint8",
    "float32",
    "[]uint8",
    "[]bool"
  };

  /** Go type names the decoder must refuse or fail at binding: unknown, nested, or empty. */
  private static final String[] ODD_ARG_TYPES = {"complex128", "[][]int", "map", "", "Int64"};

  private static final String[] ODD_NUMBERS = {
    "-1",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "1.5",
    "1e3",
    "1e309",
    "-0",
    "123456789012345678901234567890"
  };

  private final SplittableRandom random;
  private final List<String> taskNames;

  /**
   * @param seed the seed: the same seed gives the same messages (UUIDs and times aside)
   * @param taskNames names registered with the worker under test; each must accept being called
   *     with any arguments (a mismatch is the task's failure, as in Go)
   */
  public RandomTaskMessages(long seed, List<String> taskNames) {
    if (taskNames.isEmpty()) {
      throw new IllegalArgumentException("at least one task name");
    }
    this.random = new SplittableRandom(seed);
    this.taskNames = List.copyOf(taskNames);
  }

  /** The next message, UTF-8 JSON. */
  public byte[] next() {
    return signature(0).getBytes(StandardCharsets.UTF_8);
  }

  private String signature(int depth) {
    Fields f = new Fields();
    f.add(
        "UUID",
        odd()
            ? pick("\"\"", "null", "12", "\"task_x\"", "\"a b\"", "\"task_../x\"")
            : quoted("task_" + UUID.randomUUID()));
    f.add("Name", odd() ? pick("7", "[]", "true") : quoted(pick(taskNames)));
    if (chance(4)) {
      f.add("RoutingKey", odd() ? pick("5", "{}") : pick("\"\""));
    }
    if (chance(3)) {
      f.add("ETA", eta());
    }
    if (chance(5)) {
      f.add("GroupUUID", odd() ? pick("3", "\"group_x\"") : quoted("group_" + UUID.randomUUID()));
      f.add("GroupTaskCount", odd() ? oddNumber() : pick("0", "1", "2", "1000000"));
    }
    if (!odd()) {
      f.add("Args", chance(10) ? pick("null", "[]") : args());
    } else {
      f.add("Args", pick("{}", "1", "\"a\"", "[1]", "[null]"));
    }
    if (chance(3)) {
      f.add(
          "Headers",
          odd()
              ? pick("[]", "1", "\"h\"", "{\"machinery_fairness_key\":7}")
              : pick(
                  "{}",
                  "null",
                  "{\"k\":\"v\"}",
                  "{\"k\":[1,{}]}",
                  "{\"machinery_fairness_key\":\"tenant-1\"}",
                  "{\"machinery_fairness_key\":\" \"}",
                  // a saga's compensation (io.machinery.Saga) whose step has no stored state, one
                  // that claims more arguments than it has, one whose step is no UUID, and a
                  // stray argument count without a step
                  "{\"machinery_saga_undoes\":\"task_00000000-0000-4000-8000-000000000000\","
                      + "\"machinery_saga_args\":\"0\"}",
                  "{\"machinery_saga_undoes\":\"task_x\",\"machinery_saga_args\":\"9\"}",
                  "{\"machinery_saga_undoes\":7,\"machinery_saga_args\":1}",
                  "{\"machinery_saga_args\":\"1\"}"));
    }
    if (chance(4)) {
      f.add("Priority", odd() ? pick("256", "-1", "1.5") : pick("0", "1", "9", "255"));
    }
    if (chance(4)) {
      f.add("Immutable", odd() ? pick("1", "\"true\"") : pick("true", "false"));
    }
    if (chance(3)) {
      f.add("RetryCount", odd() ? oddNumber() : pick("0", "1", "2", "-1"));
    }
    if (chance(3)) {
      f.add("RetryTimeout", odd() ? oddNumber() : pick("0", "1", "-5", "2147483647"));
    }
    if (depth < 3 && chance(4)) {
      f.add("OnSuccess", callbacks(depth));
    }
    if (depth < 3 && chance(4)) {
      f.add("OnError", callbacks(depth));
    }
    if (depth < 3 && chance(6)) {
      f.add("ChordCallback", odd() ? pick("[]", "1", "\"c\"") : signature(depth + 1));
    }
    if (chance(8)) {
      f.add("BrokerMessageGroupId", odd() ? "1" : pick("\"\"", "\"g\""));
    }
    if (chance(8)) {
      f.add("SQSReceiptHandle", odd() ? "1" : pick("\"\"", "\"h\""));
    }
    if (chance(8)) {
      f.add("StopTaskDeletionOnError", odd() ? "0" : pick("true", "false"));
    }
    if (chance(8)) {
      f.add("IgnoreWhenTaskNotRegistered", odd() ? "\"x\"" : pick("true", "false"));
    }
    if (odd()) {
      f.add("Unknown" + random.nextInt(3), anyValue(0));
    }
    if (depth < 3 && chance(15)) {
      // a callback Go's producer can write and this library's producer would refuse
      f.add("OnError", "[{\"UUID\":" + quoted("task_" + UUID.randomUUID()) + "}]");
    }
    return f.toString();
  }

  private String callbacks(int depth) {
    if (odd()) {
      return pick("[null]", "{}", "1");
    }
    if (chance(6)) {
      return pick("null", "[]");
    }
    StringBuilder b = new StringBuilder("[");
    int n = 1 + random.nextInt(2);
    for (int i = 0; i < n; i++) {
      b.append(i > 0 ? "," : "").append(signature(depth + 1));
    }
    return b.append(']').toString();
  }

  private String args() {
    StringBuilder b = new StringBuilder("[");
    int n = random.nextInt(4);
    for (int i = 0; i < n; i++) {
      b.append(i > 0 ? "," : "").append(arg());
    }
    return b.append(']').toString();
  }

  private String arg() {
    if (odd()) {
      return anyValue(1);
    }
    String type = odd() ? pick(ODD_ARG_TYPES) : pick(ARG_TYPES);
    Fields f = new Fields();
    if (chance(5)) {
      f.add("Name", quoted("x"));
    }
    if (!odd()) {
      f.add("Type", quoted(type));
    }
    if (!odd()) {
      f.add("Value", valueOf(type));
    }
    return f.toString();
  }

  /** A value for an argument of Go type {@code type}: mostly one Go accepts, at its edges. */
  private String valueOf(String type) {
    if (odd()) {
      return anyValue(1);
    }
    return switch (type) {
      case "bool" -> pick("true", "false");
      case "int", "int64" ->
          pick("0", "42", "-1", "9223372036854775807", "-9223372036854775808", "2147483648");
      case "int8" -> pick("0", "127", "-128", "300");
      case "uint8", "uint64" -> pick("0", "255", "256", "18446744073709551615");
      case "float32", "float64" -> pick("0", "1.5", "-2", "1e308", "3.5e38", "1e-320", "100");
      case "string" -> pick("\"\"", "\"a\"", "\"\\u2028\"", "\"\\ud83d\\ude00\"", "\"\\u0000\"");
      case "[]byte", "[]uint8" -> pick("\"AAEC\"", "\"\"", "[1,2,255]", "null", "[256]", "\"AAE\"");
      default -> {
        if (!type.startsWith("[]")) {
          yield anyValue(1);
        }
        if (chance(8)) {
          yield "null";
        }
        StringBuilder b = new StringBuilder("[");
        int n = random.nextInt(4);
        for (int i = 0; i < n; i++) {
          b.append(i > 0 ? "," : "").append(valueOf(type.substring(2)));
        }
        yield b.append(']').toString();
      }
    };
  }

  private String eta() {
    if (odd()) {
      return pick(
          "\"garbage\"",
          "12",
          "{}",
          "\"2026-13-01T00:00:00Z\"",
          "\"2026-02-30T00:00:00Z\"",
          "\"-0001-01-01T00:00:00Z\"",
          "\"10000-01-01T00:00:00Z\"",
          "\"0001-01-01T00:00:00+14:00\"");
    }
    OffsetDateTime soon =
        OffsetDateTime.now(ZoneOffset.UTC).plusNanos(random.nextLong(300_000_000L));
    return pick(
        "null",
        "\"2020-01-01T00:00:00Z\"",
        "\"0001-01-01T00:00:00Z\"",
        "\"2026-01-01T00:00:00.123456789+14:00\"",
        quoted(soon.toString()));
  }

  /** Any JSON value, nested at most three deep. */
  private String anyValue(int depth) {
    int kinds = depth >= 3 ? 4 : 6;
    return switch (random.nextInt(kinds)) {
      case 0 -> oddNumber();
      case 1 -> pick("true", "false", "null");
      case 2 -> pick("\"\"", "\"a\"", "\"AAEC\"", "\"\\u0000\"", "\"\\ud800\"", "\"12\"");
      case 3 -> pick("[]", "{}", "[null]");
      case 4 -> "[" + anyValue(depth + 1) + "," + anyValue(depth + 1) + "]";
      default -> "{" + quoted(pick("a", "Type", "Value", "")) + ":" + anyValue(depth + 1) + "}";
    };
  }

  private String oddNumber() {
    return pick(ODD_NUMBERS);
  }

  private boolean odd() {
    return random.nextInt(ODD) == 0;
  }

  private boolean chance(int oneIn) {
    return random.nextInt(oneIn) == 0;
  }

  private String pick(String... choices) {
    return choices[random.nextInt(choices.length)];
  }

  private String pick(List<String> choices) {
    return choices.get(random.nextInt(choices.size()));
  }

  private static String quoted(String text) {
    return "\"" + text + "\"";
  }

  /** A JSON object written field by field; a later field of the same name is kept, as in Go. */
  private static final class Fields {
    private final StringBuilder json = new StringBuilder("{");

    void add(String name, String value) {
      if (json.length() > 1) {
        json.append(',');
      }
      json.append('"').append(name).append("\":").append(value);
    }

    @Override
    public String toString() {
      return json + "}";
    }
  }
}
