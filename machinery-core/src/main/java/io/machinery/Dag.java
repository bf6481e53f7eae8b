package io.machinery;

import io.machinery.wire.Uuids;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Tasks that depend on one another: each runs once every task it depends on succeeded, with their
 * results appended to its arguments in the order of its dependencies (unless it is immutable), as a
 * chord callback receives its group's results. A chain is a DAG in which each task depends on the
 * one before; a chord is one in which the callback depends on every member. A DAG also expresses
 * what those cannot: a task that several others depend on, and joins of tasks that also feed other
 * joins. Immutable.
 *
 * <pre>{@code
 * Dag dag = Dag.builder()
 *     .task("fetch", Signature.create("fetch", Arg.of(url)))
 *     .task("resize", Signature.create("resize"), "fetch")
 *     .task("thumbnail", Signature.create("thumbnail"), "fetch")
 *     .task("publish", Signature.create("publish"), "resize", "thumbnail")
 *     .build();
 * DagAsyncResult result = server.sendDag(dag);
 * }</pre>
 *
 * <p>When a task fails for good (FAILURE: retries spent, or cancelled), every task that depends on
 * it, directly or not, gets FAILURE at once with the reason and does not run; the tasks that do not
 * depend on it go on. Should the failed task run again and succeed (a worker that keeps failed
 * tasks to run again, {@link Worker.Builder#keepFailedTasks}, and its dead letter requeued), the
 * tasks that failed only because of it run after all. Only Java workers start a task's dependents
 * (Go's message has no place for them: they travel in the header {@value DagHeader#HEADER}), so
 * every task of a DAG must run on a Java worker. The result backend must keep states when they are
 * read: every backend but AMQP's. A DAG is sent once, as its tasks' UUIDs key their states; {@link
 * #withNewUuids()} copies it to send the same work again.
 */
public final class Dag {
  private final List<Node> nodes;
  private final Map<String, Signature> tasks;
  private final Map<String, Node> byName;
  private final Map<String, List<String>> dependencyGroups;

  /**
   * A task of the DAG: its name, its signature without the DAG's header, and the indexes of its
   * dependencies.
   */
  record Node(String name, Signature task, List<Integer> dependencies) {}

  private Dag(List<Node> nodes) {
    this.nodes = List.copyOf(nodes);
    String header = DagHeader.encode(this.nodes);
    Map<String, Signature> sent = new LinkedHashMap<>();
    Map<String, Node> names = new LinkedHashMap<>();
    Map<String, List<String>> groups = new LinkedHashMap<>();
    for (Node node : this.nodes) {
      sent.put(node.name(), node.task().toBuilder().header(DagHeader.HEADER, header).build());
      names.put(node.name(), node);
      if (!node.dependencies().isEmpty()) {
        groups.put(
            DagHeader.joinGroup(node.task().uuid()),
            node.dependencies().stream().map(i -> this.nodes.get(i).task().uuid()).toList());
      }
    }
    this.tasks = Collections.unmodifiableMap(sent);
    this.byName = names;
    this.dependencyGroups = Collections.unmodifiableMap(groups);
  }

  /**
   * Returns a builder that adds the tasks in an order where each comes after its dependencies.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** The tasks, each after its dependencies. */
  List<Node> nodes() {
    return nodes;
  }

  /**
   * Returns the tasks by name, as they will be sent: each with a task UUID, and the DAG in its
   * header.
   *
   * @return the tasks in the order they were added
   */
  public Map<String, Signature> tasks() {
    return tasks;
  }

  /**
   * Returns the groups {@link Server#sendDag} records in the result backend before it sends
   * anything: for each task with dependencies, a group whose members are its dependencies, in its
   * order. For a sender of its own (the JDBC outbox); {@code sendDag} needs none of this.
   *
   * @return the group UUIDs (derived from the tasks' UUIDs), each with its members' task UUIDs
   */
  public Map<String, List<String>> dependencyGroups() {
    return dependencyGroups;
  }

  /**
   * Returns one task as it will be sent, with its UUID: look its result up by it.
   *
   * @param name a task's name
   * @return the task
   * @throws IllegalArgumentException when the DAG has no task of that name
   */
  public Signature task(String name) {
    Signature task = tasks.get(name);
    if (task == null) {
      throw noSuchTask(name);
    }
    return task;
  }

  /**
   * Returns a copy whose tasks have new task UUIDs, to send the same work again: a task's UUID keys
   * its state and its dependency group, so a DAG must not be sent twice. A periodic DAG ({@link
   * Server#registerPeriodicDag}) sends such a copy on every tick.
   *
   * @return a new DAG of the same tasks and dependencies; this one is unchanged
   */
  public Dag withNewUuids() {
    List<Node> copy = new ArrayList<>(nodes.size());
    for (Node node : nodes) {
      Signature task = node.task().toBuilder().uuid(Uuids.newTaskUuid()).build();
      copy.add(new Node(node.name(), task, node.dependencies()));
    }
    return new Dag(copy);
  }

  /**
   * Returns the names of the tasks one task depends on.
   *
   * @param name a task's name
   * @return the names of its dependencies, in the order its arguments receive their results
   * @throws IllegalArgumentException when the DAG has no task of that name
   */
  public List<String> dependencies(String name) {
    return node(name).dependencies().stream().map(i -> nodes.get(i).name()).toList();
  }

  private Node node(String name) {
    Node node = byName.get(name);
    if (node == null) {
      throw noSuchTask(name);
    }
    return node;
  }

  /** The refusal of a name the DAG does not have, here and in {@link DagAsyncResult}. */
  static IllegalArgumentException noSuchTask(String name) {
    return new IllegalArgumentException("the DAG has no task named " + quoted(name));
  }

  private static String quoted(String name) {
    return '"' + name + '"';
  }

  @Override
  public String toString() {
    StringBuilder text = new StringBuilder("Dag[");
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      text.append(i == 0 ? "" : ", ").append(node.name());
      if (!node.dependencies().isEmpty()) {
        text.append(" <- ").append(String.join("+", dependencies(node.name())));
      }
    }
    return text.append(']').toString();
  }

  /** Adds tasks to a DAG, each after the tasks it depends on, so that it can have no cycle. */
  public static final class Builder {
    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Integer> indexes = new LinkedHashMap<>();
    private final Set<String> uuids = new HashSet<>();

    private Builder() {}

    /**
     * Adds a task.
     *
     * @param name the task's name in this DAG (distinct from its task name, which several tasks may
     *     share)
     * @param task the task; without a UUID it gets one
     * @param dependsOn the names of tasks added before it; its arguments receive their results in
     *     this order. None for a task that starts when the DAG is sent
     * @return this builder
     * @throws IllegalArgumentException when the name is empty or taken, a dependency names no task
     *     added before or is repeated, the task's UUID is another task's, or the task is a group
     *     member or carries a chord callback (express those as dependencies)
     */
    public Builder task(String name, Signature task, String... dependsOn) {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(task, "task");
      if (name.isEmpty()) {
        throw new IllegalArgumentException("a DAG task needs a name");
      }
      if (indexes.containsKey(name)) {
        throw new IllegalArgumentException(
            "the DAG already has a task named " + quoted(name) + "; names must be distinct");
      }
      if (!task.groupUuid().isEmpty() || task.chordCallback() != null) {
        throw new IllegalArgumentException(
            "DAG task "
                + quoted(name)
                + " is a group member or carries a chord callback; express that with dependencies");
      }
      List<Integer> dependencies = new ArrayList<>(dependsOn.length);
      for (String dependency : dependsOn) {
        Integer index = indexes.get(Objects.requireNonNull(dependency, "dependsOn"));
        if (index == null) {
          throw new IllegalArgumentException(
              "DAG task "
                  + quoted(name)
                  + " depends on "
                  + quoted(dependency)
                  + ", which was not added before it: add each task after the tasks it depends on");
        }
        if (dependencies.contains(index)) {
          throw new IllegalArgumentException(
              "DAG task " + quoted(name) + " depends on " + quoted(dependency) + " twice");
        }
        dependencies.add(index);
      }
      Signature withUuid =
          task.uuid().isEmpty() ? task.toBuilder().uuid(Uuids.newTaskUuid()).build() : task;
      if (uuids.contains(withUuid.uuid())) {
        throw new IllegalArgumentException(
            "DAG task "
                + quoted(name)
                + " has the UUID of another task of the DAG: "
                + withUuid.uuid());
      }
      uuids.add(withUuid.uuid());
      indexes.put(name, nodes.size());
      nodes.add(new Node(name, withUuid, List.copyOf(dependencies)));
      return this;
    }

    /**
     * Builds the DAG.
     *
     * @return the DAG
     * @throws IllegalArgumentException when no task was added, or an argument does not fit its Go
     *     type
     */
    public Dag build() {
      if (nodes.isEmpty()) {
        throw new IllegalArgumentException("a DAG needs at least one task");
      }
      return new Dag(nodes);
    }
  }
}
