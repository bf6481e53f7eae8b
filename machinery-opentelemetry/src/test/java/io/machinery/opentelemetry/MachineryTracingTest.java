package io.machinery.opentelemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.BatchPolicy;
import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Dag;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.TaskListener;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Spans recorded by the SDK's in-memory exporter from a real worker on the memory broker and
 * backend.
 */
class MachineryTracingTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private final Config config = Config.DEFAULT;
  private final InMemorySpanExporter exporter = InMemorySpanExporter.create();
  private final Map<String, Object> headersSeen = new ConcurrentHashMap<>();
  private SdkTracerProvider tracerProvider;
  private OpenTelemetry openTelemetry;
  private MemoryBroker broker;
  private MemoryBackend backend;
  private Server server;

  @BeforeEach
  void setUp() {
    tracerProvider =
        SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter)).build();
    openTelemetry =
        OpenTelemetrySdk.builder()
            .setTracerProvider(tracerProvider)
            .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance()))
            .build();
    broker = MemoryBroker.create(config, Clock.systemUTC());
    backend = MemoryBackend.create(config, Clock.systemUTC());
    server =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .listener(MachineryTracing.create(openTelemetry))
            .build();
    server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
    server.registerTask(
        "peek",
        TaskFunction.withContext(
            List.of(),
            false,
            (ctx, args) -> {
              headersSeen.putAll(ctx.signature().headers());
              headersSeen.put("current span", Span.current().getSpanContext().getSpanId());
              return null;
            }));
    server.registerTask(
        "boom",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("it broke");
            }));
    server.newWorker("tracing", 4).launchAsync();
  }

  @AfterEach
  void tearDown() {
    server.close();
    broker.close();
    backend.close();
    tracerProvider.close();
  }

  private List<SpanData> awaitSpans(Predicate<List<SpanData>> done) {
    await().atMost(TIMEOUT).until(() -> done.test(exporter.getFinishedSpanItems()));
    return exporter.getFinishedSpanItems();
  }

  private static long count(List<SpanData> spans, SpanKind kind) {
    return spans.stream().filter(s -> s.getKind() == kind).count();
  }

  private static SpanData only(List<SpanData> spans, SpanKind kind, String taskName) {
    List<SpanData> found =
        spans.stream()
            .filter(s -> s.getKind() == kind)
            .filter(s -> taskName.equals(s.getAttributes().get(MachineryTracing.TASK_NAME)))
            .toList();
    assertThat(found).as("%s spans of %s", kind, taskName).hasSize(1);
    return found.get(0);
  }

  /**
   * A run that did not happen ends its span with status ERROR, the text for people as its
   * description and the cause for programs as an attribute, in lower case as Micrometer tags it.
   */
  @Test
  void aRunThatDidNotRunCarriesItsCause() {
    MachineryTracing tracing = MachineryTracing.create(openTelemetry);
    Signature outage = Signature.create("add");
    tracing.received(outage, "q");
    tracing.notRun(
        outage,
        TaskListener.NotRunCause.BACKEND_FAILED,
        "io.machinery.MachineryException: connection refused");

    SpanData span =
        only(awaitSpans(s -> count(s, SpanKind.CONSUMER) == 1), SpanKind.CONSUMER, "add");
    assertThat(span.getAttributes().get(MachineryTracing.NOT_RUN_CAUSE))
        .isEqualTo("backend_failed");
    assertThat(span.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(span.getStatus().getDescription())
        .isEqualTo("not run: io.machinery.MachineryException: connection refused");
  }

  @Test
  void aTaskGetsAProducerAndAConsumerSpanLinkedThroughTraceparentHeaders() {
    Span parent = openTelemetry.getTracer("test").spanBuilder("request").startSpan();
    String uuid;
    try (Scope ignored = parent.makeCurrent()) {
      uuid = server.sendTask(Signature.create("peek")).signature().uuid();
    } finally {
      parent.end();
    }

    List<SpanData> spans = awaitSpans(s -> count(s, SpanKind.CONSUMER) == 1);
    SpanData send = only(spans, SpanKind.PRODUCER, "peek");
    SpanData process = only(spans, SpanKind.CONSUMER, "peek");
    String queue = config.defaultQueue();
    assertThat(send.getName()).isEqualTo("send " + queue);
    assertThat(process.getName()).isEqualTo("process " + queue);
    assertThat(send.getParentSpanId()).isEqualTo(parent.getSpanContext().getSpanId());
    assertThat(process.getParentSpanId()).isEqualTo(send.getSpanId());
    assertThat(process.getTraceId()).isEqualTo(parent.getSpanContext().getTraceId());
    assertThat(process.getAttributes().get(MachineryTracing.SYSTEM)).isEqualTo("machinery");
    assertThat(process.getAttributes().get(MachineryTracing.DESTINATION)).isEqualTo(queue);
    assertThat(process.getAttributes().get(MachineryTracing.OPERATION_TYPE)).isEqualTo("process");
    assertThat(send.getAttributes().get(MachineryTracing.OPERATION_TYPE)).isEqualTo("send");
    assertThat(process.getAttributes().get(MachineryTracing.MESSAGE_ID)).isEqualTo(uuid);
    assertThat(process.getAttributes().get(MachineryTracing.STATE)).isEqualTo("SUCCESS");
    assertThat(process.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
    // a string header, as Go's AMQP broker needs, in W3C form
    assertThat(headersSeen.get("traceparent"))
        .isInstanceOf(String.class)
        .isEqualTo(
            "00-"
                + send.getTraceId()
                + "-"
                + send.getSpanId()
                + "-"
                + send.getSpanContext().getTraceFlags().asHex());
    assertThat(headersSeen.get("current span"))
        .as("the consumer span is current while the task runs")
        .isEqualTo(process.getSpanId());
  }

  @Test
  void aChainIsOnePathInOneTrace() {
    server.sendChain(
        Chain.of(
            Signature.create("add", Arg.of(1L), Arg.of(1L)),
            Signature.create("add", Arg.of(5L)),
            Signature.create("peek")));

    List<SpanData> spans = awaitSpans(s -> count(s, SpanKind.CONSUMER) == 3);
    assertThat(spans).extracting(SpanData::getTraceId).containsOnly(spans.get(0).getTraceId());
    // root: send(add) -> process(add) -> send(add) -> process(add) -> send(peek) -> process(peek)
    SpanData processPeek = only(spans, SpanKind.CONSUMER, "peek");
    SpanData sendPeek = only(spans, SpanKind.PRODUCER, "peek");
    assertThat(processPeek.getParentSpanId()).isEqualTo(sendPeek.getSpanId());
    SpanData parentOfSendPeek = byId(spans, sendPeek.getParentSpanId());
    assertThat(parentOfSendPeek.getKind()).isEqualTo(SpanKind.CONSUMER);
    SpanData sendSecond = byId(spans, parentOfSendPeek.getParentSpanId());
    assertThat(sendSecond.getKind()).isEqualTo(SpanKind.PRODUCER);
    SpanData processFirst = byId(spans, sendSecond.getParentSpanId());
    SpanData sendFirst = byId(spans, processFirst.getParentSpanId());
    assertThat(sendFirst.getParentSpanContext().isValid())
        .as("the chain's first send is the root")
        .isFalse();
  }

  @Test
  void aChordSentInsideASpanIsOneTreeWithTheCallbackUnderAMember() throws Exception {
    Span parent = openTelemetry.getTracer("test").spanBuilder("request").startSpan();
    try (Scope ignored = parent.makeCurrent()) {
      Group group =
          Group.of(
              Signature.create("add", Arg.of(1L)),
              Signature.create("add", Arg.of(2L)),
              Signature.create("add", Arg.of(3L)));
      server.sendChord(Chord.of(group, Signature.create("peek")), 2);
    } finally {
      parent.end();
    }

    List<SpanData> spans = awaitSpans(s -> count(s, SpanKind.CONSUMER) == 4);
    assertThat(spans)
        .extracting(SpanData::getTraceId)
        .containsOnly(parent.getSpanContext().getTraceId());
    assertThat(
            spans.stream()
                .filter(
                    s ->
                        s.getKind() == SpanKind.PRODUCER
                            && "add".equals(s.getAttributes().get(MachineryTracing.TASK_NAME))))
        .hasSize(3)
        .allSatisfy(
            s -> assertThat(s.getParentSpanId()).isEqualTo(parent.getSpanContext().getSpanId()))
        .allSatisfy(
            s -> assertThat(s.getAttributes().get(MachineryTracing.GROUP_UUID)).isNotEmpty());
    SpanData callbackSend = only(spans, SpanKind.PRODUCER, "peek");
    SpanData completer = byId(spans, callbackSend.getParentSpanId());
    assertThat(completer.getKind()).isEqualTo(SpanKind.CONSUMER);
    assertThat(completer.getAttributes().get(MachineryTracing.TASK_NAME)).isEqualTo("add");
  }

  @Test
  void aDagSentInsideASpanIsOneTraceWithEachJoinSentUnderOneOfItsDependencies() {
    Span parent = openTelemetry.getTracer("test").spanBuilder("request").startSpan();
    try (Scope ignored = parent.makeCurrent()) {
      server.sendDag(
          Dag.builder()
              .task("a", Signature.create("add", Arg.of(1L)))
              .task("b", Signature.create("add", Arg.of(2L)))
              .task("c", Signature.create("add"), "a", "b")
              .task("d", Signature.create("peek").toBuilder().immutable(true).build(), "c", "a")
              .build());
    } finally {
      parent.end();
    }

    List<SpanData> spans = awaitSpans(s -> count(s, SpanKind.CONSUMER) == 4);
    assertThat(spans)
        .extracting(SpanData::getTraceId)
        .containsOnly(parent.getSpanContext().getTraceId());
    // d is sent under the run of one of its dependencies (c, or a), itself sent under ...
    SpanData sendD = only(spans, SpanKind.PRODUCER, "peek");
    SpanData completer = byId(spans, sendD.getParentSpanId());
    assertThat(completer.getKind()).isEqualTo(SpanKind.CONSUMER);
    assertThat(completer.getAttributes().get(MachineryTracing.TASK_NAME)).isEqualTo("add");
    assertThat(
            spans.stream()
                .filter(s -> s.getKind() == SpanKind.PRODUCER)
                .filter(s -> s.getParentSpanId().equals(parent.getSpanContext().getSpanId())))
        .as("the two first tasks are sent under the request")
        .hasSize(2);
  }

  @Test
  void aRetryIsAnEventAndAChildSendAndTheFinalFailureAnErrorStatus() {
    server.sendTask(Signature.builder("boom").retryCount(1).build());

    List<SpanData> spans = awaitSpans(s -> count(s, SpanKind.CONSUMER) == 2);
    List<SpanData> runs = spans.stream().filter(s -> s.getKind() == SpanKind.CONSUMER).toList();
    SpanData first = runs.get(0);
    SpanData last = runs.get(1);
    assertThat(first.getAttributes().get(MachineryTracing.STATE)).isEqualTo("RETRY");
    assertThat(first.getEvents())
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("machinery.retry");
              assertThat(e.getAttributes().get(MachineryTracing.EXCEPTION_MESSAGE))
                  .isEqualTo("it broke");
            });
    assertThat(first.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
    SpanData retrySend = byId(spans, last.getParentSpanId());
    assertThat(retrySend.getKind()).isEqualTo(SpanKind.PRODUCER);
    assertThat(retrySend.getParentSpanId())
        .as("the retry is sent from inside the first run")
        .isEqualTo(first.getSpanId());
    assertThat(last.getAttributes().get(MachineryTracing.STATE)).isEqualTo("FAILURE");
    assertThat(last.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(last.getStatus().getDescription()).isEqualTo("it broke");
    assertThat(last.getEvents()).anySatisfy(e -> assertThat(e.getName()).isEqualTo("exception"));
  }

  /**
   * A batched function's call has a span of its own, current while it runs (its calls are its
   * children), with no parent and a link to each of its tasks' sends; a batch the function fails
   * ends it with status ERROR.
   */
  @Test
  void aBatchedFunctionRunsInASpanLinkedToItsTasksSends() {
    server.registerTask(
        "index",
        TaskFunction.batched(
            String.class,
            BatchPolicy.of(3, Duration.ofSeconds(5)),
            ids -> {
              openTelemetry.getTracer("test").spanBuilder("bulk index").startSpan().end();
              if (ids.contains("broken")) {
                throw new IllegalStateException("the index is down");
              }
              return ids.stream().map(id -> (Object) ("indexed " + id)).toList();
            }));
    List<String> uuids =
        List.of("a", "b", "c").stream()
            .map(id -> server.sendTask(Signature.create("index", Arg.of(id))).signature().uuid())
            .toList();

    List<SpanData> spans = awaitSpans(s -> count(s, SpanKind.CONSUMER) == 4);
    SpanData bulk = spans.stream().filter(s -> s.getName().equals("bulk index")).findFirst().get();
    SpanData batch = byId(spans, bulk.getParentSpanId());
    assertThat(batch.getKind()).isEqualTo(SpanKind.CONSUMER);
    assertThat(batch.getName()).isEqualTo("process " + config.defaultQueue());
    assertThat(batch.getParentSpanContext().isValid()).as("no parent").isFalse();
    assertThat(batch.getAttributes().get(MachineryTracing.BATCH_SIZE)).isEqualTo(3L);
    assertThat(batch.getAttributes().get(MachineryTracing.TASK_NAME)).isEqualTo("index");
    assertThat(batch.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
    List<String> sendIds =
        spans.stream()
            .filter(s -> s.getKind() == SpanKind.PRODUCER)
            .filter(s -> uuids.contains(s.getAttributes().get(MachineryTracing.MESSAGE_ID)))
            .map(SpanData::getSpanId)
            .toList();
    assertThat(sendIds).hasSize(3);
    assertThat(batch.getLinks())
        .extracting(link -> link.getSpanContext().getSpanId())
        .containsExactlyInAnyOrderElementsOf(sendIds);
    assertThat(batch.getLinks())
        .extracting(link -> link.getAttributes().get(MachineryTracing.MESSAGE_ID))
        .containsExactlyInAnyOrderElementsOf(uuids);

    exporter.reset();
    for (String id : List.of("broken", "d", "e")) {
      server.sendTask(Signature.create("index", Arg.of(id)));
    }
    SpanData failed =
        awaitSpans(s -> count(s, SpanKind.CONSUMER) == 4).stream()
            .filter(s -> s.getAttributes().get(MachineryTracing.BATCH_SIZE) != null)
            .findFirst()
            .orElseThrow();
    assertThat(failed.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(failed.getStatus().getDescription())
        .isEqualTo("the batch failed: the index is down");
    assertThat(failed.getEvents()).anySatisfy(e -> assertThat(e.getName()).isEqualTo("exception"));
  }

  private static SpanData byId(List<SpanData> spans, String spanId) {
    return spans.stream()
        .filter(s -> s.getSpanId().equals(spanId))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no span " + spanId + " among " + spans));
  }
}
