package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import io.machinery.Arg;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskResult;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A chord shared by a real Go worker and Java workers on the AMQP result backend, whose Java
 * trigger winner dies before it sends the callback. Go members write their states to the group
 * queue only, which the winner drains; the Java members also keep theirs in {@code
 * <group>_chord_states}, and the winner copies the Go members' states there before it owns them
 * alone, so the re-run of its member on a Java worker still fires the callback. Before, the kept
 * states lacked the Go members' and the callback was lost (at-most-once, as in Go).
 */
@Timeout(120)
class AmqpAmqpChordWinnerInteropIT {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private static Signature add(long a, long b) {
    return Signature.create("add", Arg.of(a), Arg.of(b));
  }

  @Test
  void aJavaReRunFiresTheCallbackAfterTheJavaWinnerDiedHoldingGoMembersStates() throws Exception {
    GoHarness.binary(); // build (or skip/fail) before touching any server
    Pair pair = Pair.AMQP_AMQP;
    try (InteropQueue queues = InteropQueue.create(pair, "chord_winner")) {
      String javaQueue = queues.extraQueue("java"); // no Go worker consumes it
      Config config = queues.javaConfig();
      try (Broker broker = pair.createBroker(config);
          Backend backend = pair.createBackend(config);
          Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
        InteropTasks.registerWith(server);
        Chord chord =
            Chord.of(
                Group.of(add(1, 1), add(2, 2), add(5, 6).toBuilder().routingKey(javaQueue).build()),
                Signature.builder("multiply").routingKey(javaQueue).build());
        String group = chord.group().groupUuid();
        Signature javaMember = chord.group().tasks().get(2); // as sent: group, count and callback
        server.sendChord(chord, 0);

        // the Go worker runs the two members on its queue; it finds two states of three and waits
        try (GoHarness.GoWorker go =
            GoHarness.startWorker(
                GoSendsJavaWorksSuite.concat(queues.goArgs(), "-concurrency", "2"))) {
          await()
              .atMost(TIMEOUT)
              .until(() -> readyStates(queues, group) == 2); // Go's markTaskCompleted, twice
        }

        // The Java member's first run, on a worker that wins the trigger (it takes every state off
        // the group queue) and dies before it sends the callback: its message was never
        // acknowledged, so RabbitMQ hands it out again, marked redelivered.
        Channel dying = queues.amqpChannel();
        GetResponse delivery = dying.basicGet(javaQueue, false);
        assertThat(delivery).as("the Java member's message").isNotNull();
        assertThat(new String(delivery.getBody(), StandardCharsets.UTF_8))
            .contains(javaMember.uuid());
        try (Backend winner = pair.createBackend(config)) {
          winner.setStateSuccess(javaMember, List.of(TaskResult.of(11L)));
          assertThat(winner.groupCompleted(group, 3)).isTrue();
          assertThat(winner.triggerChord(group)).as("the Java worker won the trigger").isTrue();
        }
        dying.abort();
        assertThat(readyStates(queues, group))
            .as("the winner drained the group queue")
            .isLessThan(1);

        // its member runs again on a Java worker, which recovers the states and fires the callback
        Worker rerun = server.workerBuilder("interop-java-rerun").queue(javaQueue).build();
        rerun.launchAsync();
        try {
          assertThat(server.asyncResult(chord.callback().uuid()).get(TIMEOUT))
              .as("the callback, with the Go members' results and the Java member's")
              .containsExactly(2L * 4L * 11L);
        } finally {
          rerun.quit();
        }
        backend.purgeGroupMeta(group);
      }
    }
  }

  /** Ready messages in a group queue; -1 once it is gone. */
  private static int readyStates(InteropQueue queues, String group) throws Exception {
    Channel channel = queues.amqpChannel();
    try {
      return channel.queueDeclarePassive(group).getMessageCount();
    } catch (java.io.IOException e) {
      return -1; // NOT_FOUND closes the channel
    } finally {
      if (channel.isOpen()) {
        channel.close();
      }
    }
  }
}
