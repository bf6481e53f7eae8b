package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.config.Config;
import io.machinery.internal.GoJson;
import io.machinery.wire.WireCodec;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;

/**
 * Messages a hostile or broken producer could send (reliability review F1, F16, F24): each one must
 * end in a {@link MalformedMessageException} with a short, single-line reason, never in an {@link
 * Error}.
 */
class HostileMessageTest {
  private static final String UUID = "01946605-74d3-42cd-b496-1d167c84cdb7";
  private static final String TASK = "task_" + UUID;

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String message(String fields) {
    return "{\"UUID\":\""
        + TASK
        + "\",\"Name\":\"add\""
        + (fields.isEmpty() ? "" : "," + fields)
        + "}";
  }

  /**
   * The reason is bounded (a preview of 512 bytes plus a short reason) and cannot forge log lines.
   */
  private static AbstractThrowableAssert<?, ? extends Throwable> refused(
      byte[] json, Config config) {
    return assertThatThrownBy(() -> WireCodec.decodeSignature(json, config))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageStartingWith("Could not unmarshal '")
        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(1_800))
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n", "\r", "\u0000"));
  }

  private static AbstractThrowableAssert<?, ? extends Throwable> refused(String json) {
    return refused(bytes(json), Config.DEFAULT);
  }

  private static String nestedArrays(int depth) {
    return "[".repeat(depth) + "1" + "]".repeat(depth);
  }

  // ------------------------------------------------------------------------------------------------ F1

  @Test
  void tenThousandNestedArraysInAnArgumentAreMalformedNotAStackOverflow() {
    refused(message("\"Args\":[{\"Type\":\"[]int64\",\"Value\":" + nestedArrays(10_000) + "}]"))
        .hasMessageContaining("nesting depth");
  }

  @Test
  void tenThousandNestedObjectsInHeadersAreMalformed() {
    String deep = "{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000);
    refused(message("\"Headers\":" + deep)).hasMessageContaining("nesting depth");
  }

  @Test
  void aChainNestedTenThousandDeepIsMalformed() {
    StringBuilder json = new StringBuilder();
    for (int i = 0; i < 5_000; i++) {
      json.append("{\"UUID\":\"").append(TASK).append("\",\"Name\":\"t\",\"OnSuccess\":[");
    }
    json.append("{}").append("]}".repeat(5_000));
    refused(json.toString()).hasMessageContaining("nesting depth");
  }

  @Test
  void deeplyNestedTaskStatesGroupMetasAndResultsAreMalformed() {
    String deep = nestedArrays(10_000);
    String state =
        "{\"TaskUUID\":\""
            + TASK
            + "\",\"State\":\"SUCCESS\",\"Results\":[{\"Type\":\"int64\",\"Value\":"
            + deep
            + "}]}";
    assertThatThrownBy(() -> WireCodec.decodeTaskState(bytes(state)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("into a task state")
        .hasMessageContaining("nesting depth");
    assertThatThrownBy(() -> WireCodec.decodeGroupMeta(bytes("{\"TaskUUIDs\":" + deep + "}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("nesting depth");
    assertThatThrownBy(() -> WireCodec.decodeResults(bytes(deep)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("nesting depth");
  }

  /**
   * The deepest documents the decoder admits (a chain at Go's 10,000 levels, an argument at 256
   * levels of its own) still decode, re-encode and print on a small stack (256 KiB, a quarter of
   * the JVM default): the limit is one the code survives, not just one the parser checks.
   */
  @Test
  void theDeepestAdmittedDocumentsSurviveASmallStack() throws Exception {
    int links = (GoJson.MAX_MESSAGE_DEPTH - 2) / 2;
    StringBuilder chain = new StringBuilder();
    for (int i = 0; i < links; i++) {
      chain.append("{\"UUID\":\"").append(TASK).append("\",\"Name\":\"t\",\"OnSuccess\":[");
    }
    chain.append("{}").append("]}".repeat(links));
    String deepArg =
        message(
            "\"Args\":[{\"Type\":\"[]int64\",\"Value\":"
                + nestedArrays(GoJson.MAX_NESTING_DEPTH)
                + "}]");

    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<String> done = new AtomicReference<>();
    Thread thread =
        new Thread(
            null,
            () -> {
              try {
                Signature s = WireCodec.decodeSignature(bytes(chain.toString()));
                byte[] again = WireCodec.encode(s);
                assertThat(WireCodec.decodeSignature(again)).isEqualTo(s);
                Signature arg = WireCodec.decodeSignature(bytes(deepArg));
                assertThat(new String(WireCodec.encode(arg), StandardCharsets.UTF_8))
                    .contains(nestedArrays(3));
                assertThat(arg.toString()).contains("[[[");
                assertThat(arg.hashCode())
                    .isEqualTo(WireCodec.decodeSignature(bytes(deepArg)).hashCode());
                done.set("ok");
              } catch (Throwable t) {
                failure.set(t);
              }
            },
            "small-stack",
            256 * 1024);
    thread.start();
    thread.join();
    assertThat(failure.get()).isNull();
    assertThat(done.get()).isEqualTo("ok");
  }

  @Test
  void anArgumentNestedDeeperThanTheDecoderAdmitsIsRefusedWhenBuilt() {
    Object value = 1L;
    for (int i = 0; i < 10_000; i++) {
      value = List.of(value);
    }
    Object deep = value;
    assertThatThrownBy(() -> Arg.of("[]int64", deep))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nested deeper than 256");
  }

  @Test
  void aOneMegabyteKeyIsMalformed() {
    refused(message("\"" + "k".repeat(1 << 20) + "\":1"))
        .hasMessageContaining("Name length")
        .hasMessageContaining("sha256:");
  }

  @Test
  void aOneMegabyteTaskNameIsMalformed() {
    refused("{\"UUID\":\"" + TASK + "\",\"Name\":\"" + "n".repeat(1 << 20) + "\"}")
        .hasMessageContaining("Name of 1048576 characters is longer than 1024");
  }

  @Test
  void hugeNumbersAreMalformed() {
    refused(message("\"Args\":[{\"Type\":\"uint64\",\"Value\":" + "9".repeat(100_000) + "}]"))
        .hasMessageContaining("Number value length");
    refused(message("\"Args\":[{\"Type\":\"float64\",\"Value\":1e999}]"))
        .hasMessageContaining("out of range of float64");
    refused(message("\"RetryCount\":" + "9".repeat(50))).hasMessageContaining("of type int");
  }

  @Test
  void bytesThatAreNotUtf8AreMalformedAndQuotedEscaped() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(bytes("{\"UUID\":\"" + TASK + "\",\"Name\":\"a"));
    out.write(0xff);
    out.write(0xfe);
    out.writeBytes(bytes("\"}"));
    refused(out.toByteArray(), Config.DEFAULT).hasMessageContaining("Invalid UTF-8");
  }

  @Test
  void rawLineBreaksInAMessageCannotForgeALogLine() {
    refused("{\"UUID\":\"" + TASK + "\",\"Name\":\"a\r\n2026-01-01 INFO forged\"}")
        .hasMessageContaining("\\r\\n");
  }

  @Test
  void aByteOrderMarkIsRefusedAsGoRefusesIt() {
    byte[] json = bytes("\uFEFF" + message(""));
    assertThat(json[0] & 0xff).isEqualTo(0xef);
    refused(json, Config.DEFAULT)
        .hasMessageContaining("invalid character 'ï' looking for beginning of value");
    assertThatThrownBy(() -> WireCodec.decodeTaskState(bytes("\uFEFF{\"State\":\"PENDING\"}")))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("byte-order mark");
  }

  @Test
  void utf16AndUtf32AreRefusedAsGoRefusesThem() {
    refused(message("").getBytes(StandardCharsets.UTF_16BE), Config.DEFAULT)
        .hasMessageContaining("not UTF-8 JSON");
    refused(message("").getBytes(StandardCharsets.UTF_16LE), Config.DEFAULT)
        .hasMessageContaining("not UTF-8 JSON");
    refused(message("").getBytes(java.nio.charset.Charset.forName("UTF-32LE")), Config.DEFAULT)
        .hasMessageContaining("not UTF-8 JSON");
  }

  @Test
  void aMessageOverTheConfiguredSizeIsMalformedWithoutBeingParsed() {
    Config small = Config.builder().maxMessageBytes(1024).build();
    refused(bytes(message("\"RoutingKey\":\"" + "q".repeat(2_000) + "\"")), small)
        .hasMessageContaining("over the limit of 1024 bytes");
  }

  // ------------------------------------------------------------------------------------------------ F16

  @Test
  void goIdsAreAccepted() {
    String json =
        "{\"UUID\":\"chord_"
            + UUID
            + "\",\"Name\":\"cb\",\"GroupUUID\":\"group_"
            + UUID
            + "\","
            + "\"RoutingKey\":\"machinery_tasks\",\"OnSuccess\":[{\"UUID\":\"\",\"Name\":\"next\"}],"
            + "\"ChordCallback\":{\"UUID\":\""
            + UUID.toUpperCase()
            + "\",\"Name\":\"x\"}}";
    Signature s = WireCodec.decodeSignature(bytes(json));
    assertThat(s.uuid()).isEqualTo("chord_" + UUID);
    assertThat(s.onSuccess().get(0).uuid()).isEmpty();
  }

  @Test
  void strictIdsRefuseEverythingThatIsNotGosShape() {
    refused("{\"UUID\":\"TriggerChordMutex\",\"Name\":\"t\"}")
        .hasMessageContaining("UUID 'TriggerChordMutex' is not")
        .hasMessageContaining("strict_uuids");
    refused("{\"UUID\":\"delayed_tasks\",\"Name\":\"t\"}")
        .hasMessageContaining("not a Go Machinery task id");
    refused("{\"UUID\":\"group_" + UUID + "\",\"Name\":\"t\"}")
        .hasMessageContaining("not a Go Machinery task id");
    refused("{\"Name\":\"t\"}").hasMessageContaining("the task has no UUID");
    refused(message("\"GroupUUID\":\"machinery_tasks\""))
        .hasMessageContaining("GroupUUID 'machinery_tasks'");
    refused(message("\"OnSuccess\":[{\"UUID\":\"TriggerChordMutex\",\"Name\":\"x\"}]"))
        .hasMessageContaining("OnSuccess.UUID 'TriggerChordMutex'");
    refused(message("\"ChordCallback\":{\"UUID\":\"x\",\"Name\":\"x\"}"))
        .hasMessageContaining("ChordCallback.UUID 'x'");
  }

  @Test
  void routingKeysCannotNameStatesMetasOrInternalKeys() {
    refused(message("\"RoutingKey\":\"delayed_tasks\""))
        .hasMessageContaining("names a reserved key");
    refused(message("\"RoutingKey\":\"TriggerChordMutex\""))
        .hasMessageContaining("names a reserved key");
    refused(message("\"RoutingKey\":\"" + TASK + "\""))
        .hasMessageContaining("names a reserved key");
    refused(message("\"RoutingKey\":\"group_" + UUID + "\""))
        .hasMessageContaining("names a reserved key");
    refused(message("\"RoutingKey\":\"{machinery_tasks}:dead_letters\""))
        .hasMessageContaining("names a reserved key");
    refused(message("\"RoutingKey\":\"" + "q".repeat(256) + "\""))
        .hasMessageContaining("256 bytes is longer than 255");
    refused(message("\"RoutingKey\":\"a\\nb\"")).hasMessageContaining("control character");
    Config custom =
        Config.builder()
            .redis(io.machinery.config.RedisConfig.DEFAULT.withDelayedTasksKey("later"))
            .build();
    refused(bytes(message("\"RoutingKey\":\"later\"")), custom)
        .hasMessageContaining("names a reserved key");
    assertThat(
            WireCodec.decodeSignature(bytes(message("\"RoutingKey\":\"{app}tasks\""))).routingKey())
        .isEqualTo("{app}tasks");
  }

  @Test
  void relaxedIdsAcceptCustomIdsButStayBoundedAndOffReservedKeys() {
    Config relaxed = Config.builder().strictUuids(false).build();
    Signature s =
        WireCodec.decodeSignature(
            bytes("{\"UUID\":\"order-42\",\"Name\":\"t\",\"GroupUUID\":\"batch-7\"}"), relaxed);
    assertThat(s.uuid()).isEqualTo("order-42");
    assertThat(s.groupUuid()).isEqualTo("batch-7");
    refused(bytes("{\"UUID\":\"TriggerChordMutex\",\"Name\":\"t\"}"), relaxed)
        .hasMessageContaining("reserved key");
    refused(bytes("{\"UUID\":\"machinery_tasks\",\"Name\":\"t\"}"), relaxed)
        .hasMessageContaining("reserved key");
    refused(bytes("{\"UUID\":\"group_1\",\"Name\":\"t\"}"), relaxed)
        .hasMessageContaining("names a group");
    refused(bytes("{\"UUID\":\"" + "u".repeat(257) + "\",\"Name\":\"t\"}"), relaxed)
        .hasMessageContaining("257 characters is longer than 256");
    refused(bytes("{\"UUID\":\"a b\",\"Name\":\"t\"}"), relaxed).hasMessageContaining("whitespace");
  }

  @Test
  void aTaskNameWithALineBreakIsRefused() {
    refused("{\"UUID\":\"" + TASK + "\",\"Name\":\"a\\nINFO forged\"}")
        .hasMessageContaining("Name 'a\\nINFO forged'");
  }

  @Test
  void strictIdsAreTheDocumentedDefaultAndLoadFromTheEnvironment() {
    assertThat(Config.DEFAULT.strictUuids()).isTrue();
    assertThat(
            Config.fromEnvironment(java.util.Map.of("MACHINERY_STRICT_UUIDS", "false"))
                .strictUuids())
        .isFalse();
  }
}
