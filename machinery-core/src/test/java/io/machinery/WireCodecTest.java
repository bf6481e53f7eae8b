package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.machinery.spi.GroupMeta;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class WireCodecTest {

  static Stream<String> goFixtures() throws IOException {
    return new String(resource("INDEX"), StandardCharsets.UTF_8)
        .lines()
        .filter(l -> l.endsWith(".json"));
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = WireCodecTest.class.getResourceAsStream("/fixtures/go/" + name)) {
      assertThat(in).as(name).isNotNull();
      return in.readAllBytes();
    }
  }

  @ParameterizedTest
  @MethodSource("goFixtures")
  void everyGoProducedValueDecodesAndReencodesByteForByte(String fixture) throws IOException {
    byte[] go = resource(fixture);
    byte[] again;
    if (fixture.contains("-msg-")) {
      again = WireCodec.encode(WireCodec.decodeSignature(go));
    } else if (fixture.contains("-state-")) {
      again = WireCodec.encode(WireCodec.decodeTaskState(go));
    } else {
      again = WireCodec.encode(WireCodec.decodeGroupMeta(go));
    }
    assertThat(new String(again, StandardCharsets.UTF_8))
        .isEqualTo(new String(go, StandardCharsets.UTF_8));
  }

  /** The message quoted in spec §1.1 (from Go Machinery issue #768). */
  private static final String SPEC_MESSAGE =
      "{\"UUID\":\"task_01946605-74d3-42cd-b496-1d167c84cdb7\",\"Name\":\"sum\",\"RoutingKey\":\"machinery_tasks\","
          + "\"ETA\":null,\"GroupUUID\":\"\",\"GroupTaskCount\":0,\"Args\":[{\"Name\":\"\",\"Type\":\"int64\",\"Value\":1},"
          + "{\"Name\":\"\",\"Type\":\"int64\",\"Value\":1}],\"Headers\":{},\"Priority\":0,\"Immutable\":false,"
          + "\"RetryCount\":0,\"RetryTimeout\":0,\"OnSuccess\":null,\"OnError\":null,\"ChordCallback\":null,"
          + "\"BrokerMessageGroupId\":\"\",\"SQSReceiptHandle\":\"\",\"StopTaskDeletionOnError\":false,"
          + "\"IgnoreWhenTaskNotRegistered\":false}";

  @Test
  void aSignatureBuiltInJavaEncodesExactlyAsGoWould() {
    Signature sum =
        Signature.builder("sum")
            .uuid("task_01946605-74d3-42cd-b496-1d167c84cdb7")
            .routingKey("machinery_tasks")
            .args(Arg.of(1L), Arg.of(1L))
            .headers(Map.of())
            .build();
    assertThat(new String(WireCodec.encode(sum), StandardCharsets.UTF_8)).isEqualTo(SPEC_MESSAGE);
  }

  @Test
  void keysMatchCaseInsensitivelyAndUnknownKeysAreIgnored() {
    String json =
        "{\"uuid\":\"task_01946605-74d3-42cd-b496-1d167c84cdb7\",\"NAME\":\"add\",\"routingKey\":\"q\",\"Extra\":{\"x\":[1,2]},"
            + "\"args\":[{\"type\":\"int64\",\"value\":5}],\"RetryCount\":null}";
    Signature s = WireCodec.decodeSignature(json.getBytes(StandardCharsets.UTF_8));
    assertThat(s.uuid()).isEqualTo("task_01946605-74d3-42cd-b496-1d167c84cdb7");
    assertThat(s.name()).isEqualTo("add");
    assertThat(s.routingKey()).isEqualTo("q");
    assertThat(s.retryCount()).isZero();
    assertThat(s.args()).containsExactly(Arg.of("int64", 5L));
  }

  @Test
  void valuesAreReadByTheirDeclaredTypeNotByTheirJsonToken() {
    String json =
        "{\"UUID\":\"01946605-74d3-42cd-b496-1d167c84cdb7\",\"Args\":["
            + "{\"Type\":\"uint64\",\"Value\":18446744073709551615},"
            + "{\"Type\":\"int64\",\"Value\":9007199254740993},"
            + "{\"Type\":\"float64\",\"Value\":200},"
            + "{\"Type\":\"[]uint8\",\"Value\":\"AAEC/w==\"},"
            + "{\"Type\":\"[]byte\",\"Value\":[0,1,2,255]},"
            + "{\"Type\":\"[]int64\",\"Value\":null}]}";
    List<Arg> args = WireCodec.decodeSignature(json.getBytes(StandardCharsets.UTF_8)).args();
    assertThat(args.get(0).typedValue()).isEqualTo(new BigInteger("18446744073709551615"));
    assertThat(args.get(1).typedValue()).isEqualTo(9_007_199_254_740_993L);
    assertThat(args.get(2).typedValue()).isEqualTo(200.0);
    assertThat((byte[]) args.get(3).typedValue()).containsExactly(0, 1, 2, -1);
    assertThat((byte[]) args.get(4).typedValue()).containsExactly(0, 1, 2, -1);
    assertThat(args.get(5).typedValue()).isEqualTo(List.of());
  }

  @Test
  void integersAtTheEdgesOfLongAreReadExactly() {
    String json =
        "{\"UUID\":\"01946605-74d3-42cd-b496-1d167c84cdb7\",\"RetryCount\":2147483647,\"Args\":["
            + "{\"Type\":\"int64\",\"Value\":9223372036854775807},"
            + "{\"Type\":\"int64\",\"Value\":-9223372036854775808},"
            + "{\"Type\":\"uint64\",\"Value\":9223372036854775808},"
            + "{\"Type\":\"int\",\"Value\":-0},"
            + "{\"Type\":\"[]int64\",\"Value\":[1,-9223372036854775808]}]}";
    Signature s = WireCodec.decodeSignature(json.getBytes(StandardCharsets.UTF_8));
    assertThat(s.retryCount()).isEqualTo(Integer.MAX_VALUE);
    List<Arg> args = s.args();
    assertThat(args.get(0).typedValue()).isEqualTo(Long.MAX_VALUE);
    assertThat(args.get(1).typedValue()).isEqualTo(Long.MIN_VALUE);
    assertThat(args.get(2).typedValue()).isEqualTo(new BigInteger("9223372036854775808"));
    assertThat(args.get(3).typedValue()).isEqualTo(0L);
    assertThat(args.get(4).typedValue()).isEqualTo(List.of(1L, Long.MIN_VALUE));
    for (String field : List.of("9223372036854775808", "-9223372036854775809")) {
      assertThatThrownBy(
              () ->
                  WireCodec.decodeSignature(
                      ("{\"RetryTimeout\":" + field + "}").getBytes(StandardCharsets.UTF_8)))
          .isInstanceOf(MalformedMessageException.class)
          .hasMessageContaining("cannot unmarshal number " + field);
    }
  }

  @Test
  void goIntFieldsBeyondJavaIntSaturateInsteadOfRefusingAMessageGoRuns() {
    // Go's int is 64 bits: "retry forever" as RetryCount math.MaxInt64 is a message Go runs
    String json =
        "{\"UUID\":\"01946605-74d3-42cd-b496-1d167c84cdb7\",\"Name\":\"t\","
            + "\"RetryCount\":9223372036854775807,\"RetryTimeout\":4294967296,"
            + "\"GroupTaskCount\":2147483648}";
    Signature s = WireCodec.decodeSignature(json.getBytes(StandardCharsets.UTF_8));
    assertThat(s.retryCount()).isEqualTo(Integer.MAX_VALUE);
    assertThat(s.retryTimeout()).isEqualTo(Integer.MAX_VALUE);
    assertThat(s.groupTaskCount()).isEqualTo(Integer.MAX_VALUE);
    Signature negative =
        WireCodec.decodeSignature(
            "{\"UUID\":\"01946605-74d3-42cd-b496-1d167c84cdb7\",\"RetryCount\":-9223372036854775808,\"GroupTaskCount\":-4294967296}"
                .getBytes(StandardCharsets.UTF_8));
    assertThat(negative.retryCount()).isZero();
    assertThat(negative.groupTaskCount()).isEqualTo(Integer.MIN_VALUE);
  }

  @Test
  void integersStayIntegersAndFloatsUseGosShortestForm() {
    Signature s =
        Signature.builder("f")
            .uuid("task_x")
            .args(
                Arg.of(200.0),
                Arg.of(0.1f),
                Arg.of(1e21),
                Arg.of(1e-7),
                Arg.of(-0.0),
                Arg.of(123456789.125),
                Arg.of(new BigInteger("18446744073709551615")),
                Arg.of(new byte[] {1, 2}))
            .build();
    String json = new String(WireCodec.encode(s), StandardCharsets.UTF_8);
    assertThat(json)
        .contains("\"Type\":\"float64\",\"Value\":200}")
        .contains("\"Type\":\"float32\",\"Value\":0.1}")
        .contains("\"Value\":1e+21}")
        .contains("\"Value\":1e-7}")
        .contains("\"Value\":-0}")
        .contains("\"Value\":123456789.125}")
        .contains("\"Type\":\"uint64\",\"Value\":18446744073709551615}")
        .contains("\"Type\":\"[]uint8\",\"Value\":\"AQI=\"}");
  }

  @Test
  void htmlCharactersAreEscapedAsGoDoes() {
    Signature s = Signature.builder("x").uuid("u").args(Arg.of("<a href='x'>&\u2028</a>")).build();
    assertThat(new String(WireCodec.encode(s), StandardCharsets.UTF_8))
        .contains("\"\\u003ca href='x'\\u003e\\u0026\\u2028\\u003c/a\\u003e\"");
  }

  @Test
  void etaKeepsNanosecondsAndItsOffset() {
    OffsetDateTime eta = OffsetDateTime.of(2025, 1, 2, 3, 4, 5, 123_456_700, ZoneOffset.ofHours(2));
    Signature s = Signature.builder("x").eta(eta).build();
    String json = new String(WireCodec.encode(s), StandardCharsets.UTF_8);
    assertThat(json).contains("\"ETA\":\"2025-01-02T03:04:05.1234567+02:00\"");
    assertThat(WireCodec.decodeSignature(json.getBytes(StandardCharsets.UTF_8)).eta())
        .isEqualTo(eta);
    Signature utc =
        Signature.builder("x").uuid("u").eta(Instant.parse("2025-01-02T03:04:05Z")).build();
    assertThat(new String(WireCodec.encode(utc), StandardCharsets.UTF_8))
        .contains("\"ETA\":\"2025-01-02T03:04:05Z\"");
  }

  @Test
  void aStateWithGosZeroTimeRoundTrips() {
    TaskState state = TaskState.received(Signature.builder("add").uuid("task_1").build());
    assertThat(new String(WireCodec.encode(state), StandardCharsets.UTF_8))
        .isEqualTo(
            "{\"TaskUUID\":\"task_1\",\"TaskName\":\"\",\"State\":\"RECEIVED\",\"Results\":null,\"Error\":\"\","
                + "\"CreatedAt\":\"0001-01-01T00:00:00Z\",\"TTL\":0}");
  }

  @Test
  void groupMetaEncodesAsGoDoes() {
    GroupMeta meta =
        GroupMeta.create(
            "group_1",
            List.of("task_a", "task_b"),
            OffsetDateTime.of(2025, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC));
    assertThat(new String(WireCodec.encode(meta), StandardCharsets.UTF_8))
        .isEqualTo(
            "{\"GroupUUID\":\"group_1\",\"TaskUUIDs\":[\"task_a\",\"task_b\"],\"ChordTriggered\":false,\"Lock\":false,"
                + "\"CreatedAt\":\"2025-01-02T03:04:05Z\",\"TTL\":0}");
  }

  @Test
  void malformedMessagesFailWithGosText() {
    assertThatThrownBy(() -> WireCodec.decodeSignature("not json".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageStartingWith("Could not unmarshal 'not json' into a task signature: ");
    assertThatThrownBy(() -> WireCodec.decodeSignature("[1]".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class);
    assertThatThrownBy(
            () ->
                WireCodec.decodeSignature("{\"RetryCount\":1.5}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class);
    assertThatThrownBy(
            () -> WireCodec.decodeSignature("{\"Priority\":300}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("uint8");
    assertThatThrownBy(
            () ->
                WireCodec.decodeSignature(
                    "{\"ETA\":\"yesterday\"}".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(MalformedMessageException.class)
        .hasMessageContaining("RFC 3339");
    assertThatThrownBy(() -> WireCodec.decodeSignature(new byte[0]))
        .isInstanceOf(MalformedMessageException.class);
  }

  @Test
  void aHugeBadMessageIsQuotedOnlyInPart() {
    byte[] huge = ("{" + "x".repeat(100_000)).getBytes(StandardCharsets.UTF_8);
    assertThatThrownBy(() -> WireCodec.decodeSignature(huge))
        .hasMessageContaining("(100001 bytes)")
        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(2_000));
  }

  @Test
  void nonFiniteFloatsCannotBeEncodedJustAsInGo() {
    assertThatThrownBy(
            () ->
                WireCodec.encode(Signature.builder("x").uuid("u").args(Arg.of(Double.NaN)).build()))
        .hasMessageContaining("unsupported value: NaN");
  }

  @Test
  void checkTaskRefusesWhatNoSenderMayEncodeWhereverItIsNested() {
    Signature bad = Signature.create("bad", Arg.of("ok"), Arg.of("int64", "not a number"));
    WireCodec.checkTask(Signature.create("fine", Arg.of("int64", 7L)));
    assertThatThrownBy(() -> WireCodec.checkTask(Signature.create("")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("a task signature needs a name");
    assertThatThrownBy(() -> WireCodec.checkTask(bad))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("argument 2 of task bad: ");
    for (Signature nesting :
        List.of(
            Chain.of(Signature.create("first"), Signature.create("second"), bad).tasks().get(0),
            Signature.builder("t").onError(List.of(bad)).build(),
            Signature.builder("t").chordCallback(bad).build())) {
      assertThatThrownBy(() -> WireCodec.checkTask(nesting))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("argument 2 of task bad: ");
    }
  }
}
