package io.machinery;

import io.machinery.wire.LogText;
import io.machinery.wire.Uuids;
import io.machinery.wire.WireCodec;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A task message: which task to run, with which arguments, and what to do afterwards. Go's {@code
 * tasks.Signature}, field for field; {@link WireCodec} writes it as the same 19-key JSON Go writes.
 *
 * <p>Immutable and thread-safe; {@link #toBuilder()} copies. Go distinguishes an absent list
 * ({@code null} on the wire) from an empty one ({@code []}); so does this class, so that a decoded
 * message re-encodes byte for byte. The accessors return empty lists for absent ones; {@link
 * #hasArgs()} and friends tell the difference.
 *
 * <pre>{@code
 * Signature add = Signature.builder("add").args(Arg.of(1L), Arg.of(2L)).retryCount(3).build();
 * }</pre>
 *
 * <p>Size: Go's 19 fields, each with an accessor, a builder setter and the absent-versus-empty
 * distinction the wire needs; beside them only {@link Builder#fairnessKey} and {@link
 * Builder#expiresAt}, setters for one header each (encoding is {@code WireCodec}'s).
 */
public final class Signature {
  /**
   * The header that holds a task's fairness key ({@link Builder#fairnessKey}): brokers that share
   * turns between keys ({@link io.machinery.spi.FairShares}) take one key's tasks in turn with the
   * others'. A Go producer may set it in {@code Headers} too.
   */
  public static final String FAIRNESS_KEY_HEADER = "machinery_fairness_key";

  /**
   * The header that holds the time by which a task must start ({@link Builder#expiresAt}), an RFC
   * 3339 time: a Java worker that receives the task later records it FAILURE {@code expired: ...}
   * without running it. A Go producer may set it in {@code Headers} too; Go workers ignore it.
   */
  public static final String EXPIRES_HEADER = "machinery_expires";

  private final String uuid;
  private final String name;
  private final String routingKey;
  private final @Nullable OffsetDateTime eta;
  private final String groupUuid;
  private final int groupTaskCount;
  private final @Nullable List<Arg> args;
  private final @Nullable Map<String, @Nullable Object> headers;
  private final int priority;
  private final boolean immutable;
  private final int retryCount;
  private final int retryTimeout;
  private final @Nullable List<Signature> onSuccess;
  private final @Nullable List<Signature> onError;
  private final @Nullable Signature chordCallback;
  private final String brokerMessageGroupId;
  private final String sqsReceiptHandle;
  private final boolean stopTaskDeletionOnError;
  private final boolean ignoreWhenTaskNotRegistered;

  private Signature(Builder b) {
    this.uuid = b.uuid;
    this.name = b.name;
    this.routingKey = b.routingKey;
    this.eta = b.eta;
    this.groupUuid = b.groupUuid;
    this.groupTaskCount = b.groupTaskCount;
    this.args = b.args == null ? null : List.copyOf(b.args);
    this.headers = b.headers == null ? null : frozen(b.headers);
    this.priority = b.priority;
    this.immutable = b.immutable;
    this.retryCount = b.retryCount;
    this.retryTimeout = b.retryTimeout;
    this.onSuccess = b.onSuccess == null ? null : List.copyOf(b.onSuccess);
    this.onError = b.onError == null ? null : List.copyOf(b.onError);
    this.chordCallback = b.chordCallback;
    this.brokerMessageGroupId = b.brokerMessageGroupId;
    this.sqsReceiptHandle = b.sqsReceiptHandle;
    this.stopTaskDeletionOnError = b.stopTaskDeletionOnError;
    this.ignoreWhenTaskNotRegistered = b.ignoreWhenTaskNotRegistered;
  }

  /** Headers that are there and empty (Go's SendTask makes them so): one map for all signatures. */
  private static final Map<String, @Nullable Object> NO_HEADERS = Collections.emptyMap();

  /**
   * A builder's headers, unmodifiable. The builder holds either a map of its own (a {@link
   * LinkedHashMap} that {@link Builder#headers} or {@link Builder#header} made) or, after {@link
   * #toBuilder}, a signature's map, which is unmodifiable already and kept as it is: a sender
   * copies every task a couple of times (its UUID, its routing key), and a copy of the map each
   * time was most of what a task kept on the heap while its send was in flight.
   */
  private static Map<String, @Nullable Object> frozen(Map<String, @Nullable Object> headers) {
    if (!(headers instanceof LinkedHashMap)) {
      return headers;
    }
    return headers.isEmpty()
        ? NO_HEADERS
        : Collections.unmodifiableMap(new LinkedHashMap<>(headers));
  }

  /**
   * Starts a builder for a task with this name and a fresh {@code task_} UUID.
   *
   * @param name the task name
   * @return a builder; every other field is Go's zero value
   */
  public static Builder builder(String name) {
    return new Builder().name(name).uuid(Uuids.newTaskUuid());
  }

  /**
   * Starts a builder with every field empty, as Go's zero {@code Signature{}} (no UUID).
   *
   * @return a builder
   */
  public static Builder emptyBuilder() {
    return new Builder();
  }

  /**
   * Creates a task with a fresh {@code task_} UUID, the name and the arguments: Go's {@code
   * NewSignature(name, args)}.
   *
   * @param name the task name
   * @param args the arguments, in order
   * @return the signature
   */
  public static Signature create(String name, Arg... args) {
    return builder(name).args(args).build();
  }

  /**
   * Starts a builder holding a copy of every field of this signature.
   *
   * @return a builder; changing it leaves this signature as it is
   */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /**
   * Returns the task's UUID ({@code UUID}).
   *
   * @return the UUID; empty before {@link Server#sendTask} gives it one
   */
  public String uuid() {
    return uuid;
  }

  /**
   * Returns the name of the task to run ({@code Name}).
   *
   * @return the task name
   */
  public String name() {
    return name;
  }

  /**
   * Returns the queue to publish to ({@code RoutingKey}).
   *
   * @return the routing key; empty means the broker's default
   */
  public String routingKey() {
    return routingKey;
  }

  /**
   * Returns when the task should run ({@code ETA}).
   *
   * @return the time, or null to run as soon as possible
   */
  public @Nullable OffsetDateTime eta() {
    return eta;
  }

  /**
   * Returns the UUID of the group this task belongs to ({@code GroupUUID}).
   *
   * @return the group's UUID; empty outside a group
   */
  public String groupUuid() {
    return groupUuid;
  }

  /**
   * Returns the size of the group this task belongs to ({@code GroupTaskCount}).
   *
   * @return the member count; 0 outside a group
   */
  public int groupTaskCount() {
    return groupTaskCount;
  }

  /**
   * Returns the arguments ({@code Args}).
   *
   * @return the arguments in order; empty when absent
   */
  public List<Arg> args() {
    return args == null ? List.of() : args;
  }

  /**
   * Tells whether {@code Args} is present rather than Go's {@code null}.
   *
   * @return true if the message carries an arguments array
   */
  public boolean hasArgs() {
    return args != null;
  }

  /**
   * Returns the message headers ({@code Headers}).
   *
   * @return the headers; empty when absent
   */
  public Map<String, @Nullable Object> headers() {
    return headers == null ? Map.of() : headers;
  }

  /**
   * Returns the time by which this task must start ({@link Builder#expiresAt}, header {@value
   * #EXPIRES_HEADER}).
   *
   * @return the time, or null when the task has none
   * @throws IllegalArgumentException when the header is not an RFC 3339 time
   */
  public @Nullable Instant expiresAt() {
    Object value = headers().get(EXPIRES_HEADER);
    if (value == null) {
      return null;
    }
    try {
      return Instant.parse(String.valueOf(value).trim());
    } catch (java.time.format.DateTimeParseException e) {
      throw new IllegalArgumentException(
          "header "
              + EXPIRES_HEADER
              + " is not an RFC 3339 time such as 2026-12-05T22:00:00Z: "
              + LogText.of(String.valueOf(value)),
          e);
    }
  }

  /**
   * Tells whether {@code Headers} is present rather than Go's {@code null}.
   *
   * @return true if the message carries a headers object
   */
  public boolean hasHeaders() {
    return headers != null;
  }

  /**
   * Returns the AMQP message priority ({@code Priority}).
   *
   * @return the priority, 0 to 255
   */
  public int priority() {
    return priority;
  }

  /**
   * Tells whether this task's results stay out of its success callbacks' arguments ({@code
   * Immutable}).
   *
   * @return true if callbacks get only their own arguments
   */
  public boolean immutable() {
    return immutable;
  }

  /**
   * Returns how many automatic retries remain ({@code RetryCount}).
   *
   * @return the remaining retries
   */
  public int retryCount() {
    return retryCount;
  }

  /**
   * Returns the last retry delay ({@code RetryTimeout}); the next one is the next Fibonacci number.
   *
   * @return the delay in seconds
   */
  public int retryTimeout() {
    return retryTimeout;
  }

  /**
   * Returns the tasks sent when this one succeeds ({@code OnSuccess}).
   *
   * @return the callbacks; empty when absent
   */
  public List<Signature> onSuccess() {
    return onSuccess == null ? List.of() : onSuccess;
  }

  /**
   * Tells whether {@code OnSuccess} is present rather than Go's {@code null}.
   *
   * @return true if the message carries the array
   */
  public boolean hasOnSuccess() {
    return onSuccess != null;
  }

  /**
   * Returns the tasks sent when this one fails ({@code OnError}).
   *
   * @return the callbacks; empty when absent
   */
  public List<Signature> onError() {
    return onError == null ? List.of() : onError;
  }

  /**
   * Tells whether {@code OnError} is present rather than Go's {@code null}.
   *
   * @return true if the message carries the array
   */
  public boolean hasOnError() {
    return onError != null;
  }

  /**
   * Returns the chord callback sent when this task's group completes ({@code ChordCallback}).
   *
   * @return the callback, or null outside a chord
   */
  public @Nullable Signature chordCallback() {
    return chordCallback;
  }

  /**
   * Returns the SQS FIFO message group ID ({@code BrokerMessageGroupId}).
   *
   * @return the ID; empty when unused
   */
  public String brokerMessageGroupId() {
    return brokerMessageGroupId;
  }

  /**
   * Returns the SQS receipt handle ({@code SQSReceiptHandle}), set by the SQS broker on delivery.
   *
   * @return the handle; empty elsewhere
   */
  public String sqsReceiptHandle() {
    return sqsReceiptHandle;
  }

  /**
   * Tells whether the SQS broker keeps a failed task's message ({@code StopTaskDeletionOnError}).
   *
   * @return true to keep it for SQS's own redelivery
   */
  public boolean stopTaskDeletionOnError() {
    return stopTaskDeletionOnError;
  }

  /**
   * Tells whether a worker that does not know this task drops it ({@code
   * IgnoreWhenTaskNotRegistered}).
   *
   * @return true to drop; false (Go's default) to requeue
   */
  public boolean ignoreWhenTaskNotRegistered() {
    return ignoreWhenTaskNotRegistered;
  }

  /**
   * Whether {@code o} is a signature with equal fields, its callbacks compared the same way without
   * recursion (a chain nests thousands of them).
   */
  @Override
  public boolean equals(@Nullable Object o) {
    if (!(o instanceof Signature other)) {
      return false;
    }
    ArrayDeque<Signature> pairs = null; // of signatures still to compare, two by two
    Signature a = this;
    Signature b = other;
    while (true) {
      if (a != b) {
        if (!a.sameOwnFields(b)
            || !sameShape(a.onSuccess, b.onSuccess)
            || !sameShape(a.onError, b.onError)
            || (a.chordCallback == null) != (b.chordCallback == null)) {
          return false;
        }
        if (a.hasCallbacks()) {
          if (pairs == null) {
            pairs = new ArrayDeque<>();
          }
          addPairs(pairs, a.onSuccess, b.onSuccess);
          addPairs(pairs, a.onError, b.onError);
          if (a.chordCallback != null && b.chordCallback != null) {
            pairs.add(a.chordCallback);
            pairs.add(b.chordCallback);
          }
        }
      }
      if (pairs == null || pairs.isEmpty()) {
        return true;
      }
      a = pairs.poll();
      b = pairs.poll();
    }
  }

  private boolean hasCallbacks() {
    return onSuccess != null || onError != null || chordCallback != null;
  }

  /** Both absent, or both present with as many elements. */
  private static boolean sameShape(@Nullable List<Signature> a, @Nullable List<Signature> b) {
    return a == null ? b == null : b != null && a.size() == b.size();
  }

  private static void addPairs(
      ArrayDeque<Signature> pairs, @Nullable List<Signature> a, @Nullable List<Signature> b) {
    if (a != null && b != null) {
      for (int i = 0; i < a.size(); i++) {
        pairs.add(a.get(i));
        pairs.add(b.get(i));
      }
    }
  }

  private boolean sameOwnFields(Signature s) {
    return uuid.equals(s.uuid)
        && name.equals(s.name)
        && routingKey.equals(s.routingKey)
        && Objects.equals(eta, s.eta)
        && groupUuid.equals(s.groupUuid)
        && groupTaskCount == s.groupTaskCount
        && Objects.equals(args, s.args)
        && Objects.equals(headers, s.headers)
        && priority == s.priority
        && immutable == s.immutable
        && retryCount == s.retryCount
        && retryTimeout == s.retryTimeout
        && brokerMessageGroupId.equals(s.brokerMessageGroupId)
        && sqsReceiptHandle.equals(s.sqsReceiptHandle)
        && stopTaskDeletionOnError == s.stopTaskDeletionOnError
        && ignoreWhenTaskNotRegistered == s.ignoreWhenTaskNotRegistered;
  }

  @Override
  public int hashCode() {
    return Objects.hash(uuid, name, args, eta, groupUuid);
  }

  @Override
  public String toString() {
    return "Signature{" + name + " " + uuid + (args == null ? "" : " " + args) + "}";
  }

  /** Builds a {@link Signature}; not thread-safe. Every field starts as Go's zero value. */
  public static final class Builder {
    private String uuid = "";
    private String name = "";
    private String routingKey = "";
    private @Nullable OffsetDateTime eta;
    private String groupUuid = "";
    private int groupTaskCount;
    private @Nullable List<Arg> args;
    private @Nullable Map<String, @Nullable Object> headers;
    private int priority;
    private boolean immutable;
    private int retryCount;
    private int retryTimeout;
    private @Nullable List<Signature> onSuccess;
    private @Nullable List<Signature> onError;
    private @Nullable Signature chordCallback;
    private String brokerMessageGroupId = "";
    private String sqsReceiptHandle = "";
    private boolean stopTaskDeletionOnError;
    private boolean ignoreWhenTaskNotRegistered;

    private Builder() {}

    private Builder(Signature s) {
      uuid = s.uuid;
      name = s.name;
      routingKey = s.routingKey;
      eta = s.eta;
      groupUuid = s.groupUuid;
      groupTaskCount = s.groupTaskCount;
      args = s.args;
      headers = s.headers;
      priority = s.priority;
      immutable = s.immutable;
      retryCount = s.retryCount;
      retryTimeout = s.retryTimeout;
      onSuccess = s.onSuccess;
      onError = s.onError;
      chordCallback = s.chordCallback;
      brokerMessageGroupId = s.brokerMessageGroupId;
      sqsReceiptHandle = s.sqsReceiptHandle;
      stopTaskDeletionOnError = s.stopTaskDeletionOnError;
      ignoreWhenTaskNotRegistered = s.ignoreWhenTaskNotRegistered;
    }

    /**
     * Sets the task's UUID.
     *
     * @param uuid the UUID; empty lets {@link Server#sendTask} make one
     * @return this builder
     */
    public Builder uuid(String uuid) {
      this.uuid = Objects.requireNonNull(uuid, "uuid");
      return this;
    }

    /**
     * Sets the name of the task to run.
     *
     * @param name the task name
     * @return this builder
     */
    public Builder name(String name) {
      this.name = Objects.requireNonNull(name, "name");
      return this;
    }

    /**
     * Sets the queue (Redis list, AMQP routing key, SQS queue, Pub/Sub topic).
     *
     * @param routingKey the routing key; empty means the default queue
     * @return this builder
     */
    public Builder routingKey(String routingKey) {
      this.routingKey = Objects.requireNonNull(routingKey, "routingKey");
      return this;
    }

    /**
     * Sets when the task should run.
     *
     * @param eta the time, or null to run as soon as possible
     * @return this builder
     */
    public Builder eta(@Nullable Instant eta) {
      this.eta = eta == null ? null : eta.atOffset(ZoneOffset.UTC);
      return this;
    }

    /**
     * Sets when the task should run.
     *
     * @param eta the time, or null to run as soon as possible
     * @return this builder
     */
    public Builder eta(@Nullable OffsetDateTime eta) {
      this.eta = eta;
      return this;
    }

    /**
     * Sets the UUID of the group this task belongs to ({@link Group} does this).
     *
     * @param groupUuid the group's UUID
     * @return this builder
     */
    public Builder groupUuid(String groupUuid) {
      this.groupUuid = Objects.requireNonNull(groupUuid, "groupUuid");
      return this;
    }

    /**
     * Sets the size of the group this task belongs to ({@link Group} does this).
     *
     * @param count the member count
     * @return this builder
     */
    public Builder groupTaskCount(int count) {
      this.groupTaskCount = count;
      return this;
    }

    /**
     * Sets the arguments.
     *
     * @param args the arguments, in order
     * @return this builder
     */
    public Builder args(Arg... args) {
      return args(List.of(args));
    }

    /**
     * Sets the arguments.
     *
     * @param args the arguments, in order, or null for Go's {@code null}
     * @return this builder
     */
    public Builder args(@Nullable List<Arg> args) {
      this.args = args == null ? null : new ArrayList<>(args);
      return this;
    }

    /**
     * Appends arguments, creating the list if absent.
     *
     * @param more the arguments to append
     * @return this builder
     */
    public Builder addArgs(List<Arg> more) {
      List<Arg> list = args == null ? new ArrayList<>() : new ArrayList<>(args);
      list.addAll(more);
      this.args = list;
      return this;
    }

    /**
     * Sets the message headers.
     *
     * @param headers the headers, or null for Go's {@code null}
     * @return this builder
     */
    public Builder headers(@Nullable Map<String, ? extends @Nullable Object> headers) {
      this.headers = headers == null ? null : new LinkedHashMap<>(headers);
      return this;
    }

    /**
     * Adds or replaces one header, creating the headers if absent.
     *
     * @param key the header name
     * @param value the header value
     * @return this builder
     */
    public Builder header(String key, String value) {
      Map<String, @Nullable Object> map =
          headers == null ? new LinkedHashMap<>() : new LinkedHashMap<>(headers);
      map.put(key, value);
      this.headers = map;
      return this;
    }

    /**
     * Sets the task's fairness key (header {@value Signature#FAIRNESS_KEY_HEADER}): where the
     * broker shares turns between keys (the memory broker; Redis with {@code fairness(true)}), a
     * queue takes one task of each waiting key in turn, so one tenant's backlog does not hold up
     * the others. Brokers without it ignore the header.
     *
     * @param key the key, for example a tenant id: not blank, at most {@value
     *     io.machinery.spi.FairShares#MAX_KEY_LENGTH} characters
     * @return this builder
     * @throws IllegalArgumentException if {@code key} is blank or too long
     */
    public Builder fairnessKey(String key) {
      if (io.machinery.spi.FairShares.usable(key) == null) {
        throw new IllegalArgumentException(
            "a fairness key is not blank and at most "
                + io.machinery.spi.FairShares.MAX_KEY_LENGTH
                + " characters; was "
                + (key.isBlank() ? "blank" : key.length() + " characters"));
      }
      return header(FAIRNESS_KEY_HEADER, key);
    }

    /**
     * Sets the time by which the task must start (header {@value Signature#EXPIRES_HEADER}): a Java
     * worker that receives it later, a retry's run included, records it FAILURE {@code expired: not
     * started by <time>} without running it (no retry; error callbacks and a chord learn it as any
     * failure), so a task that only makes sense soon (a notification, a price quote) does not run
     * hours late after an outage or behind a backlog. The worker compares its own clock with the
     * time. Only this task: its callbacks and a chain's later steps carry an expiry only when their
     * own signatures have one. Go workers run it whenever it arrives.
     *
     * @param time the time; null removes the expiry
     * @return this builder
     */
    public Builder expiresAt(@Nullable Instant time) {
      if (time == null) {
        if (headers != null && headers.containsKey(EXPIRES_HEADER)) {
          Map<String, @Nullable Object> map = new LinkedHashMap<>(headers);
          map.remove(EXPIRES_HEADER);
          this.headers = map;
        }
        return this;
      }
      return header(EXPIRES_HEADER, time.toString());
    }

    /**
     * Sets the AMQP message priority (the queue needs {@code x-max-priority}).
     *
     * @param priority 0 to 255
     * @return this builder
     * @throws IllegalArgumentException if {@code priority} is outside 0..255
     */
    public Builder priority(int priority) {
      if (priority < 0 || priority > 255) {
        throw new IllegalArgumentException("priority is a uint8 in Go, so 0..255; was " + priority);
      }
      this.priority = priority;
      return this;
    }

    /**
     * Sets whether this task's results stay out of its success callbacks' arguments.
     *
     * @param immutable true to keep them out
     * @return this builder
     */
    public Builder immutable(boolean immutable) {
      this.immutable = immutable;
      return this;
    }

    /**
     * Sets how many automatic retries the task gets after a failure.
     *
     * @param retryCount the retries; 0 for none
     * @return this builder
     * @throws IllegalArgumentException if {@code retryCount} is negative
     */
    public Builder retryCount(int retryCount) {
      if (retryCount < 0) {
        throw new IllegalArgumentException("retryCount must not be negative, was " + retryCount);
      }
      this.retryCount = retryCount;
      return this;
    }

    /**
     * Sets the last retry delay; the next retry waits the next Fibonacci number of seconds.
     *
     * @param seconds the delay in seconds; 0 starts at Go's first delay
     * @return this builder
     * @throws IllegalArgumentException if {@code seconds} is negative
     */
    public Builder retryTimeout(int seconds) {
      if (seconds < 0) {
        throw new IllegalArgumentException("retryTimeout must not be negative, was " + seconds);
      }
      this.retryTimeout = seconds;
      return this;
    }

    /**
     * Sets the tasks sent when this one succeeds; unless this task is immutable, its results are
     * appended to their arguments.
     *
     * @param callbacks the callbacks, or null for Go's {@code null}
     * @return this builder
     */
    public Builder onSuccess(@Nullable List<Signature> callbacks) {
      this.onSuccess = callbacks == null ? null : new ArrayList<>(callbacks);
      return this;
    }

    /**
     * Sets the tasks sent when this one succeeds.
     *
     * @param callbacks the callbacks
     * @return this builder
     */
    public Builder onSuccess(Signature... callbacks) {
      return onSuccess(List.of(callbacks));
    }

    /**
     * Sets the tasks sent when this one fails; the error text is prepended to their arguments.
     *
     * @param callbacks the callbacks, or null for Go's {@code null}
     * @return this builder
     */
    public Builder onError(@Nullable List<Signature> callbacks) {
      this.onError = callbacks == null ? null : new ArrayList<>(callbacks);
      return this;
    }

    /**
     * Sets the tasks sent when this one fails.
     *
     * @param callbacks the callbacks
     * @return this builder
     */
    public Builder onError(Signature... callbacks) {
      return onError(List.of(callbacks));
    }

    /**
     * Sets the chord callback sent when this task's group completes ({@link Chord} does this).
     *
     * @param callback the callback, or null
     * @return this builder
     */
    public Builder chordCallback(@Nullable Signature callback) {
      this.chordCallback = callback;
      return this;
    }

    /**
     * Sets the SQS FIFO message group ID.
     *
     * @param id the ID; empty when unused
     * @return this builder
     */
    public Builder brokerMessageGroupId(String id) {
      this.brokerMessageGroupId = Objects.requireNonNull(id);
      return this;
    }

    /**
     * Sets the SQS receipt handle (the SQS broker does this on delivery).
     *
     * @param handle the handle
     * @return this builder
     */
    public Builder sqsReceiptHandle(String handle) {
      this.sqsReceiptHandle = Objects.requireNonNull(handle);
      return this;
    }

    /**
     * Sets whether the SQS broker keeps a failed task's message for SQS's own redelivery.
     *
     * @param stop true to keep it
     * @return this builder
     */
    public Builder stopTaskDeletionOnError(boolean stop) {
      this.stopTaskDeletionOnError = stop;
      return this;
    }

    /**
     * Sets whether a worker that does not know this task drops it instead of requeuing it.
     *
     * @param ignore true to drop it
     * @return this builder
     */
    public Builder ignoreWhenTaskNotRegistered(boolean ignore) {
      this.ignoreWhenTaskNotRegistered = ignore;
      return this;
    }

    /**
     * Builds the signature.
     *
     * @return an immutable signature
     */
    public Signature build() {
      return new Signature(this);
    }
  }
}
