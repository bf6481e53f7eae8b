package io.machinery.broker.gcppubsub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.api.gax.rpc.ApiException;
import com.google.cloud.pubsub.v1.stub.GrpcPublisherStub;
import com.google.cloud.pubsub.v1.stub.GrpcSubscriberStub;
import com.google.pubsub.v1.GetSubscriptionRequest;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import io.machinery.Worker;
import io.machinery.broker.gcppubsub.testing.PubSubProjects;
import io.machinery.config.Config;
import io.machinery.embedded.MemoryBackend;
import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A worker launched while its Pub/Sub server is gone takes tasks once a server answers again: the
 * first start fails (unreachable), the worker tries again with back-off, listed as starting, and
 * creates on the returning server (a fresh pstest: no topic, no subscription) what it needs. A
 * server that comes back empty later gets its subscriptions again from the worker's pulls and the
 * delay pump, and a topic again from the next send to it, a dead letter's included (the broker may
 * create what is missing). A server of this test's own (the pstest binary {@code
 * scripts/services.sh} built, {@code MACHINERY_PUBSUB_SERVER}), on a free port, so that stopping it
 * disturbs no other test.
 */
class GcpPubSubServerBackIT {
  private static final Duration SETTLED = Duration.ofSeconds(60);

  /** How long a check or creation of a topic or subscription tries (the library's: 60 s). */
  private static final Duration GIVE_UP = Duration.ofSeconds(2);

  @Test
  void aWorkerLaunchedWhilePubSubIsDownConsumesOnceItIsBack() throws Exception {
    String binary = System.getenv().getOrDefault("MACHINERY_PUBSUB_SERVER", "");
    TestEndpoints.requireTool(
        !binary.isEmpty() && Files.isExecutable(Path.of(binary)),
        "MACHINERY_PUBSUB_SERVER names no pstest binary (scripts/services.sh writes it)");
    int port = freePort();
    Process pubsub = start(binary, port);
    String project = PubSubProjects.name("machinery-test");
    Config config =
        PubSubTestSupport.config(
            Config.DEFAULT.toBuilder().defaultQueue("server_back").build(), project);
    ManagedChannel channel =
        ManagedChannelBuilder.forTarget("127.0.0.1:" + port).usePlaintext().build();
    try (GrpcPublisherStub publisher = PubSubTestSupport.publisherStub(channel, GIVE_UP);
        GrpcSubscriberStub subscriber = PubSubTestSupport.subscriberStub(channel, GIVE_UP);
        GcpPubSubBroker broker =
            GcpPubSubBroker.builder(config)
                .client(publisher, subscriber)
                .createMissing(true)
                .ackDeadline(Duration.ofSeconds(10))
                .build();
        MemoryBackend backend = MemoryBackend.create(config, Clock.systemUTC());
        Server server = Server.builder().config(config).broker(broker).backend(backend).build()) {
      server.registerTask("add", TaskFunction.of(Long.class, Long.class, (a, b) -> a + b));
      stop(pubsub); // it kept everything in memory: what comes back knows nothing

      Worker worker = server.workerBuilder("server_back").build();
      CompletableFuture<Void> done = worker.launchAsync();
      assertThat(done).as("the launch while Pub/Sub is down").isNotDone();
      assertThat(worker.isStarting()).as("trying again").isTrue();

      pubsub = start(binary, port);
      await().atMost(SETTLED).until(() -> !worker.isStarting());
      assertThat(server.sendTask(Signature.create("add", Arg.of(2L), Arg.of(3L))).get(SETTLED))
          .containsExactly(5L);

      // back empty while the worker consumes: its pulls, and the delay pump's, find their
      // subscriptions gone and create them again (nothing is sent meanwhile that would)
      stop(pubsub);
      pubsub = start(binary, port);
      await().atMost(SETTLED).until(() -> exists(subscriber, project, "server_back_sub"));
      await().atMost(SETTLED).until(() -> exists(subscriber, project, "machinery_delays"));
      assertThat(server.sendTask(Signature.create("add", Arg.of(4L), Arg.of(5L))).get(SETTLED))
          .containsExactly(9L);

      // back empty while no worker consumes: a send finds the topic gone and creates it again,
      // with the subscription, before it publishes, so the next worker gets the task
      worker.quit();
      assertThat(done).isCompleted().isNotCompletedExceptionally();
      stop(pubsub);
      pubsub = start(binary, port);
      AsyncResult sent = server.sendTask(Signature.create("add", Arg.of(6L), Arg.of(7L)));
      broker.publish(Signature.create("add"), "not a task".getBytes(StandardCharsets.UTF_8));
      Worker next = server.workerBuilder("server_back_next").build();
      next.launchAsync();
      assertThat(sent.get(SETTLED)).containsExactly(13L);
      // and the message it cannot read is set aside on a dead-letter topic created again
      await()
          .atMost(SETTLED)
          .untilAsserted(
              () ->
                  assertThat(broker.inspector().orElseThrow().deadLetters("server_back", 0, 10))
                      .singleElement()
                      .satisfies(
                          letter ->
                              assertThat(new String(letter.message(), StandardCharsets.UTF_8))
                                  .isEqualTo("not a task")));
      next.quit();
    } finally {
      channel.shutdownNow();
      stop(pubsub);
    }
  }

  private static boolean exists(GrpcSubscriberStub subscriber, String project, String name) {
    try {
      subscriber
          .getSubscriptionCallable()
          .call(
              GetSubscriptionRequest.newBuilder()
                  .setSubscription("projects/" + project + "/subscriptions/" + name)
                  .build());
      return true;
    } catch (ApiException e) { // not found, or not reachable yet
      return false;
    }
  }

  private static Process start(String binary, int port) throws Exception {
    Process process =
        new ProcessBuilder(binary, "-addr", "127.0.0.1:" + port)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    await().atMost(SETTLED).until(() -> answers(port) || !process.isAlive());
    assertThat(process.isAlive()).as("pstest on port " + port).isTrue();
    return process;
  }

  private static void stop(Process process) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor();
    }
  }

  private static boolean answers(int port) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
