package io.machinery.backend.amqp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.ChordAsyncResult;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBroker;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.TestEndpoints;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A chord on a real Java worker and the AMQP backend whose group data vanishes before its last
 * member finishes (issue #12.3, F2): the callback either still runs with every result, from the
 * states its members kept, or gets FAILURE with a clear error; never silence, and never FAILURE for
 * a callback that runs. The broker is the embedded memory broker: the chord's bookkeeping is the
 * backend's.
 */
class AmqpChordVanishedGroupIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private final CountDownLatch lastMayFinish = new CountDownLatch(1);
  private MemoryBroker broker;
  private AmqpBackend backend;
  private Server server;
  private RabbitSide rabbit;

  @BeforeEach
  void start() throws Exception {
    Config config =
        BrokerContract.uniqueQueue(
            Config.builder().resultBackend(TestEndpoints.amqpUrl()).build(), "chord_vanished_");
    broker = MemoryBroker.create(config, Clock.systemUTC());
    backend = AmqpBackend.create(config);
    server = Server.builder().config(config).broker(broker).backend(backend).build();
    server.registerTask("add", TaskFunction.varargs(long[].class, a -> LongStream.of(a).sum()));
    server.registerTask(
        "gated_add",
        TaskFunction.of(
            Long.class,
            Long.class,
            (a, b) -> {
              if (!lastMayFinish.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                throw new IllegalStateException("the test never let the last member finish");
              }
              return a + b;
            }));
    server.newWorker("chord-vanished", 4).launchAsync();
    rabbit = RabbitSide.open("vanished-it");
  }

  @AfterEach
  void stop() throws Exception {
    lastMayFinish.countDown();
    server.close();
    broker.close();
    backend.close();
    rabbit.close();
  }

  /** A chord add(1,1), add(2,2), gated_add(5,6) with callback add: 2 + 4 + 11 = 17. */
  private ChordAsyncResult sendChordWithGatedLastMember() {
    Chord chord =
        Chord.of(
            Group.of(
                Signature.create("add", Arg.of(1L), Arg.of(1L)),
                Signature.create("add", Arg.of(2L), Arg.of(2L)),
                Signature.create("gated_add", Arg.of(5L), Arg.of(6L))),
            Signature.emptyBuilder().name("add").build());
    return server.sendChord(chord, 0);
  }

  private String groupOf(ChordAsyncResult chord) {
    return chord.groupResults().get(0).signature().groupUuid();
  }

  /**
   * The group queue deleted under the first two members' states: every member ran on a Java worker,
   * so their kept states hold the whole group and the last member fires the callback from them.
   */
  @Test
  void aDeletedGroupQueueStillFiresTheCallbackFromTheKeptStates() throws Exception {
    ChordAsyncResult chord = sendChordWithGatedLastMember();
    String group = groupOf(chord);
    await().atMost(TIMEOUT).until(() -> rabbit.ready(ChordTrigger.kept(group)) == 2);
    rabbit.delete(group);
    lastMayFinish.countDown();
    assertThat(chord.get(TIMEOUT)).containsExactly(17L);
  }
}
