package io.machinery.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Server;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
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

  @AfterEach
  void closeMemory() {
    broker.close();
    backend.close();
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
