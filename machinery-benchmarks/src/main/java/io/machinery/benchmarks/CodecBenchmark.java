package io.machinery.benchmarks;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Signature;
import io.machinery.wire.WireCodec;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** Encoding and decoding task messages: the work every send and every delivery does once. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CodecBenchmark {
  private Signature simple;
  private Signature chordMember;
  private byte[] simpleJson;
  private byte[] chordMemberJson;

  @Setup
  public void setUp() {
    simple =
        Signature.builder("add")
            .routingKey("machinery_tasks")
            .args(Arg.of(1L), Arg.of(2L))
            .headers(Map.of())
            .build();
    Group group =
        Group.of(simple, simple.toBuilder().uuid("").build(), simple.toBuilder().uuid("").build());
    chordMember = Chord.of(group, Signature.create("multiply")).group().tasks().get(0);
    simpleJson = WireCodec.encode(simple);
    chordMemberJson = WireCodec.encode(chordMember);
  }

  @Benchmark
  public byte[] encodeSimple() {
    return WireCodec.encode(simple);
  }

  @Benchmark
  public Signature decodeSimple() {
    return WireCodec.decodeSignature(simpleJson);
  }

  @Benchmark
  public Signature encodeAndDecodeSimple() {
    return WireCodec.decodeSignature(WireCodec.encode(simple));
  }

  @Benchmark
  public Signature encodeAndDecodeChordMember() {
    return WireCodec.decodeSignature(WireCodec.encode(chordMember));
  }

  /** The baseline: the same bytes copied, no JSON work. */
  @Benchmark
  public byte[] baselineCopy() {
    return chordMemberJson.clone();
  }
}
