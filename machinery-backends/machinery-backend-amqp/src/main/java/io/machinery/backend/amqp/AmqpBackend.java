package io.machinery.backend.amqp;

import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.machinery.MachineryException;
import io.machinery.MalformedMessageException;
import io.machinery.Signature;
import io.machinery.State;
import io.machinery.TaskProgress;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.client.amqp.AmqpClient;
import io.machinery.client.amqp.AmqpConnectionOptions;
import io.machinery.client.amqp.AmqpOperationException;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.client.amqp.RabbitManagement;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.ComponentProvider;
import io.machinery.spi.ControlPlane;
import io.machinery.wire.ErrorText;
import io.machinery.wire.WireCodec;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Go Machinery's AMQP result backend (spec §4.3): task states are messages in RabbitMQ queues, so
 * Go and Java processes read each other's states.
 *
 * <pre>{@code
 * Config config = Config.builder().resultBackend("amqp://guest:guest@127.0.0.1:5672/").build();
 * try (AmqpBackend backend = AmqpBackend.create(config)) { ... }
 * }</pre>
 *
 * <h2>How states are stored</h2>
 *
 * <ul>
 *   <li>Every state change is one more persistent JSON message in the queue named after the task
 *       UUID ({@code task_…}, {@code chord_…}): not durable, auto-delete, {@code x-message-ttl} and
 *       {@code x-expires} both {@code ResultsExpireIn × 1000} as a 32-bit integer, bound to the
 *       task exchange with the UUID — the exact declaration Go makes, so either side may declare
 *       first. States after PENDING carry no TaskName and a zero CreatedAt, as Go's (this backend
 *       cannot read the previous state without consuming it).
 *   <li>A finished (SUCCESS or FAILURE) member of a group also adds its state to the queue named
 *       after the group UUID; the group is complete when that queue holds {@code GroupTaskCount}
 *       messages.
 * </ul>
 *
 * <h2>Caveats (read these)</h2>
 *
 * <ul>
 *   <li><b>Reading consumes.</b> {@link #getState} takes the <em>oldest</em> state message off the
 *       task's queue, as Go's {@code GetState} does: successive reads walk PENDING, RECEIVED,
 *       STARTED, SUCCESS; an {@link io.machinery.AsyncResult} polling a task sees every state in
 *       order and keeps the final one. Only one reader sees each state: two clients polling the
 *       same task steal states from each other, and a state read by a Go client is gone for a Java
 *       one. {@link #consumesStatesOnRead()} is true, so the worker purges a chord's group after
 *       triggering it, as Go does.
 *   <li><b>Nothing is durable.</b> The queues are not durable (Go's choice): a RabbitMQ restart
 *       loses every state, and states expire {@code ResultsExpireIn} after they were written.
 *   <li><b>A queue per task.</b> RabbitMQ creates queues and bindings at a few hundred per second,
 *       which bounds how fast tasks can be sent (about 500 tasks/s on the 2-core test machine); the
 *       Redis backend is much faster. Writes after PENDING are pipelined: RECEIVED and STARTED are
 *       not waited for, and a queue this process has not declared is declared without waiting, on
 *       the same channel, right before the write.
 *   <li><b>Group order.</b> {@link #groupTaskStates} returns states in completion order, not group
 *       order (the queue is all this backend has); duplicates from a task that ran twice are folded
 *       into one.
 *   <li><b>Chords.</b> Go's {@code TriggerChord} returns true unless a queue {@code
 *       <group>_chord_triggered} exists, and nothing in Go ever creates it: Go relies on {@code
 *       GroupTaskStates} draining the group queue with an exclusive consumer, and every Go worker
 *       that saw the group complete deletes the group queue afterwards. Here the trigger
 *       <em>is</em> that exclusive read, done in one step: exactly one reader, Go or Java, gets the
 *       states, and Java never hides states from a Go reader and then gives them back (which made
 *       Go delete them, F22). The Java winner then creates the marker, which keeps a Java member
 *       that runs again later from firing twice and which Go reads as "already triggered". See
 *       {@link ChordTrigger}. The Java members of a chord also keep their final states in {@code
 *       <group>_chord_states} until the callback is sent, so a re-run of the member whose worker
 *       died after triggering (redelivered) recovers them and sends the callback (F4: at least
 *       once, a duplicate possible; the Java winner copies Go members' states, which lack the
 *       header {@code machinery_kept} that Java members' group states carry, there before it owns
 *       them alone; a group that a Go worker won, or whose dead Java winner's member runs again on
 *       a Go worker, stays at-most-once, as in Go); one recovery of a group at a time, under an
 *       exclusive queue {@code <group>_chord_recovering} that lives only while its worker's
 *       connection does, and a Java winner consumes the marker until it deleted the kept states, so
 *       a marker without a consumer beside complete kept states is a dead winner's. {@link
 *       #purgeGroupMeta} deletes the group queue only once it is empty, deletes the kept states,
 *       cancels the marker's consumer and keeps the marker until it expires.
 *   <li><b>Progress</b> reports live in a queue of their own per task, {@code <task
 *       uuid>_progress}, holding the last one; reading it does not consume it (see {@code
 *       ProgressQueues}).
 *   <li>{@code ResultsExpireIn} must fit Go's 32-bit milliseconds (at most {@value
 *       #MAX_EXPIRE_SECONDS} s).
 * </ul>
 *
 * <p>Thread-safe. Whoever builds it closes it. One connection, opened on first use, reopened when
 * lost.
 *
 * <p>Size: Go's backend interface on AMQP (state, group and progress queues, with Go's names and
 * arguments) and its builder; the chord trigger protocol is {@code ChordTrigger}.
 */
public final class AmqpBackend implements Backend {
  private static final Logger log = LoggerFactory.getLogger(AmqpBackend.class);

  /** The largest {@code ResultsExpireIn} whose milliseconds fit Go's int32 queue arguments. */
  public static final int MAX_EXPIRE_SECONDS = Integer.MAX_VALUE / 1000;

  /** How long a reader of a group's states waits for missing members when a member ran twice. */
  public static final Duration DEFAULT_GROUP_READ_TIMEOUT = Duration.ofSeconds(10);

  /**
   * The largest state message stored by default: RabbitMQ 4's default {@code max_message_size}
   * (RabbitMQ 3 allows 128 MiB).
   */
  public static final int DEFAULT_MAX_STATE_BYTES = 16 * 1024 * 1024;

  /** The smallest {@link Builder#maxStateBytes}: room for a FAILURE's cut error text. */
  public static final int MIN_MAX_STATE_BYTES = 1024 * 1024;

  /**
   * The longest error text a FAILURE stores, in UTF-8 bytes; a longer one is cut, so a FAILURE fits
   * in any state message (JSON escapes grow it at most sixfold).
   */
  static final int MAX_ERROR_BYTES = 64 * 1024;

  private final Config config;
  private final Clock clock;
  private final AmqpClient client;

  /**
   * Whether this backend built {@link #client} (and so closes it); false for a client the caller
   * shares.
   */
  private final boolean ownsClient;

  private final StateQueues states;
  private final ChordTrigger chords;
  private final AmqpControlPlane controlPlane;
  private final ProgressQueues progress;
  private final int maxStateBytes;
  private volatile boolean closed;

  private AmqpBackend(Builder b) {
    this.config = b.config;
    this.clock = b.clock;
    this.maxStateBytes = b.maxStateBytes;
    String exchange = config.amqp().exchange();
    int expireMillis = config.effectiveResultsExpireIn() * 1000;
    Map<String, Object> stateQueueArgs =
        Map.of("x-message-ttl", expireMillis, "x-expires", expireMillis);
    this.ownsClient = b.client == null;
    this.client =
        b.client != null
            ? b.client
            : AmqpClient.builder(List.of(AmqpUrl.parse(config.resultBackend())))
                .connectionName("machinery-backend")
                .options(b.options.build())
                .build();
    String stateExchange = "direct".equals(config.amqp().exchangeType()) ? exchange : "";
    this.states =
        new StateQueues(
            client,
            exchange,
            config.amqp().exchangeType(),
            stateExchange,
            stateQueueArgs,
            expireMillis);
    this.chords =
        new ChordTrigger(
            client,
            stateQueueArgs,
            b.groupReadTimeout,
            (queue, state, kept) ->
                states.publish(
                    queue,
                    state,
                    true,
                    kept ? StateQueues.KEPT_STATE_PROPERTIES : StateQueues.STATE_PROPERTIES),
            states::publishAll);
    this.controlPlane =
        new AmqpControlPlane(
            client,
            RabbitManagement.forUrl(AmqpUrl.parse(config.resultBackend()), b.managementUrl),
            clock);
    this.progress = new ProgressQueues(client, expireMillis);
  }

  /**
   * A backend for {@code config}'s result backend URL. Nothing is connected until first use.
   *
   * @throws IllegalArgumentException when the URL is not an AMQP URL or ResultsExpireIn is too
   *     large
   */
  public static AmqpBackend create(Config config) {
    return builder(config).build();
  }

  /**
   * A builder for {@code config}'s result backend URL, to set what {@link #create} leaves at its
   * defaults.
   *
   * @throws IllegalArgumentException when the URL is not an AMQP URL, ResultsExpireIn is too large
   *     or the AMQP exchange is empty
   */
  public static Builder builder(Config config) {
    return new Builder(config);
  }

  /** True: reading a state consumes it (see the class notes). */
  @Override
  public boolean consumesStatesOnRead() {
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // states

  @Override
  public void setStatePending(Signature signature) {
    store(
        TaskState.pending(
            signature, OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC)),
        signature);
  }

  /**
   * PENDING without waiting for the confirm (a group send's members, {@code Server.sendTasks}): the
   * task's queue is declared first on the same channel, as for {@link #setStatePending}, so the
   * writes of many tasks cost one round trip together instead of one each.
   */
  @Override
  public CompletableFuture<Void> setStatePendingAsync(Signature signature) {
    return storeAsync(
        TaskState.pending(
            signature, OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC)),
        signature,
        true);
  }

  @Override
  public void setStateReceived(Signature signature) {
    store(TaskState.received(signature), signature);
  }

  /**
   * Publishes RECEIVED without waiting for the confirm, preceded on the same channel by no-wait
   * declarations of the task's queue (so it is routable even when the queue expired); STARTED and
   * the final state follow on that channel, so RabbitMQ keeps them in order.
   */
  @Override
  public CompletableFuture<Void> setStateReceivedAsync(Signature signature) {
    return storeAsync(TaskState.received(signature), signature, true);
  }

  @Override
  public void setStateStarted(Signature signature) {
    store(TaskState.started(signature), signature);
  }

  /** STARTED without waiting for the confirm; see {@link #setStateReceivedAsync}. */
  @Override
  public CompletableFuture<Void> setStateStartedAsync(Signature signature) {
    return storeAsync(TaskState.started(signature), signature, false);
  }

  @Override
  public void setStateRetry(Signature signature) {
    store(TaskState.retry(signature), signature);
  }

  /**
   * Stores SUCCESS.
   *
   * @throws IllegalArgumentException when the state message would be over {@link
   *     Builder#maxStateBytes} (nothing is stored: RabbitMQ would refuse it and close the
   *     publishing channel, failing the other states in flight on it, and every retry alike); the
   *     worker then stores FAILURE with the reason
   */
  @Override
  public void setStateSuccess(Signature signature, List<TaskResult> results) {
    store(TaskState.success(signature, results), signature);
  }

  /**
   * Stores FAILURE, its error text cut to {@value #MAX_ERROR_BYTES} bytes ({@link ErrorText#cut}).
   */
  @Override
  public void setStateFailure(Signature signature, String error) {
    store(TaskState.failure(signature, ErrorText.cut(error, MAX_ERROR_BYTES)), signature);
  }

  private void store(TaskState state, Signature signature) {
    checkOpen();
    byte[] json = WireCodec.encode(state);
    if (json.length > maxStateBytes) {
      throw new IllegalArgumentException(
          "the "
              + state.state()
              + " state of task "
              + signature.uuid()
              + " is "
              + json.length
              + " bytes, over the "
              + maxStateBytes
              + " bytes a state message may have (RabbitMQ's max_message_size; see"
              + " AmqpBackend.Builder#maxStateBytes)");
    }
    states.publish(signature.uuid(), json, state.state() == State.PENDING);
    if (state.isCompleted()
        && !signature.groupUuid().isEmpty()
        && signature.groupTaskCount() != 0) {
      boolean chordMember = signature.chordCallback() != null;
      states.publish( // Go's markTaskCompleted; a chord member says it keeps its state too
          signature.groupUuid(),
          json,
          false,
          chordMember ? StateQueues.KEPT_STATE_PROPERTIES : StateQueues.STATE_PROPERTIES);
      if (chordMember) {
        // A chord member also keeps its state where a dead trigger winner cannot take it away
        // (ChordTrigger). Only after its group state is confirmed: whoever counts a complete kept
        // queue then finds this member's group state too (ChordTrigger#completed reads the group
        // queue again), so a fault-free chord is never recovered beside its winner. A winner that
        // took this member's group state may have settled the chord meanwhile and deleted the kept
        // queue: then nothing is kept, and the queue is not created again.
        if (!states.publishUnlessDeleted(ChordTrigger.kept(signature.groupUuid()), json)) {
          log.debug(
              "Chord group {}: kept states already released (the chord settled); {} keeps none",
              signature.groupUuid(),
              signature.uuid());
        }
      }
    }
  }

  private CompletableFuture<Void> storeAsync(
      TaskState state, Signature signature, boolean declare) {
    checkOpen();
    return states.publishAsync(signature.uuid(), WireCodec.encode(state), declare);
  }

  /**
   * Takes the oldest state message of the task (Go's {@code GetState}, see the class notes): empty
   * when the queue holds none. Like Go, the queue is declared if it is missing, which also renews
   * its expiry.
   *
   * @throws MalformedMessageException when the message is not a task state (it is consumed all the
   *     same)
   */
  @Override
  public Optional<TaskState> getState(String taskUuid) {
    checkOpen();
    states.ensureDeclared(taskUuid);
    GetResponse response;
    try {
      response =
          client.call("read state queue '" + taskUuid + "'", ch -> ch.basicGet(taskUuid, true));
    } catch (AmqpOperationException e) {
      if (e.replyCode() != AmqpOperationException.NOT_FOUND) {
        throw e;
      }
      states.forget(taskUuid); // purged or expired since we declared it
      return Optional.empty();
    }
    if (response == null) {
      return Optional.empty();
    }
    return Optional.of(WireCodec.decodeTaskState(response.getBody()));
  }

  /** Deletes the task's state queue (Go's {@code PurgeState}). */
  @Override
  public void purgeState(String taskUuid) {
    checkOpen();
    deleteQueue(taskUuid);
  }

  private void deleteQueue(String name) {
    states.forget(name);
    try {
      client.callRetrying("delete queue '" + name + "'", ch -> ch.queueDelete(name));
    } catch (AmqpOperationException e) {
      if (e.replyCode() != AmqpOperationException.NOT_FOUND) {
        throw e;
      }
    }
  }

  /**
   * Replaces the task's report in its queue {@code <task uuid>_progress} (see {@code
   * ProgressQueues}): one confirmed publish.
   */
  @Override
  public void setProgress(String taskUuid, TaskProgress report) {
    checkOpen();
    progress.write(taskUuid, report);
  }

  /**
   * Reads the task's last report without consuming it (taken and requeued); see {@code
   * ProgressQueues}.
   */
  @Override
  public Optional<TaskProgress> getProgress(String taskUuid) {
    checkOpen();
    return progress.read(taskUuid);
  }

  // ------------------------------------------------------------------------------------------
  // groups

  /** Nothing to do: the group queue appears with its first finished member (as in Go). */
  @Override
  public void initGroup(String groupUuid, List<String> taskUuids) {
    checkOpen();
  }

  /**
   * Whether the group queue holds at least {@code groupTaskCount} ready states (Go asks for exactly
   * that many; at least lets a group complete even when a member ran twice). A missing queue is not
   * complete. Also true, for a recovery, when the group queue lost states that the kept queue still
   * holds and no winner marked the group (see {@link ChordTrigger#completed}).
   */
  @Override
  public boolean groupCompleted(String groupUuid, int groupTaskCount) {
    checkOpen();
    return chords.completed(groupUuid, groupTaskCount);
  }

  /**
   * The group's finished states, in completion order, one per task (a task that ran twice counts
   * once). After this process won {@link #triggerChord}, the states it took then; otherwise they
   * are taken off the group queue now with an exclusive consumer (Go's {@code GroupTaskStates}),
   * which drains it: only one reader, Go or Java, ever gets them.
   *
   * @throws MachineryException when the queue is gone, holds fewer than {@code groupTaskCount}
   *     distinct tasks, or another process is reading it
   */
  @Override
  public List<TaskState> groupTaskStates(String groupUuid, int groupTaskCount) {
    checkOpen();
    return chords.statesOf(groupUuid, groupTaskCount);
  }

  /**
   * True for exactly one caller among Go and Java workers: the one that takes the group's states
   * off the queue (see {@link ChordTrigger} and the class notes). Waits up to the group read
   * timeout when a member ran twice and the last one is still running.
   */
  @Override
  public boolean triggerChord(String groupUuid) {
    checkOpen();
    return chords.trigger(groupUuid);
  }

  /**
   * Deletes the group queue if it is empty. The worker calls this after the winner sent the chord's
   * callback, so a non-empty queue belongs to a trigger whose winner has not read it yet; the
   * winner's read drains it and RabbitMQ deletes it. The kept states ({@code <group>_chord_states})
   * are deleted: the callback is sent, nothing to recover. Unlike Go, the {@code
   * <group>_chord_triggered} marker stays until it expires ({@code ResultsExpireIn}), so a member
   * that runs again later cannot fire the chord twice.
   */
  @Override
  public void purgeGroupMeta(String groupUuid) {
    checkOpen();
    chords.release(groupUuid);
    try {
      client.call(
          "delete group queue '" + groupUuid + "'", ch -> ch.queueDelete(groupUuid, false, true));
    } catch (AmqpOperationException e) {
      if (e.replyCode() != AmqpOperationException.NOT_FOUND
          && e.replyCode() != AmqpOperationException.PRECONDITION_FAILED) {
        throw e;
      }
      log.debug("Group queue {} not deleted: {}", groupUuid, e.getMessage());
    }
  }

  // ------------------------------------------------------------------------------------------
  // lifecycle

  private void checkOpen() {
    if (closed || client.isClosed()) {
      throw new MachineryException("the AMQP backend is closed");
    }
  }

  /**
   * The live workers and paused queues of an AMQP-only deployment, kept in small RabbitMQ queues
   * (see {@link AmqpControlPlane}); listing them reads RabbitMQ's management API ({@link
   * Builder#managementUrl}). A server uses it when its broker keeps none (an AMQP broker does not).
   */
  @Override
  public Optional<ControlPlane> controlPlane() {
    return Optional.of(controlPlane);
  }

  /**
   * Closes the connection, or on a shared client the channel of this backend's chord markers (a win
   * not released is given up, as by a worker that stopped); idempotent.
   */
  @Override
  public void close() {
    closed = true;
    chords.close();
    controlPlane.close();
    if (ownsClient) {
      client.close();
    }
  }

  @Override
  public String toString() {
    return "AmqpBackend{" + client.urls() + "}";
  }

  /** Builds an {@link AmqpBackend}. Not thread-safe. */
  public static final class Builder {
    private final Config config;
    private Clock clock = Clock.systemUTC();
    private Duration groupReadTimeout = DEFAULT_GROUP_READ_TIMEOUT;
    private int maxStateBytes = DEFAULT_MAX_STATE_BYTES;
    private AmqpConnectionOptions.Builder options = AmqpConnectionOptions.builder();
    private @Nullable AmqpClient client;
    private @Nullable String managementUrl;

    private Builder(Config config) {
      this.config = Objects.requireNonNull(config, "config");
      AmqpUrl.parse(config.resultBackend());
      if (config.effectiveResultsExpireIn() > MAX_EXPIRE_SECONDS) {
        throw new IllegalArgumentException(
            "results_expire_in of "
                + config.resultsExpireIn()
                + " s is too large for the AMQP backend: Go declares state queues with 32-bit milliseconds, at most "
                + MAX_EXPIRE_SECONDS
                + " s");
      }
      options.tls(config.tls());
    }

    /** The clock PENDING states take their CreatedAt from; default UTC system clock. */
    public Builder clock(Clock value) {
      clock = Objects.requireNonNull(value, "clock");
      return this;
    }

    /**
     * How the connection is made (TLS, publish timeout, factory customizer), at once; {@code
     * Config.tls()} still switches TLS on.
     */
    public Builder options(AmqpConnectionOptions value) {
      options =
          Objects.requireNonNull(value, "options").toBuilder().tls(value.tls() || config.tls());
      return this;
    }

    /**
     * Uses {@code value} instead of a connection of its own, for example the client the {@code
     * AmqpBroker} publishes through. The caller owns it and closes it after the backend.
     */
    public Builder client(AmqpClient value) {
      client = Objects.requireNonNull(value, "client");
      return this;
    }

    /** How long storing a state may take, waiting for a lost connection included; default 30 s. */
    public Builder publishTimeout(Duration value) {
      options.publishTimeout(value);
      return this;
    }

    /**
     * How long reading a group's states (the chord trigger) waits for members still missing when
     * the queue already holds enough messages because a member ran twice; default 10 s. Then the
     * states are given back.
     */
    public Builder groupReadTimeout(Duration value) {
      if (value.isNegative()) {
        throw new IllegalArgumentException("groupReadTimeout must not be negative, was " + value);
      }
      groupReadTimeout = value;
      return this;
    }

    /**
     * The largest state message stored, in bytes: set it to the RabbitMQ server's {@code
     * max_message_size} (RabbitMQ 4: 16 MiB, the default here; RabbitMQ 3: 128 MiB). A SUCCESS over
     * it is refused with an {@link IllegalArgumentException}, and the worker stores FAILURE.
     *
     * @throws IllegalArgumentException when under {@value #MIN_MAX_STATE_BYTES} or over RabbitMQ's
     *     ceiling of 512 MiB
     */
    public Builder maxStateBytes(int value) {
      if (value < MIN_MAX_STATE_BYTES || value > AmqpClient.MAX_INBOUND_BODY_BYTES) {
        throw new IllegalArgumentException(
            "maxStateBytes must be between "
                + MIN_MAX_STATE_BYTES
                + " and "
                + AmqpClient.MAX_INBOUND_BODY_BYTES
                + ", was "
                + value);
      }
      maxStateBytes = value;
      return this;
    }

    /**
     * The TLS context for {@code amqps://} URLs (default: the JVM's, with hostname verification).
     */
    public Builder sslContext(SSLContext value) {
      options.sslContext(value);
      return this;
    }

    /**
     * Adjusts the client library's connection factory last (credentials provider, metrics, NIO).
     */
    public Builder connectionFactoryCustomizer(Consumer<ConnectionFactory> value) {
      options.connectionFactoryCustomizer(value);
      return this;
    }

    /**
     * RabbitMQ's HTTP management API, which the {@linkplain AmqpBackend#controlPlane() control
     * plane} reads to list workers and paused queues ({@code http://host:15672}; user info in the
     * URL replaces the AMQP credentials). Default: the result backend URL's host on port 15672
     * ({@code https} and 15671 for {@code amqps}) with its credentials and vhost.
     *
     * @throws IllegalArgumentException when it is not an http(s) URL with a host
     */
    public Builder managementUrl(String value) {
      RabbitManagement.forUrl(
          AmqpUrl.parse("amqp://localhost"), Objects.requireNonNull(value, "managementUrl"));
      managementUrl = value;
      return this;
    }

    /** The backend; nothing is connected until first use. */
    public AmqpBackend build() {
      return new AmqpBackend(this);
    }
  }

  /**
   * The provider that lets {@link io.machinery.Machinery#connect(io.machinery.config.Config,
   * io.machinery.spi.ComponentProvider...)} build this component from a config's URL (schemes
   * chosen by URL only, never by a class name).
   *
   * @return the provider, stateless and shared
   */
  public static ComponentProvider provider() {
    return AmqpBackendProvider.INSTANCE;
  }
}
