package io.machinery.spi;

import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.machinery.MalformedMessageException;
import io.machinery.TaskBreaker;
import java.io.IOException;
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
 * worker holding them), the periodic entries of its server with their next fire times, and its
 * circuit breakers that are not closed.
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
    String resultBackend) {

  /**
   * The most breaker keys a status carries: enough to see an outage, small enough to send often.
   */
  public static final int MAX_BREAKERS = 100;

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
   * Checks and copies the lists.
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
  }

  /**
   * A status without breakers, broker and result backend (a worker that has none open, or an older
   * writer's status).
   *
   * @param id as in the record
   * @param host as in the record
   * @param pid as in the record
   * @param consumerTag as in the record
   * @param queue as in the record
   * @param concurrency as in the record
   * @param busy as in the record
   * @param paused as in the record
   * @param startedAt as in the record
   * @param heartbeatAt as in the record
   * @param running as in the record
   * @param periodic as in the record
   * @throws NullPointerException if a field is null
   */
  public WorkerStatus(
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
      List<ScheduledEntry> periodic) {
    this(
        id,
        host,
        pid,
        consumerTag,
        queue,
        concurrency,
        busy,
        paused,
        startedAt,
        heartbeatAt,
        running,
        periodic,
        Map.of(),
        "",
        "");
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
          root.path("resultBackend").asText(""));
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
