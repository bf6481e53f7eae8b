package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.embedded.MemoryBroker;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A worker's slot bounds running task functions, not settling runs: a run whose function has ended
 * settles on a settling permit while its slot starts the next task, and with every settling permit
 * taken it keeps its slot, so settling runs stay bounded too. The backend holds chosen SUCCESS
 * writes ({@link FaultyBackend#holdingSuccessOf}), as a slow backend would.
 */
class WorkerSlotTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private final Config config = Config.builder().defaultQueue("slots").build();
  private final Set<String> started = ConcurrentHashMap.newKeySet();
  private MemoryBroker broker;
  private FaultyBackend backend;
  private Server server;
  private Worker worker;

  @BeforeEach
  void setUp() {
    broker = MemoryBroker.create(config, Clock.systemUTC());
    backend = new FaultyBackend(MemoryBackend.create(config, Clock.systemUTC()));
    server = Server.builder().config(config).broker(broker).backend(backend).build();
    for (String name : new String[] {"a", "b", "c"}) {
      server.registerTask(
          name,
          TaskFunction.of(
              () -> {
                started.add(name);
                return name;
              }));
    }
    worker = server.workerBuilder("slots").concurrency(1).build();
  }

  @AfterEach
  void tearDown() {
    backend.releaseSuccesses();
    worker.quit();
    server.close();
    broker.close();
    backend.close();
  }

  @Test
  void theNextTaskStartsWhileTheLastOneStillSettles() {
    backend.holdingSuccessOf("a");
    worker.launchAsync();
    AsyncResult a = server.sendTask(Signature.create("a"));
    AsyncResult b = server.sendTask(Signature.create("b"));
    // one slot: b runs and settles while a's SUCCESS is still held
    assertThat(b.get(TIMEOUT)).containsExactly("b");
    assertThat(a.state()).isNotEqualTo(State.SUCCESS);
    backend.releaseSuccesses();
    assertThat(a.get(TIMEOUT)).containsExactly("a");
  }

  @Test
  void withEverySettlingPermitTakenARunKeepsItsSlot() {
    backend.holdingSuccessOf("a", "b");
    worker.launchAsync();
    AsyncResult a = server.sendTask(Signature.create("a"));
    AsyncResult b = server.sendTask(Signature.create("b"));
    AsyncResult c = server.sendTask(Signature.create("c"));
    await().atMost(TIMEOUT).until(() -> started.contains("b"));
    // a settles on the one settling permit; b's function has ended but it keeps the slot
    await().during(Duration.ofMillis(300)).atMost(TIMEOUT).until(() -> !started.contains("c"));
    backend.releaseSuccesses();
    assertThat(c.get(TIMEOUT)).containsExactly("c");
    assertThat(a.get(TIMEOUT)).containsExactly("a");
    assertThat(b.get(TIMEOUT)).containsExactly("b");
  }
}
