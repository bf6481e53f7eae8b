package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Server;
import io.machinery.Worker;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.gcppubsub.GcpPubSubBroker;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.testkit.TestEndpoints;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The command on Google Cloud Pub/Sub (the emulator, reached through {@code PUBSUB_EMULATOR_HOST}
 * as a user's would be) with the Redis backend's control plane. Pub/Sub's inspector lists, purges
 * and repairs but keeps no counts: each command either works or says in one line what this broker
 * cannot do, with a non-zero exit.
 */
class PubSubCliIT {
  private final String project = PubSubProjects.name("machinery-cli");
  private final String queue = "cli_ps_" + UUID.randomUUID().toString().substring(0, 8);
  private final Map<String, String> env =
      Map.of(
          "BROKER",
          "gcppubsub://" + project + "/" + queue + "_sub",
          "RESULT_BACKEND",
          TestEndpoints.redisUrl(),
          "DEFAULT_QUEUE",
          queue);
  private GcpPubSubBroker broker;
  private RedisBackend backend;
  private Server server;

  /** The worker's side, which also creates the topics and subscriptions the config names. */
  @BeforeEach
  void deploy() {
    Config config = Config.fromEnvironment(env);
    broker = PubSubProjects.broker(config).build();
    backend = RedisBackend.create(config);
    server = Server.builder().config(config).broker(broker).backend(backend).build();
  }

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {server, backend, broker}) {
      if (c != null) {
        c.close();
      }
    }
    PubSubProjects.delete(project);
  }

  private CliRunner cli(boolean terminal) {
    return new CliRunner(env, Providers::connect, terminal);
  }

  /**
   * {@code requeue} and {@code delete} read the queue's dead-letter count for their progress bar
   * when run on a terminal, and Pub/Sub counts nothing: the repair the broker can do failed with
   * "not supported here" (exit 4). Now the bar is left out there, and listing, workers, requeue,
   * delete and purge work.
   */
  @Test
  void onATerminalRequeueAndDeleteRepairDeadLettersAsTheBrokerCan() {
    String uuid =
        cli(false).ok("send", "ghost", "string:one", "--json").json().path("uuid").asText();
    assertThat(uuid).isNotEmpty();
    Worker worker =
        server
            .workerBuilder("cli-ps")
            .queue(queue)
            .heartbeatInterval(Duration.ofMillis(100))
            .maxUnregisteredRequeues(1)
            .build();
    worker.launchAsync();
    try {
      JsonNode dead =
          await()
              .atMost(Duration.ofSeconds(45))
              .until(
                  () -> cli(false).ok("tasks", "list", "--state", "dead", "--json").json(),
                  d -> d.size() == 1);
      assertThat(dead.get(0).path("task").path("uuid").asText()).isEqualTo(uuid);
      JsonNode workers =
          await()
              .atMost(Duration.ofSeconds(30))
              .until(() -> cli(false).ok("workers", "--json").json(), w -> w.size() == 1);
      assertThat(workers.get(0).path("queue").asText()).isEqualTo(queue);
    } finally {
      worker.quit();
    }

    CliRunner.Result requeued = cli(true).run("requeue", "--all");
    assertThat(requeued.code()).as(requeued.err()).isEqualTo(MachineryCli.EXIT_OK);
    assertThat(requeued.out()).contains("requeued 1 dead letter of " + queue);
    assertThat(CliRunner.texts(cli(false).ok("tasks", "list", "--json").json(), "uuid"))
        .containsExactly(uuid);
    CliRunner.Result deleted = cli(true).run("delete", "--all");
    assertThat(deleted.code()).as(deleted.err()).isEqualTo(MachineryCli.EXIT_OK);
    assertThat(deleted.out()).contains("deleted 0 dead letters of " + queue);
    assertThat(cli(false).ok("purge", queue, "--json").json().path("count").asLong()).isEqualTo(1);
    assertThat(cli(false).ok("tasks", "list", "--json").json()).isEmpty();
  }

  /**
   * What Pub/Sub cannot do exits 4 with one line, no stack trace: {@code queues} says the broker
   * keeps no counts and which commands list its tasks; delayed tasks cannot be listed.
   */
  @Test
  void whatPubSubCannotDoIsSaidInOneLine() {
    for (String[] args :
        new String[][] {
          {"queues"}, {"queues", "--json"}, {"queues", "--queue", queue},
        }) {
      CliRunner.Result refused = cli(false).run(args);
      String command = String.join(" ", args);
      assertThat(refused.code()).as(command).isEqualTo(MachineryCli.EXIT_UNSUPPORTED);
      assertThat(refused.out()).as(command).isEmpty();
      assertThat(refused.err().strip())
          .as(command)
          .startsWith("machinery: queues: this broker keeps no counts of its queues")
          .contains("Pub/Sub's API has no message counts")
          .contains("machinery tasks list")
          .doesNotContain("\n")
          .doesNotContain("\tat ");
    }
    CliRunner.Result delayed = cli(false).run("tasks", "list", "--state", "delayed");
    assertThat(delayed.code()).isEqualTo(MachineryCli.EXIT_UNSUPPORTED);
    assertThat(delayed.err().strip())
        .startsWith("machinery: not supported here: Pub/Sub cannot list delayed tasks")
        .doesNotContain("\n")
        .doesNotContain("\tat ");
  }
}
