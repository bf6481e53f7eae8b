package io.machinery;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.machinery.config.Config;
import io.machinery.wire.LogText;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * A DAG's wire: the whole DAG in a header of each of its task messages.
 *
 * <p>Design notes. Go's message has no place for a task's dependents, and new top-level keys are
 * out (Go clients must read every message), so the DAG travels as the header {@value #HEADER}: a
 * JSON string {@code {"v":1,"nodes":[{"name":..,"uuid":..,"deps":[indexes],"task":"<Go JSON
 * message>"}]}}, each node after its dependencies. Each message carries the whole DAG rather than
 * its own dependents: a dependent's dependents would otherwise be nested once per path to them,
 * which grows exponentially with diamonds. A node's dependencies are indexes of earlier nodes, so a
 * decoded DAG has no cycle whatever a message says.
 *
 * <p>Each task with dependencies completes like a chord callback whose group is its dependencies:
 * the group meta, {@link #joinGroup}, is recorded when the DAG is sent and named after the task's
 * UUID, so no id travels that could name another key. Only the node a worker needs is decoded: the
 * finished task finds itself by UUID, then decodes its dependents' messages (checked as any
 * message: {@link WireCodec#decodeSignature(byte[], Config)}), each of which must carry the UUID
 * its node says.
 */
final class DagHeader {
  /** The header of every DAG task message. */
  static final String HEADER = "machinery_dag";

  private static final int VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String json;
  private final JsonNode nodes;
  private final Config config;

  private DagHeader(String json, JsonNode nodes, Config config) {
    this.json = json;
    this.nodes = nodes;
    this.config = config;
  }

  /**
   * The header's value for a DAG's nodes, whose tasks are as they will be sent (less the header).
   */
  static String encode(List<Dag.Node> dagNodes) {
    ObjectNode root = JSON.createObjectNode().put("v", VERSION);
    ArrayNode nodes = root.putArray("nodes");
    for (Dag.Node node : dagNodes) {
      ObjectNode n = nodes.addObject().put("name", node.name()).put("uuid", node.task().uuid());
      ArrayNode deps = n.putArray("deps");
      node.dependencies().forEach(deps::add);
      n.put("task", new String(WireCodec.encode(node.task()), StandardCharsets.UTF_8));
    }
    try {
      return JSON.writeValueAsString(root);
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode a DAG", e);
    }
  }

  /** The group meta of a task's dependencies, named after the task. */
  static String joinGroup(String taskUuid) {
    return "group_"
        + UUID.nameUUIDFromBytes(
            ("machinery-dag-join:" + taskUuid).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The DAG a task message carries; empty when it carries none.
   *
   * @throws MalformedMessageException when the header is not a DAG this version reads
   */
  static Optional<DagHeader> of(Signature task, Config config) {
    Object value = task.headers().get(HEADER);
    if (value == null) {
      return Optional.empty();
    }
    if (!(value instanceof String json)) {
      throw new MalformedMessageException("header " + HEADER + " is not a string");
    }
    JsonNode root;
    try {
      root = JSON.readTree(json);
    } catch (IOException e) {
      throw new MalformedMessageException("header " + HEADER + " is not JSON: " + e.getMessage());
    }
    if (root == null || !root.isObject() || root.path("v").asInt(-1) != VERSION) {
      throw new MalformedMessageException(
          "header " + HEADER + " is not a DAG of version " + VERSION);
    }
    JsonNode nodes = root.path("nodes");
    if (!nodes.isArray() || nodes.isEmpty()) {
      throw new MalformedMessageException("header " + HEADER + " has no nodes");
    }
    for (int i = 0; i < nodes.size(); i++) {
      JsonNode node = nodes.get(i);
      if (!node.path("name").isTextual()
          || !node.path("uuid").isTextual()
          || !node.path("task").isTextual()
          || !node.path("deps").isArray()) {
        throw new MalformedMessageException(
            "header " + HEADER + ": node " + i + " lacks a name, uuid, deps or task");
      }
      Set<Integer> seen = new HashSet<>();
      for (JsonNode dep : node.path("deps")) {
        if (!dep.canConvertToInt() || !dep.isIntegralNumber()) {
          throw new MalformedMessageException(
              "header " + HEADER + ": node " + i + " has a dependency that is not an index");
        }
        int d = dep.intValue();
        if (d < 0 || d >= i || !seen.add(d)) {
          throw new MalformedMessageException(
              "header "
                  + HEADER
                  + ": node "
                  + i
                  + " depends on "
                  + d
                  + ", not on a distinct earlier node");
        }
      }
    }
    return Optional.of(new DagHeader(json, nodes, config));
  }

  /** The index of the node with this task UUID; -1 when none has it. */
  int indexOf(String taskUuid) {
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i).path("uuid").asText().equals(taskUuid)) {
        return i;
      }
    }
    return -1;
  }

  /** How many tasks the DAG has. */
  int size() {
    return nodes.size();
  }

  String name(int index) {
    return nodes.get(index).path("name").asText();
  }

  /** The node's task UUID, as the header names it. */
  String uuid(int index) {
    return nodes.get(index).path("uuid").asText();
  }

  /** How many tasks the node depends on. */
  int dependencyCount(int index) {
    return nodes.get(index).path("deps").size();
  }

  /** The UUIDs of the tasks the node depends on, in its order. */
  List<String> dependencyUuids(int index) {
    List<String> uuids = new ArrayList<>();
    for (JsonNode dep : nodes.get(index).path("deps")) {
      uuids.add(nodes.get(dep.intValue()).path("uuid").asText());
    }
    return uuids;
  }

  /** The nodes that depend on this one directly, in DAG order. */
  List<Integer> dependents(int index) {
    List<Integer> dependents = new ArrayList<>();
    for (int i = index + 1; i < nodes.size(); i++) {
      for (JsonNode dep : nodes.get(i).path("deps")) {
        if (dep.intValue() == index) {
          dependents.add(i);
          break;
        }
      }
    }
    return dependents;
  }

  /** The nodes that depend on this one directly or not, in DAG order. */
  List<Integer> descendants(int index) {
    boolean[] reached = new boolean[nodes.size()];
    reached[index] = true;
    List<Integer> descendants = new ArrayList<>();
    for (int i = index + 1; i < nodes.size(); i++) {
      for (JsonNode dep : nodes.get(i).path("deps")) {
        if (reached[dep.intValue()]) {
          reached[i] = true;
          descendants.add(i);
          break;
        }
      }
    }
    return descendants;
  }

  /**
   * The node's task as it is sent: decoded and checked as any message, with this DAG in its header.
   *
   * @throws MalformedMessageException when the task is not a message, or its UUID is not its node's
   */
  Signature task(int index) {
    JsonNode node = nodes.get(index);
    Signature task =
        WireCodec.decodeSignature(
            node.path("task").asText().getBytes(StandardCharsets.UTF_8), config);
    if (!task.uuid().equals(node.path("uuid").asText())) {
      throw new MalformedMessageException(
          "header "
              + HEADER
              + ": node "
              + index
              + " carries task "
              + LogText.of(task.uuid())
              + ", not "
              + LogText.of(node.path("uuid").asText()));
    }
    return task.toBuilder().header(HEADER, json).build();
  }
}
