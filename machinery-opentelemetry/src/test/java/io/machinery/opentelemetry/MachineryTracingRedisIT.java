package io.machinery.opentelemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Chain;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Duration;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * The trace context survives a real Redis broker: a chain run through Redis is one trace, each run
 * under its send.
 */
class MachineryTracingRedisIT {
  @Test
  void aChainThroughRedisIsOneTrace() {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    SdkTracerProvider tracerProvider =
        SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter)).build();
    OpenTelemetry openTelemetry =
        OpenTelemetrySdk.builder()
            .setTracerProvider(tracerProvider)
            .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
            .build();
    String redis = TestEndpoints.redisUrl();
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redis).resultBackend(redis).build(), "tracing_");
    try (RedisBroker broker = RedisBroker.create(config);
        RedisBackend backend = RedisBackend.create(config);
        Server server =
            Server.builder()
                .config(config)
                .broker(broker)
                .backend(backend)
                .listener(MachineryTracing.create(openTelemetry))
                .build()) {
      server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
      server.newWorker("tracing-redis", 2).launchAsync();

      List<Object> result =
          server
              .sendChain(
                  Chain.of(
                      Signature.create("add", Arg.of(1L), Arg.of(2L)),
                      Signature.create("add", Arg.of(3L))))
              .get(Duration.ofSeconds(20));

      assertThat(result).containsExactly(6L);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  exporter.getFinishedSpanItems().stream()
                          .filter(s -> s.getKind() == SpanKind.CONSUMER)
                          .count()
                      == 2);
      List<SpanData> spans = exporter.getFinishedSpanItems();
      assertThat(spans)
          .hasSize(4)
          .extracting(SpanData::getTraceId)
          .containsOnly(spans.get(0).getTraceId());
      for (SpanData process :
          spans.stream().filter(s -> s.getKind() == SpanKind.CONSUMER).toList()) {
        SpanData parent =
            spans.stream()
                .filter(s -> s.getSpanId().equals(process.getParentSpanId()))
                .findFirst()
                .orElseThrow();
        assertThat(parent.getKind()).isEqualTo(SpanKind.PRODUCER);
        assertThat(parent.getAttributes().get(MachineryTracing.MESSAGE_ID))
            .isEqualTo(process.getAttributes().get(MachineryTracing.MESSAGE_ID));
      }
    } finally {
      tracerProvider.close();
    }
  }
}
