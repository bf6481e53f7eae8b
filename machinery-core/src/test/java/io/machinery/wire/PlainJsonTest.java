package io.machinery.wire;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * {@code PlainJson} writes what the Jackson path writes, byte for byte, and gives up on what it
 * does not know: both paths over thousands of random messages and states.
 */
class PlainJsonTest {
  /** Plain characters, and every kind the plain writer must hand to Jackson. */
  private static final String[] PIECES = {
    "a", "Z", "0", "-", "_", " ", "~", "{", "}", ":", ",", "\"", "\\", "<", ">", "&", "\n", "\t",
    "\u0001", "\u007f", "é", "€", "\u2028", "\u2029", "😀"
  };

  private final Random random = new Random(18);

  @Test
  void theCommonSendIsWrittenWithoutJacksonAndAsJacksonWritesIt() {
    Signature task =
        Signature.builder("noop")
            .uuid("task_2f1c9e8a-6a0e-4f8e-9d38-9a1d0b0f6a11")
            .routingKey("machinery_tasks")
            .headers(Map.of())
            .build();
    byte[] plain = PlainJson.signature(task);
    assertThat(plain).isNotNull();
    assertThat(text(plain)).isEqualTo(text(WireCodec.encodeWithJackson(task)));

    TaskState pending =
        TaskState.pending(task, OffsetDateTime.of(2026, 11, 30, 16, 5, 1, 120_000, ZoneOffset.UTC));
    byte[] state = PlainJson.state(pending);
    assertThat(state).isNotNull();
    assertThat(text(state)).isEqualTo(text(WireCodec.encodeWithJackson(pending)));
  }

  @Test
  void tasksWithPlainArgumentsHeadersAndCallbacksSkipJacksonToo() {
    Signature callback = Signature.create("log", Arg.of("done"));
    Signature task =
        Signature.builder("add")
            .uuid("task_1")
            .args(
                Arg.of(1L),
                Arg.of(2),
                Arg.of((short) 3),
                Arg.of((byte) 4),
                Arg.of(true),
                Arg.named("n", "string", "x y"),
                Arg.of("int64", null))
            .headers(Map.of("b", "2", "a", 1L, "c", false))
            .eta(OffsetDateTime.of(2026, 1, 2, 3, 4, 5, 6, ZoneOffset.ofHours(2)))
            .onSuccess(callback)
            .onError(callback)
            .chordCallback(callback)
            .build();
    byte[] plain = PlainJson.signature(task);
    assertThat(plain).isNotNull();
    assertThat(text(plain)).isEqualTo(text(WireCodec.encodeWithJackson(task)));
    assertThat(text(plain)).contains("\"Headers\":{\"a\":1,\"b\":\"2\",\"c\":false}");
  }

  @Test
  void randomMessagesAreTheSameBytesEitherWay() {
    int plain = 0;
    for (int i = 0; i < 5_000; i++) {
      Signature task = signature(2);
      if (PlainJson.signature(task) != null) {
        plain++;
      }
      assertThat(text(WireCodec.encode(task)))
          .as("task %d", i)
          .isEqualTo(text(WireCodec.encodeWithJackson(task)));
    }
    // both paths are exercised
    assertThat(plain).isBetween(100, 4_900);
  }

  @Test
  void randomStatesAreTheSameBytesEitherWay() {
    int plain = 0;
    for (int i = 0; i < 5_000; i++) {
      Signature task = Signature.builder(string()).uuid(string()).build();
      OffsetDateTime at = time();
      TaskState state =
          switch (random.nextInt(4)) {
            case 0 -> TaskState.pending(task, at);
            case 1 -> TaskState.failure(task, string());
            case 2 -> TaskState.success(task, List.of());
            default -> {
              List<TaskResult> results = new ArrayList<>();
              for (int r = random.nextInt(3); r > 0; r--) {
                Object value = value();
                results.add(value == null ? TaskResult.of("string", null) : TaskResult.of(value));
              }
              yield TaskState.success(task, results);
            }
          };
      if (PlainJson.state(state) != null) {
        plain++;
      }
      assertThat(text(WireCodec.encode(state)))
          .as("state %d", i)
          .isEqualTo(text(WireCodec.encodeWithJackson(state)));
    }
    assertThat(plain).isBetween(100, 4_900);
  }

  private Signature signature(int depth) {
    Signature.Builder b = Signature.builder(string()).uuid(string()).routingKey(string());
    if (random.nextBoolean()) {
      b.eta(time());
    }
    b.groupUuid(random.nextInt(3) == 0 ? string() : "");
    b.groupTaskCount(random.nextInt(5) - 1);
    if (random.nextBoolean()) {
      List<Arg> args = new ArrayList<>();
      for (int i = random.nextInt(4); i > 0; i--) {
        Object value = value();
        args.add(
            value == null
                ? Arg.named(string(), "string", null)
                : Arg.named(string(), Arg.typeOf(value), value));
      }
      b.args(args);
    }
    switch (random.nextInt(3)) {
      case 0 -> b.headers(null);
      case 1 -> b.headers(Map.of());
      default -> {
        Map<String, @Nullable Object> headers = new HashMap<>();
        for (int i = random.nextInt(4); i > 0; i--) {
          headers.put(string(), value());
        }
        b.headers(headers);
      }
    }
    b.priority(random.nextInt(10));
    b.immutable(random.nextBoolean());
    b.retryCount(random.nextInt(4));
    b.retryTimeout(random.nextInt(100));
    if (depth > 0 && random.nextInt(4) == 0) {
      b.onSuccess(signature(depth - 1));
    }
    if (depth > 0 && random.nextInt(4) == 0) {
      b.onError(List.of(signature(depth - 1), signature(depth - 1)));
    }
    if (depth > 0 && random.nextInt(4) == 0) {
      b.chordCallback(signature(depth - 1));
    }
    b.brokerMessageGroupId(random.nextInt(4) == 0 ? string() : "");
    b.sqsReceiptHandle(random.nextInt(4) == 0 ? string() : "");
    b.stopTaskDeletionOnError(random.nextBoolean());
    b.ignoreWhenTaskNotRegistered(random.nextBoolean());
    return b.build();
  }

  /** Mostly plain text; now and then one of the characters that need an escape or are not ASCII. */
  private String string() {
    StringBuilder s = new StringBuilder();
    for (int i = 1 + random.nextInt(12); i > 0; i--) {
      s.append(random.nextInt(25) == 0 ? PIECES[random.nextInt(PIECES.length)] : PIECES[0]);
      s.append((char) ('a' + random.nextInt(26)));
    }
    return s.toString();
  }

  private @Nullable Object value() {
    return switch (random.nextInt(12)) {
      case 0 -> null;
      case 1 -> random.nextLong();
      case 2 -> random.nextInt();
      case 3 -> (short) random.nextInt();
      case 4 -> (byte) random.nextInt();
      case 5 -> random.nextBoolean();
      case 6 -> random.nextDouble() * 1e6;
      case 7 -> new byte[] {1, 2, (byte) random.nextInt()};
      case 8 -> List.of(string(), string());
      case 9 -> BigInteger.valueOf(Long.MAX_VALUE).add(BigInteger.TEN);
      default -> string();
    };
  }

  private OffsetDateTime time() {
    return OffsetDateTime.of(
        2000 + random.nextInt(50),
        1 + random.nextInt(12),
        1 + random.nextInt(28),
        random.nextInt(24),
        random.nextInt(60),
        random.nextInt(60),
        random.nextInt(4) == 0 ? 0 : random.nextInt(1_000_000_000),
        random.nextBoolean()
            ? ZoneOffset.UTC
            : ZoneOffset.ofHoursMinutes(random.nextInt(12), 15 * random.nextInt(4)));
  }

  private static String text(byte[] json) {
    return new String(json, StandardCharsets.UTF_8);
  }
}
