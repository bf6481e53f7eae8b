package io.machinery.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.TaskState;
import io.machinery.spi.DeadLetterEntry;
import io.machinery.spi.QueueStats;
import io.machinery.spi.WorkerStatus;
import io.machinery.wire.LogText;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Tables for people, JSON for scripts. The JSON field names are this command's own and stable
 * (documented in the README); times are ISO-8601 instants, durations whole seconds, argument values
 * as Go's JSON writes them.
 */
final class Render {
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final int MAX_CELL = 60;

  private Render() {}

  /**
   * Text as it may reach a terminal: control characters (ANSI escapes, carriage returns, line
   * breaks, C1 codes) from task names, arguments, reasons and errors are shown as Java escapes, as
   * in the worker's log lines ({@link LogText}), instead of being obeyed, so a message cannot
   * repaint, hide or forge output, and a table row stays one line.
   */
  static String safe(String text) {
    return LogText.of(text, Integer.MAX_VALUE); // the escapes of the worker's log lines, uncut
  }

  static void json(PrintStream out, JsonNode node) {
    try {
      out.println(JSON.writeValueAsString(node));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write JSON", e);
    }
  }

  /**
   * Left-aligned columns two spaces apart; long cells are cut with an ellipsis, except in the last
   * column.
   */
  static void table(PrintStream out, List<String> headers, List<List<String>> rows) {
    int[] widths = new int[headers.size()];
    for (int i = 0; i < widths.length; i++) {
      widths[i] = headers.get(i).length();
    }
    List<List<String>> cut = new ArrayList<>();
    for (List<String> row : rows) {
      List<String> cells = new ArrayList<>();
      for (int i = 0; i < row.size(); i++) {
        boolean last = i == row.size() - 1;
        String text = safe(row.get(i));
        String cell =
            !last && text.length() > MAX_CELL ? text.substring(0, MAX_CELL - 1) + "…" : text;
        cells.add(cell);
        widths[i] = Math.max(widths[i], cell.length());
      }
      cut.add(cells);
    }
    out.println(line(headers, widths));
    for (List<String> row : cut) {
      out.println(line(row, widths));
    }
  }

  private static String line(List<String> cells, int[] widths) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < cells.size(); i++) {
      b.append(cells.get(i));
      if (i < cells.size() - 1) {
        b.append(" ".repeat(widths[i] - cells.get(i).length() + 2));
      }
    }
    return b.toString().stripTrailing();
  }

  static String instant(@Nullable Instant at) {
    return at == null ? "-" : at.truncatedTo(ChronoUnit.SECONDS).toString();
  }

  static String age(@Nullable Duration age) {
    if (age == null) {
      return "-";
    }
    long s = age.toSeconds();
    return s < 120 ? s + "s" : s < 7200 ? s / 60 + "m" : s / 3600 + "h";
  }

  /** {@code int64:3 string:hi}: the form {@code machinery send} takes. */
  static String args(List<Arg> args) {
    return args.stream().map(Render::arg).collect(Collectors.joining(" "));
  }

  static String arg(Arg arg) {
    Object value = arg.value();
    String text;
    if (value instanceof List<?> list) {
      text = list.stream().map(String::valueOf).collect(Collectors.joining(","));
    } else if (value instanceof byte[] bytes) {
      text = java.util.Base64.getEncoder().encodeToString(bytes);
    } else {
      text = String.valueOf(value);
    }
    return arg.type() + ":" + text;
  }

  static ArrayNode argsJson(List<Arg> args) {
    ArrayNode array = JSON.createArrayNode();
    for (Arg arg : args) {
      ObjectNode node = array.addObject().put("type", arg.type());
      node.set("value", JSON.valueToTree(arg.value()));
    }
    return array;
  }

  static ObjectNode signature(Signature s) {
    ObjectNode node =
        JSON.createObjectNode()
            .put("uuid", s.uuid())
            .put("name", s.name())
            .put("routingKey", s.routingKey())
            .put("eta", s.eta() == null ? null : s.eta().toInstant().toString())
            .put("retryCount", s.retryCount());
    Object expires = s.headers().get(Signature.EXPIRES_HEADER);
    if (expires != null) {
      node.put("expires", String.valueOf(expires)); // as sent: a value that is no time shows too
    }
    node.set("args", argsJson(s.args()));
    return node;
  }

  static ObjectNode queue(QueueStats q, Set<String> paused) {
    ObjectNode node =
        JSON.createObjectNode()
            .put("queue", q.queue())
            .put("pending", q.pending())
            .put("delayed", q.delayed())
            .put("deadLettered", q.deadLettered());
    node.put(
        "oldestPendingAgeSeconds",
        q.oldestPendingAge() == null ? null : q.oldestPendingAge().toSeconds());
    return node.put("paused", paused.contains(q.queue()));
  }

  static ObjectNode deadLetter(DeadLetterEntry e) {
    ObjectNode node =
        JSON.createObjectNode()
            .put("id", e.id())
            .put("queue", e.queue())
            .put("reason", e.reason())
            .put("at", e.at().toString());
    e.signature().ifPresentOrElse(s -> node.set("task", signature(s)), () -> node.putNull("task"));
    return node;
  }

  static ObjectNode worker(WorkerStatus w) {
    try {
      return (ObjectNode) JSON.readTree(w.toJson()); // the one encoding every control plane stores
    } catch (IOException e) {
      throw new IllegalStateException("cannot read a worker status back", e);
    }
  }

  static ObjectNode periodic(WorkerStatus.ScheduledEntry e) {
    return JSON.createObjectNode()
        .put("name", e.name())
        .put("spec", e.spec())
        .put("nextFire", e.nextFire() == null ? null : e.nextFire().toString())
        .put("lastFire", e.lastFire() == null ? null : e.lastFire().toString());
  }

  static ObjectNode state(TaskState state) {
    ObjectNode node =
        JSON.createObjectNode()
            .put("state", state.state().name())
            .put("error", state.error())
            .put("createdAt", state.createdAt().toInstant().toString());
    ArrayNode results = node.putArray("results");
    for (TaskResult result : state.results()) {
      results.addObject().put("type", result.type()).set("value", JSON.valueToTree(result.value()));
    }
    return node;
  }

  static String results(TaskState state) {
    return state.results().stream()
        .map(r -> r.type() + ":" + r.value())
        .collect(Collectors.joining(" "));
  }

  static List<String> row(String... cells) {
    return Arrays.asList(cells);
  }
}
