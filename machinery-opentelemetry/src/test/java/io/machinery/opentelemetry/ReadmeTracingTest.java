package io.machinery.opentelemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Chain;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * The README's tracing section: its code is this test's, and the span tree it shows is what this
 * test records.
 */
class ReadmeTracingTest {
  @Test
  void theReadmeTracingExampleRunsAndDrawsTheTreeItShows() throws Exception {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    // README:tracing:begin
    SdkTracerProvider tracerProvider =
        SdkTracerProvider.builder()
            .addSpanProcessor(
                SimpleSpanProcessor.create(
                    exporter)) // in production: a BatchSpanProcessor and OTLP
            .build();
    OpenTelemetry openTelemetry =
        OpenTelemetrySdk.builder()
            .setTracerProvider(tracerProvider)
            .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
            .build();

    try (Server server =
        Server.builder().listener(MachineryTracing.create(openTelemetry)).build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
      server.newWorker("traced", 4).launchAsync();

      Span request = openTelemetry.getTracer("my-service").spanBuilder("POST /sums").startSpan();
      try (Scope scope = request.makeCurrent()) {
        server
            .sendChain(
                Chain.of(
                    Signature.create("add", Arg.of(1L), Arg.of(2L)),
                    Signature.create("add", Arg.of(3L))))
            .get(Duration.ofSeconds(10));
      } finally {
        request.end();
      }
      // README:tracing:end
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  exporter.getFinishedSpanItems().stream()
                          .filter(s -> s.getKind() == SpanKind.CONSUMER)
                          .count()
                      == 2);
    }
    String tree = draw(exporter.getFinishedSpanItems());
    tracerProvider.close(); // shutting down also empties the in-memory exporter
    String source =
        Files.readString(
            Path.of("src/test/java/io/machinery/opentelemetry/ReadmeTracingTest.java"));
    String begin = "// README:tracing:begin\n";
    int from = source.indexOf(begin) + begin.length();
    String snippet =
        source.substring(from, source.indexOf("// README:tracing:end", from)).stripIndent();
    String readme = Files.readString(Path.of("../README.md"));
    assertThat(readme).as("README.md quotes ReadmeTracingTest").contains(snippet);
    assertThat(readme).as("README.md shows the recorded tree").contains(tree);
  }

  /** The spans of one trace as an indented tree: name and task name, children in start order. */
  private static String draw(List<SpanData> spans) {
    assertThat(spans).extracting(SpanData::getTraceId).containsOnly(spans.get(0).getTraceId());
    StringBuilder out = new StringBuilder();
    spans.stream()
        .filter(s -> !s.getParentSpanContext().isValid())
        .forEach(root -> draw(spans, root, 0, out));
    return out.toString();
  }

  private static void draw(List<SpanData> spans, SpanData span, int depth, StringBuilder out) {
    String task = span.getAttributes().get(MachineryTracing.TASK_NAME);
    out.append("  ".repeat(depth))
        .append(span.getName())
        .append(task == null ? "" : "  [" + task + ", " + span.getKind() + "]")
        .append('\n');
    spans.stream()
        .filter(s -> s.getParentSpanId().equals(span.getSpanId()))
        .sorted(java.util.Comparator.comparingLong(SpanData::getStartEpochNanos))
        .forEach(child -> draw(spans, child, depth + 1, out));
  }
}
