package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Server;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The scenario on the in-JVM memory broker and backend: each command's server is built on one
 * shared pair (a memory:// URL alone would give every run its own empty broker), so this runs
 * without any server.
 */
class MemoryCliTest extends CliScenario {
  private final Config config = Config.builder().defaultQueue(queue).build();
  private final MemoryBroker broker = MemoryBroker.create(config, Clock.systemUTC());
  private final MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());

  @BeforeEach
  void closeMemoryLast() {
    // after the worker: a broker closed under a running worker stops it with an error
    closeAfterWorkers(backend);
    closeAfterWorkers(broker);
  }

  @Override
  CliRunner cli() {
    return cli(false);
  }

  CliRunner cli(boolean terminal) {
    return new CliRunner(Map.of("DEFAULT_QUEUE", queue), c -> workerServer(c), terminal);
  }

  private Server workerServer(Config c) {
    return Server.builder().config(c).broker(broker).backend(backend).build();
  }

  @Override
  Server workerServer() {
    return workerServer(config);
  }

  @Override
  boolean hasControlPlane() {
    return true;
  }

  /**
   * During a move between brokers, {@code queues} shows each broker's queues on rows of their own,
   * so the old one can be seen empty; {@code --broker} inspects one broker alone.
   */
  @Test
  void duringAMoveQueuesShowsEachBrokersQueues() {
    try (MemoryBroker fresh = MemoryBroker.create(config, Clock.systemUTC())) {
      CliRunner moving =
          new CliRunner(
              Map.of("DEFAULT_QUEUE", queue),
              c ->
                  Server.builder()
                      .config(c)
                      .broker(io.machinery.MigratingBroker.of(broker, fresh))
                      .backend(backend)
                      .build(),
              false);
      send("add", "int64:1", "int64:2"); // by a process not yet moved: to the old broker
      moving.ok("send", "add", "int64:3", "int64:4"); // to the new one
      moving.ok("send", "add", "int64:5", "int64:6");
      com.fasterxml.jackson.databind.JsonNode rows = moving.ok("queues", "--json").json();
      assertThat(CliRunner.texts(rows, "broker")).containsExactly("old", "new");
      assertThat(rows.get(0).path("queue").asText()).isEqualTo(queue);
      assertThat(rows.get(0).path("pending").asLong()).isEqualTo(1);
      assertThat(rows.get(1).path("pending").asLong()).isEqualTo(2);
      assertThat(moving.ok("queues").out())
          .containsPattern("BROKER\\s+QUEUE")
          .containsPattern("old\\s+" + queue + "\\s+1")
          .containsPattern("new\\s+" + queue + "\\s+2");
    }
    java.util.concurrent.atomic.AtomicReference<Config> seen =
        new java.util.concurrent.atomic.AtomicReference<>();
    new CliRunner(
            Map.of("DEFAULT_QUEUE", queue, "MACHINERY_MIGRATE_FROM_BROKER", "memory://old"),
            c -> {
              seen.set(c);
              return workerServer(c);
            },
            false)
        .ok("queues", "--broker", "memory://one");
    assertThat(seen.get().migrateFromBroker()).as("--broker: that broker alone").isEmpty();
    new CliRunner(
            Map.of("DEFAULT_QUEUE", queue, "MACHINERY_MIGRATE_FROM_RESULT_BACKEND", "memory://old"),
            c -> {
              seen.set(c);
              return workerServer(c);
            },
            false)
        .ok("queues", "--backend", "memory://one");
    assertThat(seen.get().migrateFromResultBackend())
        .as("--backend: that result backend alone")
        .isEmpty();
  }

  /**
   * The memory broker always keeps fairness lanes; the command lists them in turn order with their
   * weights, and {@code weight} sets, lists and clears those.
   */
  @Test
  void lanesListTheFairnessKeysWithWaitingTasksInTurnOrder() {
    send("--fairness-key", "tenant-a", "add", "int64:1", "int64:2");
    send("--fairness-key", "tenant-b", "add", "int64:3", "int64:4");
    send("--fairness-key", "tenant-b", "add", "int64:5", "int64:6");
    send("add", "int64:7", "int64:8");
    com.fasterxml.jackson.databind.JsonNode lanes = cli().ok("lanes", queue, "--json").json();
    assertThat(CliRunner.texts(lanes, "key")).containsExactly("tenant-a", "tenant-b");
    assertThat(lanes.get(1).path("pending").asLong()).isEqualTo(2);
    assertThat(cli().ok("lanes", queue).out()).containsPattern("tenant-b\\s+2");
    assertThat(CliRunner.texts(cli().ok("lanes", queue, "--limit", "1", "--json").json(), "key"))
        .containsExactly("tenant-a");
    assertThat(queueStats().path("pending").asLong()).isEqualTo(4);
    assertThat(cli().ok("weight", queue, "tenant-b", "3").out())
        .contains("set the weight of tenant-b in " + queue + " to 3");
    assertThat(cli().ok("lanes", queue).out()).containsPattern("tenant-b\\s+2\\s+3");
    assertThat(cli().ok("weight", queue, "--json").json().get(0).path("weight").asInt())
        .isEqualTo(3);
    assertThat(cli().run("weight", queue, "tenant-b", "0").code())
        .isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(cli().run("weight", queue, "tenant-b").code()).isEqualTo(MachineryCli.EXIT_USAGE);
    cli().ok("weight", queue, "tenant-b", "1");
    assertThat(cli().ok("weight", queue, "--json").json()).isEmpty();
    CliRunner.Result blank = cli().run("send", "--fairness-key", " ", "add");
    assertThat(blank.code()).isEqualTo(MachineryCli.EXIT_USAGE);
    assertThat(blank.err()).contains("--fairness-key").contains("blank");
  }

  /**
   * {@code tasks show} of a DAG task lists its DAG, each task with what it depends on and state.
   */
  @Test
  void tasksShowListsTheDagOfADagTask() {
    io.machinery.Dag dag =
        io.machinery.Dag.builder()
            .task("fetch", io.machinery.Signature.create("add", io.machinery.Arg.of(1L)))
            .task("sum", io.machinery.Signature.create("add"), "fetch")
            .build();
    try (Server sender = workerServer()) {
      sender.sendDag(dag); // no worker: the root waits, the join is not sent yet
    }
    String root = dag.task("fetch").uuid();
    com.fasterxml.jackson.databind.JsonNode shown =
        cli().ok("tasks", "show", root, "--json").json();
    assertThat(shown.path("dag"))
        .extracting(
            n ->
                n.path("name").asText()
                    + n.path("dependsOn").toString()
                    + ":"
                    + n.path("state").asText("none"))
        .containsExactly("fetch[]:PENDING", "sum[\"fetch\"]:none");
    assertThat(cli().ok("tasks", "show", root).out())
        .containsPattern("sum\\s+fetch\\s+not sent yet\\s+" + dag.task("sum").uuid());
  }

  @Test
  void aProgressBarIsDrawnOnStandardErrorOnlyOnATerminal() {
    launchWorker(1);
    for (int i = 0; i < 3; i++) {
      send("ghost");
    }
    org.awaitility.Awaitility.await()
        .atMost(PATIENCE)
        .until(() -> broker.inspector().orElseThrow().queue(queue).deadLettered() == 3);
    CliRunner.Result onTerminal = cli(true).ok("delete", "--all", "--queue", queue, "--json");
    assertThat(onTerminal.err()).contains("deleted [").contains("3/3");
    assertThat(onTerminal.json().path("count").asInt())
        .isEqualTo(3); // stdout stays one JSON document
    for (int i = 0; i < 2; i++) {
      send("ghost");
    }
    org.awaitility.Awaitility.await()
        .atMost(PATIENCE)
        .until(() -> broker.inspector().orElseThrow().queue(queue).deadLettered() == 2);
    CliRunner.Result piped = cli(false).ok("delete", "--all", "--queue", queue);
    assertThat(piped.err()).isEmpty();
    assertThat(piped.out()).contains("deleted 2 dead letters");
  }
}
