package io.machinery.opentelemetry;

import io.machinery.BatchRun;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskListener;
import io.machinery.TaskOutcome;
import io.machinery.wire.ErrorText;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.baggage.BaggageBuilder;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * OpenTelemetry tracing for tasks: a {@link TaskListener} that opens a PRODUCER span per send and a
 * CONSUMER span per run, and carries the trace context from one to the other in the message's
 * {@code Headers}.
 *
 * <pre>{@code
 * Server server = Server.builder().broker(broker).backend(backend)
 *     .listener(MachineryTracing.create(openTelemetry))
 *     .build();
 * }</pre>
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Propagation.</b> The OpenTelemetry instance's text-map propagator (W3C {@code
 *       traceparent} and {@code tracestate} with the usual setup) writes into {@code
 *       Signature.Headers} as string values: Go's AMQP broker accepts them, and Go workers carry a
 *       message's unknown headers on (a Go retry resends them), so a task keeps its trace across a
 *       Go hop in a mixed fleet. What a Go worker sends next (a chain's next step, a callback)
 *       carries only the headers it was given when the workflow was sent, none from this listener,
 *       and starts a trace of its own. Go Machinery's own opentracing spans are no-ops unless a Go
 *       program sets a global tracer; one bridged to OpenTelemetry with the W3C propagator reads
 *       and writes the same headers (strings, {@code tasks.Headers}' text map). A worker extracts
 *       from the message alone, never from what is current on its thread, and makes the whole
 *       extracted context current, baggage included, cut to the W3C limits whatever the propagator
 *       (at most {@value #MAX_BAGGAGE_ENTRIES} entries and {@value #MAX_BAGGAGE_CHARS} characters):
 *       a message cannot make every later send and call of its task carry a huge baggage. A
 *       malformed or oversized {@code traceparent} is ignored: the run starts a trace of its own.
 *   <li><b>One tree per workflow.</b> The consumer span is current while the task runs and while
 *       the worker sends what follows (retries, success and error callbacks, the next step of a
 *       chain, a chord's callback), so those sends are its children: a chain is one path, a chord's
 *       callback hangs under the member that completed the group. A group or chord is one trace
 *       when it is sent inside a span (the members' producer spans share that parent); sent with no
 *       span current, each member starts its own.
 *   <li><b>Semantic conventions</b> (messaging): span names {@code "send <queue>"} and {@code
 *       "process <queue>"}, {@code messaging.system=machinery}, {@code messaging.destination.name},
 *       {@code messaging.operation.type} ({@code send}/{@code process}), {@code
 *       messaging.message.id} (the task UUID); plus {@code machinery.task.name}, {@code
 *       machinery.group.uuid}, {@code machinery.task.state}.
 *   <li><b>Errors and retries.</b> A failed task ends its span with status ERROR and an {@code
 *       exception} event carrying the stored error text; a retry adds a {@code machinery.retry}
 *       event (the retry's own send is a child span); a task dead-lettered before its run ended
 *       (requeued past {@code maxDeliveries}) adds {@code machinery.dead_lettered} with the reason;
 *       one dead-lettered after its span ended (by {@code keepFailedTasks} or a bookkeeping
 *       failure) gets an INTERNAL span {@code "dead-letter <queue>"} of its own with the reason, in
 *       the sender's trace, and one that could not be decoded has none; a run the worker abandoned
 *       or could not start ends with status ERROR and {@code machinery.not_run.cause}: {@code
 *       shutdown}, {@code backend_failed} or {@code error} ({@link TaskListener.NotRunCause} in
 *       lower case). Error texts and reasons are cut to {@value #MAX_TEXT_BYTES} bytes of UTF-8
 *       with core's {@link ErrorText#cut} (they come from task code; the SDK bounds no status
 *       description). Task arguments and results are never recorded.
 *   <li><b>Batched functions.</b> A call of a batched task function has a CONSUMER span of its own,
 *       {@code "process <queue>"} with {@code messaging.batch.message_count} (and {@code
 *       machinery.batch.key} for a keyed batch), current while the function runs, so the calls it
 *       makes (a bulk insert) are its children. Its tasks come from many traces, so it has no
 *       parent and links to each task's send instead (the messaging conventions' batch shape); each
 *       task keeps its own process span, which waits for the batch.
 *   <li><b>Threads.</b> Producer spans wait in a map by task UUID between {@code publishing} and
 *       {@code sent} (a group's publishes finish on other threads). Consumer spans and their scopes
 *       sit on a per-thread stack: the worker calls {@code received} and {@code finished} on one
 *       thread, nested when the eager broker runs a task inside another's send. With a task
 *       deadline or platform task threads the function itself runs on another thread, where {@link
 *       #handingOver} makes the span and baggage current too.
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class MachineryTracing implements TaskListener {
  static final String INSTRUMENTATION = "io.machinery";
  static final AttributeKey<String> SYSTEM = AttributeKey.stringKey("messaging.system");
  static final AttributeKey<String> DESTINATION =
      AttributeKey.stringKey("messaging.destination.name");
  static final AttributeKey<String> OPERATION_TYPE =
      AttributeKey.stringKey("messaging.operation.type");
  static final AttributeKey<String> OPERATION_NAME =
      AttributeKey.stringKey("messaging.operation.name");
  static final AttributeKey<String> MESSAGE_ID = AttributeKey.stringKey("messaging.message.id");
  static final AttributeKey<String> TASK_NAME = AttributeKey.stringKey("machinery.task.name");
  static final AttributeKey<String> GROUP_UUID = AttributeKey.stringKey("machinery.group.uuid");
  static final AttributeKey<String> STATE = AttributeKey.stringKey("machinery.task.state");
  static final AttributeKey<Long> RETRIES_LEFT =
      AttributeKey.longKey("machinery.task.retries_left");
  static final AttributeKey<String> REASON = AttributeKey.stringKey("machinery.reason");
  static final AttributeKey<String> NOT_RUN_CAUSE =
      AttributeKey.stringKey("machinery.not_run.cause");
  static final AttributeKey<String> EXCEPTION_MESSAGE = AttributeKey.stringKey("exception.message");
  static final AttributeKey<Long> BATCH_SIZE =
      AttributeKey.longKey("messaging.batch.message_count");
  static final AttributeKey<String> BATCH_KEY = AttributeKey.stringKey("machinery.batch.key");

  /** The longest error text or reason a span carries, in bytes of UTF-8, before it is cut. */
  static final int MAX_TEXT_BYTES = 1024;

  /** The most baggage entries a run takes from its message (as the W3C propagator keeps). */
  static final int MAX_BAGGAGE_ENTRIES = 64;

  /** The most characters of baggage a run takes from its message (the W3C header's 8192 bytes). */
  static final int MAX_BAGGAGE_CHARS = 8192;

  private static final TextMapSetter<Map<String, @Nullable Object>> SETTER =
      (carrier, key, value) -> {
        if (carrier != null) {
          carrier.put(key, value);
        }
      };

  private static final TextMapGetter<Map<String, @Nullable Object>> GETTER =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, @Nullable Object> carrier) {
          return carrier.keySet();
        }

        @Override
        public @Nullable String get(@Nullable Map<String, @Nullable Object> carrier, String key) {
          // Only strings: a header of another type under this name was not written by a propagator.
          return carrier != null && carrier.get(key) instanceof String value ? value : null;
        }
      };

  private record Active(String uuid, Span span, Scope scope) {}

  /** A batched function's call in progress: its span, current on the batch's thread. */
  private record BatchCall(Span span, Scope scope) {}

  private final Tracer tracer;
  private final TextMapPropagator propagator;
  private final ConcurrentHashMap<String, Span> sending = new ConcurrentHashMap<>();
  private final ThreadLocal<ArrayDeque<Active>> running = ThreadLocal.withInitial(ArrayDeque::new);
  private final ThreadLocal<@Nullable BatchCall> batchCall = new ThreadLocal<>();

  private MachineryTracing(OpenTelemetry openTelemetry) {
    this.tracer = openTelemetry.getTracer(INSTRUMENTATION);
    this.propagator = openTelemetry.getPropagators().getTextMapPropagator();
  }

  /** Traces with {@code openTelemetry}'s tracer provider and propagators. */
  public static MachineryTracing create(OpenTelemetry openTelemetry) {
    return new MachineryTracing(Objects.requireNonNull(openTelemetry, "openTelemetry"));
  }

  private static Attributes attributes(Signature signature, String queue, String operation) {
    var builder =
        Attributes.builder()
            .put(SYSTEM, "machinery")
            .put(DESTINATION, queue)
            .put(OPERATION_TYPE, operation)
            .put(OPERATION_NAME, operation)
            .put(MESSAGE_ID, signature.uuid())
            .put(TASK_NAME, signature.name());
    if (!signature.groupUuid().isEmpty()) {
      builder.put(GROUP_UUID, signature.groupUuid());
    }
    return builder.build();
  }

  // -------------------------------------------------------------------------------------------
  // producer

  @Override
  public Signature publishing(Signature signature) {
    String queue = signature.routingKey();
    Span span =
        tracer
            .spanBuilder("send " + queue)
            .setSpanKind(SpanKind.PRODUCER)
            .setParent(Context.current())
            .setAllAttributes(attributes(signature, queue, "send"))
            .startSpan();
    Span previous = sending.put(signature.uuid(), span);
    if (previous != null) {
      previous
          .end(); // the same UUID sent again before its first send finished: do not leak the first
      // span
    }
    Map<String, @Nullable Object> headers = new LinkedHashMap<>(signature.headers());
    propagator.inject(Context.current().with(span), headers, SETTER);
    return signature.toBuilder().headers(headers).build();
  }

  @Override
  public void sent(Signature signature, @Nullable Throwable error) {
    Span span = sending.remove(signature.uuid());
    if (span == null) {
      return;
    }
    if (error != null) {
      recordException(span, error);
      span.setStatus(StatusCode.ERROR, bounded("publish failed: " + error.getMessage()));
    }
    span.end();
  }

  // -------------------------------------------------------------------------------------------
  // consumer

  @Override
  @SuppressWarnings(
      "MustBeClosedChecker") // the Scope is kept in Active and closed when the run ends
  // (finished/notRun)
  public void received(Signature signature, String queue) {
    // From the root, not from whatever is current on this thread: the message alone says where the
    // run belongs. The extracted context itself becomes current (not only the span), so the
    // sender's baggage reaches the task and its follow-up sends, as in OpenTelemetry's own
    // messaging instrumentations; within the W3C limits whatever the propagator.
    Context parent =
        withBoundedBaggage(propagator.extract(Context.root(), signature.headers(), GETTER));
    Span span =
        tracer
            .spanBuilder("process " + queue)
            .setSpanKind(SpanKind.CONSUMER)
            .setParent(parent)
            .setAllAttributes(attributes(signature, queue, "process"))
            .setAttribute(RETRIES_LEFT, (long) signature.retryCount())
            .startSpan();
    running.get().push(new Active(signature.uuid(), span, parent.with(span).makeCurrent()));
  }

  @Override
  public void started(Signature signature) {
    Active active = top(signature);
    if (active != null) {
      active.span().addEvent("machinery.started");
    }
  }

  /**
   * The function runs on another thread (a deadline, platform task threads): the context current
   * here, the process span and the sender's baggage, is made current there while it runs.
   */
  @Override
  public <T extends @Nullable Object> Callable<T> handingOver(
      Signature signature, Callable<T> call) {
    return Context.current().wrap(call);
  }

  @Override
  public void finished(TaskOutcome outcome) {
    Active active = pop(outcome.signature());
    if (active == null) {
      return;
    }
    Span span = active.span();
    span.setAttribute(STATE, outcome.state().name());
    String error = bounded(outcome.error().orElse(""));
    if (outcome.state() == State.RETRY) {
      span.addEvent(
          "machinery.retry",
          error.isEmpty() ? Attributes.empty() : Attributes.of(EXCEPTION_MESSAGE, error));
    } else if (outcome.state() == State.FAILURE) {
      span.addEvent("exception", Attributes.of(EXCEPTION_MESSAGE, error));
      span.setStatus(StatusCode.ERROR, error);
    }
    if (!outcome.recorded()) {
      span.setStatus(StatusCode.ERROR, "the outcome could not be recorded");
    }
    end(active);
  }

  @Override
  public void notRun(Signature signature, NotRunCause cause, String reason) {
    Active active = pop(signature);
    if (active != null) {
      active.span().setAttribute(NOT_RUN_CAUSE, cause.name().toLowerCase(Locale.ROOT));
      active.span().setStatus(StatusCode.ERROR, bounded("not run: " + reason));
      end(active);
    }
  }

  @Override
  public void deadLettered(String queue, @Nullable Signature signature, String reason) {
    if (signature == null) {
      return; // an undecodable message: nothing says which trace it belongs to
    }
    Active active = top(signature);
    if (active != null) {
      active.span().addEvent("machinery.dead_lettered", Attributes.of(REASON, bounded(reason)));
      return;
    }
    // The run's span has ended (a failed task kept by keepFailedTasks, a bookkeeping failure): a
    // short span of its own, in the sender's trace, says where the message went.
    Context parent = propagator.extract(Context.root(), signature.headers(), GETTER);
    Span span =
        tracer
            .spanBuilder("dead-letter " + queue)
            .setSpanKind(SpanKind.INTERNAL)
            .setParent(parent)
            .setAllAttributes(attributes(signature, queue, "settle"))
            .setAttribute(REASON, bounded(reason))
            .startSpan();
    span.end();
  }

  // -------------------------------------------------------------------------------------------
  // batched functions

  /**
   * Opens the batch call's span, current while the function runs: a CONSUMER span {@code "process
   * <queue>"} with no parent (its tasks come from several traces) and a link to each task's send.
   */
  @Override
  @SuppressWarnings("MustBeClosedChecker") // the Scope is kept in BatchCall and closed in batchRan
  public void batchStarting(String key, List<Signature> tasks) {
    Signature first = tasks.get(0);
    String queue = first.routingKey();
    SpanBuilder builder =
        tracer
            .spanBuilder("process " + queue)
            .setSpanKind(SpanKind.CONSUMER)
            .setNoParent()
            .setAttribute(SYSTEM, "machinery")
            .setAttribute(DESTINATION, queue)
            .setAttribute(OPERATION_TYPE, "process")
            .setAttribute(OPERATION_NAME, "process")
            .setAttribute(TASK_NAME, first.name())
            .setAttribute(BATCH_SIZE, (long) tasks.size());
    if (!key.isEmpty()) {
      builder.setAttribute(BATCH_KEY, key);
    }
    for (Signature task : tasks) {
      SpanContext sent =
          Span.fromContext(propagator.extract(Context.root(), task.headers(), GETTER))
              .getSpanContext();
      if (sent.isValid()) {
        builder.addLink(sent, Attributes.of(MESSAGE_ID, task.uuid()));
      }
    }
    Span span = builder.startSpan();
    BatchCall previous = batchCall.get();
    if (previous != null) { // its batchRan never came: do not leak its span
      end(previous.span(), previous.scope());
    }
    batchCall.set(new BatchCall(span, span.makeCurrent()));
  }

  /** Ends the batch call's span, with status ERROR when the function failed the whole batch. */
  @Override
  public void batchRan(BatchRun run) {
    BatchCall call = batchCall.get();
    if (call == null) {
      return;
    }
    batchCall.remove();
    Throwable error = run.error();
    if (error != null) {
      recordException(call.span(), error);
      call.span().setStatus(StatusCode.ERROR, bounded("the batch failed: " + error.getMessage()));
    }
    end(call.span(), call.scope());
  }

  private @Nullable Active top(Signature signature) {
    Active top = running.get().peek();
    return top != null && top.uuid().equals(signature.uuid()) ? top : null;
  }

  private @Nullable Active pop(Signature signature) {
    ArrayDeque<Active> stack = running.get();
    Active top = stack.peek();
    if (top == null || !top.uuid().equals(signature.uuid())) {
      return null;
    }
    stack.pop();
    if (stack.isEmpty()) {
      running.remove();
    }
    return top;
  }

  /**
   * {@code context} with its baggage cut to the W3C limits ({@link #MAX_BAGGAGE_ENTRIES} entries,
   * {@link #MAX_BAGGAGE_CHARS} characters of keys, values and metadata), keeping the entries that
   * fit in the baggage's order. The W3C propagator already drops more, but a propagator of another
   * format (Jaeger's {@code uberctx-*}, OpenTracing's {@code ot-baggage-*} headers) takes every
   * entry a message holds, and the baggage goes on into every follow-up message and outgoing call
   * of the task.
   */
  static Context withBoundedBaggage(Context context) {
    Baggage baggage = Baggage.fromContextOrNull(context);
    if (baggage == null || baggage.isEmpty()) {
      return context;
    }
    BaggageBuilder kept = Baggage.builder();
    int[] entries = {0};
    int[] chars = {0};
    boolean[] cut = {false};
    baggage.forEach(
        (key, entry) -> {
          int length =
              key.length() + entry.getValue().length() + entry.getMetadata().getValue().length();
          if (entries[0] < MAX_BAGGAGE_ENTRIES && chars[0] + length <= MAX_BAGGAGE_CHARS) {
            entries[0]++;
            chars[0] += length;
            kept.put(key, entry.getValue(), entry.getMetadata());
          } else {
            cut[0] = true;
          }
        });
    return cut[0] ? context.with(kept.build()) : context;
  }

  /**
   * {@code text} cut to {@link #MAX_TEXT_BYTES}: error texts and reasons come from task code and
   * messages, and the SDK bounds neither a status description nor, by default, an attribute value.
   */
  private static String bounded(String text) {
    return ErrorText.cut(text, MAX_TEXT_BYTES);
  }

  /** Records {@code error} as an {@code exception} event, its message {@link #bounded}. */
  private static void recordException(Span span, Throwable error) {
    String message = error.getMessage();
    span.recordException(
        error,
        message == null ? Attributes.empty() : Attributes.of(EXCEPTION_MESSAGE, bounded(message)));
  }

  private static void end(Active active) {
    end(active.span(), active.scope());
  }

  private static void end(Span span, Scope scope) {
    scope.close();
    span.end();
  }
}
