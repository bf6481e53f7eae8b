package io.machinery.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.machinery.Inspection;
import io.machinery.Signature;
import io.machinery.TaskState;
import io.machinery.spi.ControlPlane;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.QueueStats;
import io.machinery.spi.WorkerStatus;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The JSON the page reads: inspection values as Jackson trees. Messages and states are shown in
 * Go's wire form ({@link WireCodec}), the form an operator of Go and Java workers knows, cut by
 * {@link #cut} so a huge argument never reaches the browser whole (the raw endpoints serve it as a
 * download).
 */
final class Views {
  /** Strings longer than this are cut. */
  static final int MAX_STRING = 2_000;

  /** Arrays and objects longer than this are cut. */
  static final int MAX_ITEMS = 100;

  /** The argument preview in a list row. */
  static final int PREVIEW = 160;

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private Views() {}

  static ObjectNode queue(QueueStats q, Set<String> paused) {
    ObjectNode n =
        NODES
            .objectNode()
            .put("queue", q.queue())
            .put("pending", q.pending())
            .put("delayed", q.delayed())
            .put("deadLettered", q.deadLettered())
            .put("paused", paused.contains(q.queue()))
            .put("counted", true);
    if (q.oldestPendingAge() != null) {
      n.put("oldestPendingMs", q.oldestPendingAge().toMillis());
    } else {
      n.putNull("oldestPendingMs");
    }
    return n;
  }

  /**
   * A queue of a broker that keeps no counts ({@link io.machinery.spi.Inspector#countsQueues()} is
   * false, as on Pub/Sub): its name and whether it is paused, its sizes null, never zeros that look
   * true.
   */
  static ObjectNode uncountedQueue(String queue, Set<String> paused) {
    return NODES
        .objectNode()
        .put("queue", queue)
        .putNull("pending")
        .putNull("delayed")
        .putNull("deadLettered")
        .put("paused", paused.contains(queue))
        .put("counted", false)
        .putNull("oldestPendingMs");
  }

  /** A row of the pending or delayed tab. */
  static ObjectNode row(Signature s) {
    ObjectNode n =
        NODES
            .objectNode()
            .put("uuid", s.uuid())
            .put("name", s.name())
            .put("attempts", attempts(s))
            .put("groupUuid", s.groupUuid())
            .put("args", preview(s));
    instant(n, "eta", s.eta() == null ? null : s.eta().toInstant());
    return n;
  }

  static ObjectNode deadRow(DeadLetterEntry e) {
    ObjectNode n =
        NODES
            .objectNode()
            .put("id", e.id())
            .put("queue", e.queue())
            .put("reason", cutString(e.reason(), PREVIEW * 2))
            .put("size", e.message().length);
    instant(n, "at", e.at().equals(Instant.EPOCH) ? null : e.at());
    e.signature()
        .ifPresentOrElse(
            s -> n.put("uuid", s.uuid()).put("name", s.name()).put("args", preview(s)),
            () ->
                n.putNull("uuid")
                    .putNull("name")
                    .put(
                        "args",
                        cutString(
                            new String(e.message(), java.nio.charset.StandardCharsets.UTF_8),
                            PREVIEW)));
    return n;
  }

  /** A fairness key with tasks waiting, and how many. */
  static ObjectNode laneRow(java.util.Map.Entry<String, Long> lane, int weight) {
    return NODES
        .objectNode()
        .put("key", lane.getKey())
        .put("pending", lane.getValue())
        .put("weight", weight);
  }

  static ObjectNode inFlightRow(Inspection.InFlightTask t) {
    ObjectNode n =
        NODES
            .objectNode()
            .put("uuid", t.task().uuid())
            .put("name", t.task().name())
            .put("workerId", t.workerId())
            .put("queue", t.queue());
    instant(n, "startedAt", t.task().startedAt());
    return n;
  }

  static ObjectNode worker(WorkerStatus w) {
    ObjectNode n =
        NODES
            .objectNode()
            .put("id", w.id())
            .put("host", w.host())
            .put("pid", w.pid())
            .put("consumerTag", w.consumerTag())
            .put("queue", w.queue())
            .put("broker", w.broker())
            .put("resultBackend", w.resultBackend())
            .put("concurrency", w.concurrency())
            .put("busy", w.busy())
            .put("paused", w.paused())
            .put("starting", w.starting());
    instant(n, "startedAt", w.startedAt());
    instant(n, "heartbeatAt", w.heartbeatAt());
    ArrayNode running = n.putArray("running");
    for (WorkerStatus.RunningTask t : w.running()) {
      ObjectNode r = running.addObject().put("uuid", t.uuid()).put("name", t.name());
      instant(r, "startedAt", t.startedAt());
    }
    ObjectNode breakers = n.putObject("breakers");
    w.breakers().forEach((key, state) -> breakers.put(key, state.name()));
    ObjectNode limits = n.putObject("limits");
    w.limits()
        .forEach(
            (task, limit) ->
                limits
                    .putObject(task)
                    .put("ratePermits", limit.ratePermits())
                    .put("ratePeriodMillis", limit.ratePeriod().toMillis())
                    .put("burst", limit.burst())
                    .put("maxConcurrent", limit.maxConcurrent())
                    .put("perKey", limit.perKey())
                    .put("fromControlPlane", limit.fromControlPlane())
                    .put("describe", limit.describe()));
    return n;
  }

  /**
   * One breaker opening, with the time left as of {@code now} (the server's clock: the page never
   * compares the browser's clock with the control plane's).
   */
  static ObjectNode breaker(ControlPlane.BreakerOpening o, Instant now) {
    ObjectNode n = NODES.objectNode().put("key", o.key()).put("id", o.id());
    instant(n, "until", o.until());
    return n.put("leftMillis", Math.max(0, java.time.Duration.between(now, o.until()).toMillis()))
        .put("openedBy", o.openedBy())
        .put("reason", o.reason())
        .put("trial", o.trial());
  }

  static ObjectNode periodic(WorkerStatus.ScheduledEntry e) {
    ObjectNode n = NODES.objectNode().put("name", e.name()).put("spec", e.spec());
    instant(n, "nextFire", e.nextFire());
    instant(n, "lastFire", e.lastFire());
    return n;
  }

  /**
   * One task: where it is, its message and state in Go's form (cut), and the links to its
   * relatives.
   */
  static ObjectNode task(Inspection.TaskReport r, String queue) {
    boolean[] cut = {false};
    ObjectNode n =
        NODES
            .objectNode()
            .put("uuid", r.uuid())
            .put("queue", queue)
            .put("location", r.location().name())
            .put("scanComplete", r.scanComplete())
            .put("attempts", r.attempts());
    r.workerId().ifPresentOrElse(w -> n.put("workerId", w), () -> n.putNull("workerId"));
    r.state().ifPresentOrElse(s -> n.set("state", state(s, cut)), () -> n.putNull("state"));
    r.deadLetter()
        .ifPresentOrElse(
            d -> {
              // the reason quotes the task's error, as long as the task made it: cut like the error
              ObjectNode dl =
                  n.putObject("deadLetter").put("id", d.id()).put("reason", cut(d.reason(), cut));
              instant(dl, "at", d.at().equals(Instant.EPOCH) ? null : d.at());
            },
            () -> n.putNull("deadLetter"));
    r.message()
        .ifPresentOrElse(
            m -> {
              n.put("name", m.name());
              n.set("message", cut(tree(WireCodec.encode(m)), cut));
              n.set("links", links(m, cut));
            },
            () -> {
              r.state().ifPresentOrElse(s -> n.put("name", s.taskName()), () -> n.putNull("name"));
              n.putNull("message");
              n.putNull("links");
            });
    n.put("truncated", cut[0]);
    return n;
  }

  private static ObjectNode state(TaskState s, boolean[] cut) {
    ObjectNode n =
        NODES
            .objectNode()
            .put("state", s.state().name())
            .put("name", s.taskName())
            .put("error", cutString(s.error(), MAX_STRING));
    if (s.error().length() > MAX_STRING) {
      cut[0] = true;
    }
    if (!s.createdAt().equals(TaskState.ZERO_TIME)) {
      n.put("createdAt", s.createdAt().toInstant().toString());
    } else {
      n.putNull("createdAt");
    }
    JsonNode wire = tree(WireCodec.encode(s));
    JsonNode results = wire.get("Results");
    n.set("results", results == null ? NODES.nullNode() : cut(results, cut));
    return n;
  }

  /** A DAG's tasks with their states ({@link Inspection#dag}), or null when there is none. */
  static JsonNode dag(List<Inspection.DagTask> tasks) {
    if (tasks.isEmpty()) {
      return NODES.nullNode();
    }
    ArrayNode array = NODES.arrayNode();
    for (Inspection.DagTask t : tasks) {
      ObjectNode n = array.addObject().put("name", t.name()).put("uuid", t.uuid());
      ArrayNode dependsOn = n.putArray("dependsOn");
      t.dependsOn().forEach(dependsOn::add);
      t.state().ifPresentOrElse(s -> n.put("state", s.name()), () -> n.putNull("state"));
    }
    return array;
  }

  /**
   * The links to a task's relatives, from its message's fields and headers: as untrusted as its
   * arguments, so cut alike ({@code cut[0]} set when cut).
   */
  private static ObjectNode links(Signature m, boolean[] cut) {
    ObjectNode n =
        NODES
            .objectNode()
            .put("groupUuid", m.groupUuid())
            .put("groupTaskCount", m.groupTaskCount());
    Signature callback = m.chordCallback();
    n.set("chordCallback", callback == null ? NODES.nullNode() : ref(callback));
    refs(n.putArray("onSuccess"), m.onSuccess(), cut);
    refs(n.putArray("onError"), m.onError(), cut);
    // a saga's compensation names the step it undoes (see io.machinery.Saga)
    Object undoes = m.headers().get("machinery_saga_undoes");
    if (undoes instanceof String step && !step.isEmpty()) {
      n.put("undoes", cut(step, cut));
    } else {
      n.putNull("undoes");
    }
    Object expires = m.headers().get(Signature.EXPIRES_HEADER);
    if (expires != null) {
      // as sent: a value that is no time shows too
      n.put("expires", cut(String.valueOf(expires), cut));
    }
    return n;
  }

  /** The first {@link #MAX_ITEMS} of a list of tasks, as links; {@code cut[0]} set past them. */
  private static void refs(ArrayNode out, List<Signature> tasks, boolean[] cut) {
    for (Signature s : tasks) {
      if (out.size() == MAX_ITEMS) {
        cut[0] = true;
        return;
      }
      out.add(ref(s));
    }
  }

  /** {@link #cutString} at {@link #MAX_STRING}, setting {@code cut[0]} when it cuts. */
  private static String cut(String s, boolean[] cut) {
    if (s.length() > MAX_STRING) {
      cut[0] = true;
    }
    return cutString(s, MAX_STRING);
  }

  private static ObjectNode ref(Signature s) {
    return NODES.objectNode().put("uuid", s.uuid()).put("name", s.name());
  }

  /** One step of a task's history ({@link Inspection#history}). */
  static ObjectNode event(ControlPlane.TaskEvent e) {
    return NODES
        .objectNode()
        .put("kind", e.kind().name())
        .put("at", e.at().toString())
        .put("workerId", e.workerId())
        .put("attempt", e.attempt())
        .put("error", cutString(e.error(), MAX_STRING));
  }

  /** The full message and state, uncut: the download behind a truncated task. */
  static ObjectNode raw(Inspection.TaskReport r) {
    ObjectNode n = NODES.objectNode().put("uuid", r.uuid()).put("location", r.location().name());
    n.set("message", r.message().map(m -> tree(WireCodec.encode(m))).orElse(NODES.nullNode()));
    n.set("state", r.state().map(s -> tree(WireCodec.encode(s))).orElse(NODES.nullNode()));
    return n;
  }

  static JsonNode tree(byte[] json) {
    try {
      return Guard.JSON.readTree(json);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read back what WireCodec wrote", e);
    }
  }

  /**
   * A copy of {@code node} with long strings, arrays and objects cut; sets {@code cut[0]} when it
   * cut.
   */
  static JsonNode cut(JsonNode node, boolean[] cut) {
    if (node.isTextual()) {
      String text = node.asText();
      if (text.length() > MAX_STRING) {
        cut[0] = true;
        return TextNode.valueOf(cutString(text, MAX_STRING));
      }
      return node;
    }
    if (node.isArray()) {
      ArrayNode out = NODES.arrayNode();
      int i = 0;
      for (JsonNode item : node) {
        if (i++ == MAX_ITEMS) {
          cut[0] = true;
          out.add("… " + (node.size() - MAX_ITEMS) + " more items (download the whole message)");
          break;
        }
        out.add(cut(item, cut));
      }
      return out;
    }
    if (node.isObject()) {
      ObjectNode out = NODES.objectNode();
      int i = 0;
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> field = it.next();
        if (i++ == MAX_ITEMS) {
          cut[0] = true;
          out.put("…", (node.size() - MAX_ITEMS) + " more fields (download the whole message)");
          break;
        }
        out.set(field.getKey(), cut(field.getValue(), cut));
      }
      return out;
    }
    return node;
  }

  static String cutString(String s, int max) {
    return s.length() <= max
        ? s
        : s.substring(0, max) + "… (" + (s.length() - max) + " more characters)";
  }

  /** The arguments as Go's {@code [{"Type":..,"Value":..}]} values only, cut to one line. */
  private static String preview(Signature s) {
    JsonNode args = tree(WireCodec.encode(s)).get("Args");
    if (args == null || !args.isArray()) {
      return "";
    }
    ArrayNode values = NODES.arrayNode();
    args.forEach(a -> values.add(a.path("Value")));
    return cutString(values.toString(), PREVIEW);
  }

  /** The attempt number core reads from the message's headers. */
  private static int attempts(Signature s) {
    return Inspection.attempts(s);
  }

  private static void instant(ObjectNode n, String field, @Nullable Instant at) {
    if (at == null) {
      n.putNull(field);
    } else {
      n.put(field, at.toString());
    }
  }
}
