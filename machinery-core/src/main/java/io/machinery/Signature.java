package io.machinery;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
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
 * <p>Immutable and thread-safe; {@link #toBuilder()} copies. Go distinguishes an absent list ({@code null} on
 * the wire) from an empty one ({@code []}); so does this class, so that a decoded message re-encodes byte for
 * byte. The accessors return empty lists for absent ones; {@link #hasArgs()} and friends tell the difference.
 *
 * <pre>{@code
 * Signature add = Signature.builder("add").args(Arg.of(1L), Arg.of(2L)).retryCount(3).build();
 * }</pre>
 */
public final class Signature {
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
    this.headers = b.headers == null ? null : Collections.unmodifiableMap(new LinkedHashMap<>(b.headers));
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

  /** A builder for a task with this name and a fresh {@code task_} UUID. */
  public static Builder builder(String name) {
    return new Builder().name(name).uuid(Uuids.newTaskUuid());
  }

  /** A builder with every field empty, as Go's zero {@code Signature{}} (no UUID). */
  public static Builder emptyBuilder() {
    return new Builder();
  }

  /** Go's {@code NewSignature(name, args)}: a fresh {@code task_} UUID, the name and the arguments. */
  public static Signature create(String name, Arg... args) {
    return builder(name).args(args).build();
  }

  public Builder toBuilder() {
    return new Builder(this);
  }

  public String uuid() { return uuid; }
  public String name() { return name; }
  public String routingKey() { return routingKey; }
  /** When the task should run, or null to run as soon as possible. */
  public @Nullable OffsetDateTime eta() { return eta; }
  public String groupUuid() { return groupUuid; }
  public int groupTaskCount() { return groupTaskCount; }
  public List<Arg> args() { return args == null ? List.of() : args; }
  public boolean hasArgs() { return args != null; }
  public Map<String, @Nullable Object> headers() { return headers == null ? Map.of() : headers; }
  public boolean hasHeaders() { return headers != null; }
  public int priority() { return priority; }
  public boolean immutable() { return immutable; }
  /** How many automatic retries remain. */
  public int retryCount() { return retryCount; }
  /** The last retry delay in seconds (the next one is the next Fibonacci number). */
  public int retryTimeout() { return retryTimeout; }
  public List<Signature> onSuccess() { return onSuccess == null ? List.of() : onSuccess; }
  public boolean hasOnSuccess() { return onSuccess != null; }
  public List<Signature> onError() { return onError == null ? List.of() : onError; }
  public boolean hasOnError() { return onError != null; }
  public @Nullable Signature chordCallback() { return chordCallback; }
  public String brokerMessageGroupId() { return brokerMessageGroupId; }
  public String sqsReceiptHandle() { return sqsReceiptHandle; }
  public boolean stopTaskDeletionOnError() { return stopTaskDeletionOnError; }
  public boolean ignoreWhenTaskNotRegistered() { return ignoreWhenTaskNotRegistered; }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Signature s)) {
      return false;
    }
    return uuid.equals(s.uuid) && name.equals(s.name) && routingKey.equals(s.routingKey)
        && Objects.equals(eta, s.eta) && groupUuid.equals(s.groupUuid) && groupTaskCount == s.groupTaskCount
        && Objects.equals(args, s.args) && Objects.equals(headers, s.headers) && priority == s.priority
        && immutable == s.immutable && retryCount == s.retryCount && retryTimeout == s.retryTimeout
        && Objects.equals(onSuccess, s.onSuccess) && Objects.equals(onError, s.onError)
        && Objects.equals(chordCallback, s.chordCallback) && brokerMessageGroupId.equals(s.brokerMessageGroupId)
        && sqsReceiptHandle.equals(s.sqsReceiptHandle) && stopTaskDeletionOnError == s.stopTaskDeletionOnError
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

    public Builder uuid(String uuid) { this.uuid = Objects.requireNonNull(uuid, "uuid"); return this; }
    public Builder name(String name) { this.name = Objects.requireNonNull(name, "name"); return this; }
    /** The queue (Redis list, AMQP routing key, SQS queue, Pub/Sub topic); empty means the default queue. */
    public Builder routingKey(String routingKey) { this.routingKey = Objects.requireNonNull(routingKey, "routingKey"); return this; }
    public Builder eta(@Nullable Instant eta) { this.eta = eta == null ? null : eta.atOffset(ZoneOffset.UTC); return this; }
    public Builder eta(@Nullable OffsetDateTime eta) { this.eta = eta; return this; }
    public Builder groupUuid(String groupUuid) { this.groupUuid = Objects.requireNonNull(groupUuid, "groupUuid"); return this; }
    public Builder groupTaskCount(int count) { this.groupTaskCount = count; return this; }
    public Builder args(Arg... args) { return args(List.of(args)); }
    public Builder args(@Nullable List<Arg> args) { this.args = args == null ? null : new ArrayList<>(args); return this; }
    /** Appends arguments (creating the list if absent). */
    public Builder addArgs(List<Arg> more) {
      List<Arg> list = args == null ? new ArrayList<>() : new ArrayList<>(args);
      list.addAll(more);
      this.args = list;
      return this;
    }
    public Builder headers(@Nullable Map<String, ? extends @Nullable Object> headers) { this.headers = headers == null ? null : new LinkedHashMap<>(headers); return this; }
    public Builder header(String key, String value) {
      Map<String, @Nullable Object> map = headers == null ? new LinkedHashMap<>() : new LinkedHashMap<>(headers);
      map.put(key, value);
      this.headers = map;
      return this;
    }
    /** AMQP message priority (0-255; the queue needs {@code x-max-priority}). */
    public Builder priority(int priority) {
      if (priority < 0 || priority > 255) {
        throw new IllegalArgumentException("priority is a uint8 in Go, so 0..255; was " + priority);
      }
      this.priority = priority;
      return this;
    }
    /** When true, this task's results are not passed on to its success callbacks. */
    public Builder immutable(boolean immutable) { this.immutable = immutable; return this; }
    public Builder retryCount(int retryCount) {
      if (retryCount < 0) {
        throw new IllegalArgumentException("retryCount must not be negative, was " + retryCount);
      }
      this.retryCount = retryCount;
      return this;
    }
    public Builder retryTimeout(int seconds) {
      if (seconds < 0) {
        throw new IllegalArgumentException("retryTimeout must not be negative, was " + seconds);
      }
      this.retryTimeout = seconds;
      return this;
    }
    public Builder onSuccess(@Nullable List<Signature> callbacks) { this.onSuccess = callbacks == null ? null : new ArrayList<>(callbacks); return this; }
    public Builder onSuccess(Signature... callbacks) { return onSuccess(List.of(callbacks)); }
    public Builder onError(@Nullable List<Signature> callbacks) { this.onError = callbacks == null ? null : new ArrayList<>(callbacks); return this; }
    public Builder onError(Signature... callbacks) { return onError(List.of(callbacks)); }
    public Builder chordCallback(@Nullable Signature callback) { this.chordCallback = callback; return this; }
    public Builder brokerMessageGroupId(String id) { this.brokerMessageGroupId = Objects.requireNonNull(id); return this; }
    public Builder sqsReceiptHandle(String handle) { this.sqsReceiptHandle = Objects.requireNonNull(handle); return this; }
    public Builder stopTaskDeletionOnError(boolean stop) { this.stopTaskDeletionOnError = stop; return this; }
    /** When true, a worker that does not know this task drops it instead of requeuing it. */
    public Builder ignoreWhenTaskNotRegistered(boolean ignore) { this.ignoreWhenTaskNotRegistered = ignore; return this; }

    public Signature build() {
      return new Signature(this);
    }
  }
}
