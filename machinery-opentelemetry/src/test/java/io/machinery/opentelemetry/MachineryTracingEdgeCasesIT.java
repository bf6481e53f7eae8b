package io.machinery.opentelemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.BatchPolicy;
import io.machinery.Chain;
import io.machinery.RetryTaskLaterException;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.baggage.BaggageBuilder;
import io.opentelemetry.api.baggage.propagation.W3CBaggagePropagator;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * How tracing holds up where production hits it, through a real Redis broker and backend: baggage
 * across a hop, hostile trace headers written by another producer, huge error texts, and the span
 * of every way a run can end.
 */
class MachineryTracingEdgeCasesIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  private final InMemorySpanExporter exporter = InMemorySpanExporter.create();
  private final Map<String, String> tenantSeen = new ConcurrentHashMap<>();
  private final Map<String, Integer> baggageSizeSeen = new ConcurrentHashMap<>();
  private final Map<String, String> spanSeen = new ConcurrentHashMap<>();
  private final Map<String, Integer> baggageCharsSeen = new ConcurrentHashMap<>();
  private final CountDownLatch blockedStarted = new CountDownLatch(1);
  private final CountDownLatch releaseBlocked = new CountDownLatch(1);
  private SdkTracerProvider tracerProvider;
  private OpenTelemetry openTelemetry;
  private Config config;
  private RedisBroker broker;
  private RedisBackend backend;
  private Server server;
  private Worker worker;

  @BeforeEach
  void setUp() {
    tracerProvider =
        SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter)).build();
    openTelemetry =
        OpenTelemetrySdk.builder()
            .setTracerProvider(tracerProvider)
            .setPropagators(
                ContextPropagators.create(
                    TextMapPropagator.composite(
                        W3CTraceContextPropagator.getInstance(),
                        W3CBaggagePropagator.getInstance(),
                        new FakeOtBaggagePropagator())))
            .build();
    String redis = TestEndpoints.redisUrl();
    config =
        BrokerContract.uniqueQueue(
            Config.builder().broker(redis).resultBackend(redis).build(), "tracing_edges_");
    broker = RedisBroker.create(config);
    backend = RedisBackend.create(config);
    server =
        Server.builder()
            .config(config)
            .broker(broker)
            .backend(backend)
            .listener(MachineryTracing.create(openTelemetry))
            .build();
    server.registerTask(
        "tenant",
        TaskFunction.withContext(
            List.of(),
            false,
            (ctx, args) -> {
              String tenant = Baggage.current().getEntryValue("tenant");
              tenantSeen.put(ctx.signature().uuid(), tenant == null ? "none" : tenant);
              spanSeen.put(ctx.signature().uuid(), Span.current().getSpanContext().getSpanId());
              baggageSizeSeen.put(ctx.signature().uuid(), Baggage.current().size());
              int[] chars = {0};
              Baggage.current()
                  .forEach((key, entry) -> chars[0] += key.length() + entry.getValue().length());
              baggageCharsSeen.put(ctx.signature().uuid(), chars[0]);
              return null;
            }));
    server.registerTask(
        "shout",
        TaskFunction.of(
            () -> {
              throw new IllegalStateException("x".repeat(100_000));
            }));
    server.registerTask(
        "panic",
        TaskFunction.of(
            () -> {
              throw new AssertionError("an Error, not an Exception");
            }));
    server.registerTask(
        "later",
        TaskFunction.of(
            () -> {
              throw new RetryTaskLaterException("not yet", Duration.ofHours(1));
            }));
    server.registerTask(
        "blocked",
        TaskFunction.of(
            () -> {
              blockedStarted.countDown();
              releaseBlocked.await();
              return null;
            }));
    worker =
        server
            .workerBuilder("tracing-edges")
            .concurrency(4)
            .gracefulTimeout(Duration.ofMillis(200))
            .build();
    worker.launchAsync();
  }

  @AfterEach
  void tearDown() {
    releaseBlocked.countDown();
    worker.quit();
    server.close();
    broker.close();
    backend.close();
    tracerProvider.close();
  }

  private List<SpanData> awaitSpans(Predicate<List<SpanData>> done) {
    await().atMost(TIMEOUT).until(() -> done.test(exporter.getFinishedSpanItems()));
    return exporter.getFinishedSpanItems();
  }

  private static List<SpanData> runsOf(List<SpanData> spans, String taskName) {
    return spans.stream()
        .filter(s -> s.getKind() == SpanKind.CONSUMER)
        .filter(s -> taskName.equals(s.getAttributes().get(MachineryTracing.TASK_NAME)))
        .toList();
  }

  /**
   * Baggage set where a task is sent is current while it runs and goes on with what it sends (the
   * next step of a chain), as OpenTelemetry's messaging instrumentations carry it. It was lost: the
   * worker made only the span current, not the context extracted from the message.
   */
  @Test
  void baggageSentWithATaskIsCurrentInItAndGoesOnWithTheNextStepOfItsChain() {
    Signature first = Signature.create("tenant");
    Signature second = Signature.create("tenant");
    Context withTenant = Context.current().with(Baggage.builder().put("tenant", "acme").build());
    try (Scope ignored = withTenant.makeCurrent()) {
      server.sendChain(Chain.of(first, second)).get(TIMEOUT);
    }

    assertThat(tenantSeen).containsOnlyKeys(first.uuid(), second.uuid());
    assertThat(tenantSeen.values()).containsOnly("acme");
  }

  /**
   * A task with a deadline runs its function on another thread than the delivery's: the run's span
   * and the sender's baggage are current there too. Before, the function ran outside the span (its
   * own calls started traces of their own) and without the baggage.
   */
  @Test
  void aTaskWithADeadlineRunsInsideItsSpanWithItsBaggage() {
    Signature timed =
        Signature.builder("tenant").headers(Map.of(Worker.TIMEOUT_HEADER, "10s")).build();
    Context withTenant = Context.current().with(Baggage.builder().put("tenant", "acme").build());
    try (Scope ignored = withTenant.makeCurrent()) {
      server.sendTask(timed).get(TIMEOUT);
    }

    SpanData run = runsOf(awaitSpans(s -> runsOf(s, "tenant").size() == 1), "tenant").get(0);
    assertThat(spanSeen).containsEntry(timed.uuid(), run.getSpanId());
    assertThat(tenantSeen).containsEntry(timed.uuid(), "acme");
  }

  /**
   * A failed task kept among the dead letters ({@code keepFailedTasks}) is dead-lettered after its
   * run's span ended: a short span of its own, in the sender's trace, says so with the reason.
   * Before, the trace did not show it at all.
   */
  @Test
  void aFailedTaskKeptAmongTheDeadLettersShowsInItsTrace() {
    worker.quit();
    Worker keeping =
        server.workerBuilder("tracing-keeping").concurrency(1).keepFailedTasks(true).build();
    keeping.launchAsync();
    try {
      Signature panic = Signature.create("panic");
      server.sendTask(panic);

      List<SpanData> spans =
          awaitSpans(s -> s.stream().anyMatch(x -> x.getName().startsWith("dead-letter ")));
      SpanData run = runsOf(spans, "panic").get(0);
      SpanData deadLetter =
          spans.stream().filter(x -> x.getName().startsWith("dead-letter ")).findFirst().get();
      assertThat(deadLetter.getTraceId()).isEqualTo(run.getTraceId());
      assertThat(deadLetter.getParentSpanId()).isEqualTo(run.getParentSpanId()); // the send
      assertThat(deadLetter.getAttributes().get(MachineryTracing.REASON))
          .contains("kept to run again")
          .contains(panic.uuid());
    } finally {
      keeping.quit();
    }
  }

  /**
   * The batch send ({@code sendTasks}, one pipelined publish on Redis) and an asynchronous send,
   * both made inside a span: each task's send is a child of that span, ended once published, and
   * each run a child of its send, all in one trace.
   */
  @Test
  void batchAndAsynchronousSendsAreChildrenOfTheCallersSpan() {
    Span request = openTelemetry.getTracer("test").spanBuilder("POST /tenants").startSpan();
    List<Signature> batch =
        List.of(Signature.create("tenant"), Signature.create("tenant"), Signature.create("tenant"));
    Signature async = Signature.create("tenant");
    try (Scope ignored = request.makeCurrent()) {
      server.sendTasks(batch);
      server.sendTaskAsync(async).join();
    } finally {
      request.end();
    }

    List<SpanData> spans = awaitSpans(s -> runsOf(s, "tenant").size() == 4);
    List<SpanData> sends = spans.stream().filter(s -> s.getKind() == SpanKind.PRODUCER).toList();
    assertThat(sends)
        .hasSize(4)
        .allSatisfy(
            send -> {
              assertThat(send.getParentSpanId()).isEqualTo(request.getSpanContext().getSpanId());
              assertThat(send.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET);
            });
    assertThat(spans)
        .extracting(SpanData::getTraceId)
        .containsOnly(request.getSpanContext().getTraceId());
    assertThat(runsOf(spans, "tenant"))
        .extracting(SpanData::getParentSpanId)
        .containsExactlyInAnyOrderElementsOf(sends.stream().map(SpanData::getSpanId).toList());
  }

  /**
   * Trace headers written by another producer (a service without this listener, a Go program, an
   * attacker) that are malformed, huge or of the wrong type neither fail the task nor stop the
   * worker: each run starts a trace of its own, and a huge baggage header is not taken in.
   */
  @Test
  void hostileTraceHeadersNeitherFailTheTaskNorStopTheWorker() {
    String manyEntries =
        IntStream.range(0, 5_000).mapToObj(i -> "k" + i + "=v").collect(Collectors.joining(","));
    List<Map<String, Object>> hostile =
        List.of(
            Map.of("traceparent", "00-not-a-trace-id-01", "baggage", "=;,=;;%%%,tenant"),
            Map.of("traceparent", "00-" + "a".repeat(200_000), "tracestate", "k=v,".repeat(50_000)),
            Map.of(
                "traceparent",
                "00-00000000000000000000000000000000-0000000000000000-01",
                "baggage",
                manyEntries),
            Map.of("traceparent", 42L, "baggage", List.of("tenant=acme")),
            Map.of("baggage", "tenant=" + "y".repeat(300_000)));
    Map<String, Map<String, Object>> sentWith = new LinkedHashMap<>();
    // Sent by a server without the listener, so the headers reach the worker as written.
    try (Server plain = Server.builder().config(config).broker(broker).backend(backend).build()) {
      for (Map<String, Object> headers : hostile) {
        Signature signature = Signature.builder("tenant").headers(headers).build();
        plain.sendTask(signature);
        sentWith.put(signature.uuid(), headers);
      }
    }

    for (String uuid : sentWith.keySet()) {
      AsyncResult result = server.asyncResult(uuid);
      result.get(TIMEOUT);
      assertThat(result.state())
          .as("task sent with %s", sentWith.get(uuid))
          .isEqualTo(State.SUCCESS);
    }
    assertThat(baggageSizeSeen.values())
        .allSatisfy(size -> assertThat(size).isLessThanOrEqualTo(64));
    List<SpanData> runs = runsOf(awaitSpans(s -> runsOf(s, "tenant").size() == 5), "tenant");
    assertThat(runs)
        .allSatisfy(run -> assertThat(run.getParentSpanContext().isValid()).isFalse())
        .allSatisfy(run -> assertThat(run.getStatus().getStatusCode()).isEqualTo(StatusCode.UNSET));
    // A message that does not decode and one for a task registered nowhere have no run and no
    // span; the worker goes on, tracing the next task under its send.
    broker.publish(
        Signature.builder("garbage").routingKey(config.defaultQueue()).build(),
        "{not json".getBytes(StandardCharsets.UTF_8));
    server.sendTask(Signature.create("registered nowhere"));
    Signature next = Signature.create("tenant");
    server.sendTask(next).get(TIMEOUT);
    SpanData nextRun =
        awaitSpans(s -> runsOf(s, "tenant").size() == 6).stream()
            .filter(s -> next.uuid().equals(s.getAttributes().get(MachineryTracing.MESSAGE_ID)))
            .filter(s -> s.getKind() == SpanKind.CONSUMER)
            .findFirst()
            .orElseThrow();
    assertThat(nextRun.getParentSpanContext().isValid()).isTrue();
    assertThat(runsOf(exporter.getFinishedSpanItems(), "registered nowhere")).isEmpty();
  }

  /**
   * A message cannot make its task, and all the task sends or calls, carry a huge baggage, whatever
   * the propagator: a format with one header per entry (here OpenTracing's {@code ot-baggage-*})
   * takes every entry a message holds, the worker keeps what fits in the W3C limits.
   */
  @Test
  void aMessageCannotInflateTheBaggageOfItsTaskWhateverThePropagator() {
    Map<String, Object> headers = new LinkedHashMap<>();
    for (int i = 0; i < 5_000; i++) {
      headers.put(FakeOtBaggagePropagator.PREFIX + "k" + i, "v".repeat(20));
    }
    Signature manyEntries = Signature.builder("tenant").headers(headers).build();
    Signature oneHugeEntry =
        Signature.builder("tenant")
            .headers(Map.of(FakeOtBaggagePropagator.PREFIX + "huge", "z".repeat(500_000)))
            .build();
    try (Server plain = Server.builder().config(config).broker(broker).backend(backend).build()) {
      plain.sendTask(manyEntries);
      plain.sendTask(oneHugeEntry);
    }

    server.asyncResult(manyEntries.uuid()).get(TIMEOUT);
    server.asyncResult(oneHugeEntry.uuid()).get(TIMEOUT);
    assertThat(baggageSizeSeen.get(manyEntries.uuid()))
        .isEqualTo(MachineryTracing.MAX_BAGGAGE_ENTRIES);
    assertThat(baggageCharsSeen.get(manyEntries.uuid()))
        .isLessThanOrEqualTo(MachineryTracing.MAX_BAGGAGE_CHARS);
    assertThat(baggageSizeSeen.get(oneHugeEntry.uuid())).isZero();
  }

  /**
   * A task failing with a huge message does not put it into its span twice (status description and
   * exception event): both are cut, so one failure cannot make an exporter's batch too large.
   */
  @Test
  void aHugeErrorTextIsCutInTheSpan() {
    server.sendTask(Signature.create("shout"));

    SpanData run = runsOf(awaitSpans(s -> runsOf(s, "shout").size() == 1), "shout").get(0);
    int bound = MachineryTracing.MAX_TEXT_BYTES + 40;
    assertThat(run.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(run.getStatus().getDescription())
        .hasSizeLessThanOrEqualTo(bound)
        .startsWith("xxxx")
        .endsWith("bytes in all)");
    assertThat(run.getEvents())
        .filteredOn(e -> e.getName().equals("exception"))
        .singleElement()
        .satisfies(
            e ->
                assertThat(e.getAttributes().get(MachineryTracing.EXCEPTION_MESSAGE))
                    .hasSizeLessThanOrEqualTo(bound));
  }

  /**
   * A batched function failing with a huge message: its call's span cuts it too, in the status
   * description and in the exception event's message.
   */
  @Test
  void aHugeErrorOfABatchedFunctionIsCutInItsSpan() {
    server.registerTask(
        "index",
        TaskFunction.batched(
            String.class,
            BatchPolicy.of(1, Duration.ofSeconds(5)),
            ids -> {
              throw new IllegalStateException("y".repeat(100_000));
            }));
    server.sendTask(Signature.create("index", Arg.of("a")));

    SpanData call =
        awaitSpans(s -> s.stream().anyMatch(MachineryTracingEdgeCasesIT::isBatchCall)).stream()
            .filter(MachineryTracingEdgeCasesIT::isBatchCall)
            .findFirst()
            .orElseThrow();
    int bound = MachineryTracing.MAX_TEXT_BYTES + 40;
    assertThat(call.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(call.getStatus().getDescription()).hasSizeLessThanOrEqualTo(bound);
    assertThat(call.getEvents())
        .filteredOn(e -> e.getName().equals("exception"))
        .singleElement()
        .satisfies(
            e ->
                assertThat(e.getAttributes().get(MachineryTracing.EXCEPTION_MESSAGE))
                    .startsWith("yyyy")
                    .hasSizeLessThanOrEqualTo(bound));
  }

  private static boolean isBatchCall(SpanData span) {
    return span.getAttributes().get(MachineryTracing.BATCH_SIZE) != null;
  }

  /**
   * Every way a run ends ends its span: an {@code Error} thrown by the function, a retry later, and
   * a run abandoned by the worker's shutdown; and the worker keeps its spans apart afterwards.
   */
  @Test
  void everyWayARunEndsEndsItsSpan() throws Exception {
    server.sendTask(Signature.create("panic"));
    server.sendTask(Signature.create("later"));
    List<SpanData> spans =
        awaitSpans(s -> runsOf(s, "panic").size() == 1 && runsOf(s, "later").size() == 1);
    assertThat(runsOf(spans, "panic").get(0).getStatus().getStatusCode())
        .isEqualTo(StatusCode.ERROR);
    SpanData later = runsOf(spans, "later").get(0);
    assertThat(later.getAttributes().get(MachineryTracing.STATE)).isEqualTo("RETRY");
    assertThat(later.getEvents())
        .anySatisfy(e -> assertThat(e.getName()).isEqualTo("machinery.retry"));

    Signature blocked = Signature.create("blocked");
    server.sendTask(blocked);
    assertThat(blockedStarted.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    worker.quit(); // the graceful timeout passes: the run is abandoned
    SpanData abandoned =
        runsOf(awaitSpans(s -> runsOf(s, "blocked").size() == 1), "blocked").get(0);
    assertThat(abandoned.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
    assertThat(abandoned.getStatus().getDescription()).isEqualTo("not run: abandoned by shutdown");
    assertThat(abandoned.getAttributes().get(MachineryTracing.NOT_RUN_CAUSE)).isEqualTo("shutdown");
    assertThat(abandoned.getAttributes().get(MachineryTracing.MESSAGE_ID))
        .isEqualTo(blocked.uuid());
  }

  /**
   * A fake of the propagators that carry baggage as one header per entry (OpenTracing's {@code
   * ot-baggage-*}, Jaeger's {@code uberctx-*}), none of which is on the test class path: it reads
   * every entry a message holds, with no limit.
   */
  private static final class FakeOtBaggagePropagator implements TextMapPropagator {
    static final String PREFIX = "ot-baggage-";

    @Override
    public Collection<String> fields() {
      return List.of();
    }

    @Override
    public <C> void inject(Context context, @Nullable C carrier, TextMapSetter<C> setter) {
      Baggage.fromContext(context)
          .forEach((key, entry) -> setter.set(carrier, PREFIX + key, entry.getValue()));
    }

    @Override
    public <C> Context extract(Context context, @Nullable C carrier, TextMapGetter<C> getter) {
      if (carrier == null) {
        return context;
      }
      BaggageBuilder baggage = Baggage.fromContext(context).toBuilder();
      boolean found = false;
      for (String key : getter.keys(carrier)) {
        String value = getter.get(carrier, key);
        if (key.startsWith(PREFIX) && value != null) {
          baggage.put(key.substring(PREFIX.length()), value);
          found = true;
        }
      }
      return found ? context.with(baggage.build()) : context;
    }
  }
}
