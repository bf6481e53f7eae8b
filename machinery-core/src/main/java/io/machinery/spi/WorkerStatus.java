package io.machinery.spi;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.machinery.MalformedMessageException;
import io.machinery.TaskBreaker;
import io.machinery.internal.GoDurations;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * What a live worker tells the {@link ControlPlane} on every heartbeat: who it is, what it
 * consumes, how busy it is, the tasks it is running now (the queue's in-flight tasks, with the
 * worker holding them), the periodic entries of its server with their next fire times, its circuit
 * breakers that are not closed, and the task limits it enforces (so an operator sees that every
 * worker took up a limit set at run time).
 *
 * <p>{@link #toJson()} and {@link #fromJson(byte[])} are the one encoding every control plane
 * stores, so a CLI reads what any worker wrote. The format is Java's own (Go workers do not
 * announce themselves); unknown fields are ignored when read, so it can grow.
 *
 * @param id unique per worker instance: host, process id, consumer tag and a random suffix
 * @param host the host name of the worker's process
 * @param pid the worker's process id
 * @param consumerTag the worker's consumer tag
 * @param queue the queue it consumes (actual name)
 * @param concurrency how many tasks it runs at once
 * @param busy how many slots are busy now
 * @param paused whether it stopped fetching because its queue is paused
 * @param startedAt when the worker was launched
 * @param heartbeatAt when this status was taken
 * @param running the tasks it runs now
 * @param periodic its server's periodic entries
 * @param breakers its circuit breaker keys that are open or half-open, with their states (at most
 *     {@link #MAX_BREAKERS}, the first by key)
 * @param broker where it takes tasks from, for people: its server's broker URL without credentials
 *     (scheme, hosts and ports), and during a move between brokers the old one's first, {@code
 *     redis://old:6379 -> amqp://new:5672} (so an operator sees which processes moved); empty in a
 *     status written before this field
 * @param resultBackend where its server stores results, for people, in the same form: {@code
 *     redis://old:6379 -> mongodb://new:27017} during a move between result backends; empty in a
 *     status written before this field
 * @param limits the task limits it enforces, by task name: its own ({@code Worker.Builder.limit})
 *     with those set in the control plane over them or beside them (at most {@link #MAX_LIMITS},
 *     the first by name; the rest are left out); empty in a status written before this field
 * @param starting whether it has no consumer though it runs and its queue is not paused: it tries
 *     to start one (its broker's server failed the start) or to replace one that ended by itself,
 *     so it takes no task now; false in a status written before this field
 */
public record WorkerStatus(
    String id,
    String host,
    long pid,
    String consumerTag,
    String queue,
    int concurrency,
    int busy,
    boolean paused,
    Instant startedAt,
    Instant heartbeatAt,
    List<RunningTask> running,
    List<ScheduledEntry> periodic,
    Map<String, TaskBreaker.State> breakers,
    String broker,
    String resultBackend,
    Map<String, LimitInForce> limits,
    boolean starting) {

  /**
   * The most breaker keys a status carries: enough to see an outage, small enough to send often.
   */
  public static final int MAX_BREAKERS = 100;

  /** The most task limits a status carries, as {@link #MAX_BREAKERS}. */
  public static final int MAX_LIMITS = 100;

  /** The most bytes {@link #fromJson} reads: a status is small; a bigger value is not one. */
  public static final int MAX_JSON_BYTES = 4 << 20;

  private static final ObjectMapper JSON = new ObjectMapper();

  static {
    JSON.getFactory()
        .setStreamReadConstraints(
            StreamReadConstraints.builder()
                .maxNestingDepth(16)
                .maxStringLength(1 << 20)
                .maxNumberLength(40)
                .build());
  }

  /**
   * Checks and copies the lists; keeps the first {@link #MAX_LIMITS} limits by task name.
   *
   * @throws NullPointerException if a field is null
   */
  public WorkerStatus {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(consumerTag, "consumerTag");
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(startedAt, "startedAt");
    Objects.requireNonNull(heartbeatAt, "heartbeatAt");
    Objects.requireNonNull(broker, "broker");
    Objects.requireNonNull(resultBackend, "resultBackend");
    running = List.copyOf(running);
    periodic = List.copyOf(periodic);
    breakers = Collections.unmodifiableMap(new TreeMap<>(breakers));
    TreeMap<String, LimitInForce> first = new TreeMap<>();
    for (Map.Entry<String, LimitInForce> limit : new TreeMap<>(limits).entrySet()) {
      if (first.size() == MAX_LIMITS) {
        break;
      }
      first.put(limit.getKey(), Objects.requireNonNull(limit.getValue(), "limit"));
    }
    limits = Collections.unmodifiableMap(first);
  }

  /**
   * The breakers of {@code states} that are not closed, at most {@link #MAX_BREAKERS} (the first by
   * key): what a heartbeat carries.
   *
   * @param states a worker's breaker states by key
   * @return the open and half-open ones
   */
  public static Map<String, TaskBreaker.State> notClosed(Map<String, TaskBreaker.State> states) {
    Map<String, TaskBreaker.State> out = new TreeMap<>();
    new TreeMap<>(states)
        .forEach(
            (key, state) -> {
              if (state != TaskBreaker.State.CLOSED && out.size() < MAX_BREAKERS) {
                out.put(key, state);
              }
            });
    return out;
  }

  /**
   * A task a worker is running.
   *
   * @param uuid the task's UUID
   * @param name the task's name
   * @param startedAt when its function started (or its delivery arrived, before that)
   */
  public record RunningTask(String uuid, String name, Instant startedAt) {
    /** Checks the fields. */
    public RunningTask {
      Objects.requireNonNull(uuid, "uuid");
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(startedAt, "startedAt");
    }
  }

  /**
   * A periodic entry of the worker's server.
   *
   * @param name the entry's name
   * @param spec its cron spec
   * @param nextFire its next fire time, null when none
   * @param lastFire its last fire time in this process, null when none
   */
  public record ScheduledEntry(
      String name, String spec, @Nullable Instant nextFire, @Nullable Instant lastFire) {
    /** Checks the fields. */
    public ScheduledEntry {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(spec, "spec");
    }
  }

  /**
   * A task limit a worker enforces: its numbers, how it counts, and where the numbers come from.
   *
   * @param ratePermits starts per period; 0 when it has no rate
   * @param ratePeriod the rate's period (in whole milliseconds once read back, as {@link
   *     ControlPlane.TaskLimitSetting} keeps it); zero when it has no rate
   * @param burst how many starts may follow one another after an idle spell (the rate's permits
   *     unless set); 0 when it has no rate
   * @param maxConcurrent the most runs at once under one key; 0 when it has no cap
   * @param perKey whether runs count per key of a function of the signature (a customer, a host),
   *     false when they count per task name
   * @param fromControlPlane whether the numbers are an operator's, set in the control plane at run
   *     time ({@link ControlPlane#setTaskLimit}), over the worker's own limit or beside it; false
   *     when they are the worker's own ({@code Worker.Builder.limit})
   */
  public record LimitInForce(
      int ratePermits,
      Duration ratePeriod,
      int burst,
      int maxConcurrent,
      boolean perKey,
      boolean fromControlPlane) {
    /**
     * Checks the fields.
     *
     * @throws IllegalArgumentException when a number or the period is negative
     */
    public LimitInForce {
      Objects.requireNonNull(ratePeriod, "ratePeriod");
      requireNonNegative(ratePermits, ratePeriod, burst, maxConcurrent);
    }

    /** Refuses negative numbers of a limit, shared with the settings. */
    static void requireNonNegative(
        int ratePermits, Duration ratePeriod, int burst, int maxConcurrent) {
      if (ratePermits < 0 || burst < 0 || maxConcurrent < 0 || ratePeriod.isNegative()) {
        throw new IllegalArgumentException(
            "a task limit's numbers cannot be negative, were rate "
                + ratePermits
                + " per "
                + ratePeriod
                + ", burst "
                + burst
                + ", maxConcurrent "
                + maxConcurrent);
      }
    }

    /**
     * Says the limit for people, in the words of {@link ControlPlane.TaskLimitSetting#describe()}:
     * {@code "10 per 1s, burst 5, at most 2 at once, per key"}.
     *
     * @return the text
     */
    public String describe() {
      String numbers = text(ratePermits, ratePeriod, burst, maxConcurrent);
      return perKey ? numbers + ", per key" : numbers;
    }

    /** The text of a limit's numbers ({@code burst} 0: the permits), shared with the settings. */
    static String text(int ratePermits, Duration ratePeriod, int burst, int maxConcurrent) {
      StringBuilder s = new StringBuilder();
      if (ratePermits > 0) {
        s.append(ratePermits)
            .append(" per ")
            .append(GoDurations.format(ratePeriod))
            .append(", burst ")
            .append(burst > 0 ? burst : ratePermits);
      }
      if (maxConcurrent > 0) {
        s.append(ratePermits > 0 ? ", " : "").append("at most ").append(maxConcurrent);
        s.append(" at once");
      }
      return s.toString();
    }
  }

  /**
   * Encodes this status as JSON (UTF-8).
   *
   * @return the encoded status
   */
  public byte[] toJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("id", id)
        .put("host", host)
        .put("pid", pid)
        .put("consumerTag", consumerTag)
        .put("queue", queue)
        .put("concurrency", concurrency)
        .put("busy", busy)
        .put("paused", paused)
        .put("starting", starting)
        .put("startedAt", startedAt.toString())
        .put("heartbeatAt", heartbeatAt.toString());
    ArrayNode tasks = root.putArray("running");
    for (RunningTask task : running) {
      tasks
          .addObject()
          .put("uuid", task.uuid())
          .put("name", task.name())
          .put("startedAt", task.startedAt().toString());
    }
    ArrayNode entries = root.putArray("periodic");
    for (ScheduledEntry entry : periodic) {
      ObjectNode e = entries.addObject().put("name", entry.name()).put("spec", entry.spec());
      if (entry.nextFire() != null) {
        e.put("nextFire", entry.nextFire().toString());
      }
      if (entry.lastFire() != null) {
        e.put("lastFire", entry.lastFire().toString());
      }
    }
    if (!breakers.isEmpty()) {
      ObjectNode b = root.putObject("breakers");
      breakers.forEach((key, state) -> b.put(key, state.name()));
    }
    root.put("broker", broker);
    root.put("resultBackend", resultBackend);
    ObjectNode l = root.putObject("limits");
    limits.forEach(
        (task, limit) ->
            l.putObject(task)
                .put("ratePermits", limit.ratePermits())
                .put("ratePeriodMillis", limit.ratePeriod().toMillis())
                .put("burst", limit.burst())
                .put("maxConcurrent", limit.maxConcurrent())
                .put("perKey", limit.perKey())
                .put("fromControlPlane", limit.fromControlPlane()));
    try {
      return JSON.writeValueAsBytes(root);
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode a worker status", e);
    }
  }

  /**
   * Decodes a status written by {@link #toJson()}.
   *
   * @param json the encoded status
   * @return the status
   * @throws MalformedMessageException if {@code json} is not a status (or is larger than {@link
   *     #MAX_JSON_BYTES})
   */
  public static WorkerStatus fromJson(byte[] json) {
    if (json.length > MAX_JSON_BYTES) {
      throw new MalformedMessageException(
          "a worker status of " + json.length + " bytes is over the limit of " + MAX_JSON_BYTES);
    }
    try {
      JsonNode root = JSON.readTree(json);
      List<RunningTask> running = new ArrayList<>();
      for (JsonNode task : array(root, "running")) {
        running.add(
            new RunningTask(
                text(task, "uuid"), text(task, "name"), Instant.parse(text(task, "startedAt"))));
      }
      List<ScheduledEntry> periodic = new ArrayList<>();
      for (JsonNode entry : array(root, "periodic")) {
        periodic.add(
            new ScheduledEntry(
                text(entry, "name"),
                text(entry, "spec"),
                instantOrNull(entry, "nextFire"),
                instantOrNull(entry, "lastFire")));
      }
      Map<String, TaskBreaker.State> breakers = new TreeMap<>();
      root.path("breakers")
          .properties()
          .forEach(
              field -> {
                for (TaskBreaker.State state : TaskBreaker.State.values()) {
                  if (state.name().equals(field.getValue().asText())) {
                    breakers.put(
                        field.getKey(), state); // a state this reader does not know: left out
                  }
                }
              });
      Map<String, LimitInForce> limits = new TreeMap<>();
      for (Map.Entry<String, JsonNode> field : root.path("limits").properties()) {
        JsonNode limit = field.getValue();
        limits.put(
            field.getKey(),
            new LimitInForce(
                Math.toIntExact(number(limit, "ratePermits")),
                Duration.ofMillis(number(limit, "ratePeriodMillis")),
                Math.toIntExact(number(limit, "burst")),
                Math.toIntExact(number(limit, "maxConcurrent")),
                limit.path("perKey").asBoolean(false),
                limit.path("fromControlPlane").asBoolean(false)));
      }
      return new WorkerStatus(
          text(root, "id"),
          text(root, "host"),
          number(root, "pid"),
          text(root, "consumerTag"),
          text(root, "queue"),
          (int) number(root, "concurrency"),
          (int) number(root, "busy"),
          root.path("paused").asBoolean(false),
          Instant.parse(text(root, "startedAt")),
          Instant.parse(text(root, "heartbeatAt")),
          running,
          periodic,
          breakers,
          root.path("broker").asText(""), // absent in an older worker's status
          root.path("resultBackend").asText(""),
          limits, // absent in an older worker's status: none
          root.path("starting").asBoolean(false));
    } catch (IOException | RuntimeException e) {
      throw new MalformedMessageException("not a worker status: " + e.getMessage(), e);
    }
  }

  private static Iterable<JsonNode> array(JsonNode node, String field) {
    JsonNode value = node.path(field);
    return value.isArray() ? value : List.of();
  }

  private static String text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    if (value == null || !value.isTextual()) {
      throw new IllegalArgumentException("field " + field + " missing or not a string");
    }
    return value.asText();
  }

  private static long number(JsonNode node, String field) {
    JsonNode value = node.get(field);
    if (value == null || !value.canConvertToLong()) {
      throw new IllegalArgumentException("field " + field + " missing or not an integer");
    }
    return value.asLong();
  }

  private static @Nullable Instant instantOrNull(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? null : Instant.parse(value.asText());
  }
}
