package io.machinery;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.config.Config;
import io.machinery.embedded.EagerBackend;
import io.machinery.embedded.EagerBroker;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Faults on Go's eager pair, where the task runs on the sender's thread: nothing may escape to the
 * sender.
 */
class EagerWorkerFaultTest {
  private final EagerBroker broker = EagerBroker.create(Config.DEFAULT);
  private final EagerBackend backend = EagerBackend.create();
  private final Server server = Server.builder().broker(broker).backend(backend).build();

  @AfterEach
  void close() {
    server.close();
    broker.close();
    backend.close();
  }

  @Test
  void aDeeplyNestedMessageIsDeadLetteredInsteadOfOverflowingTheSendersStack() {
    server.registerTask(
        "add",
        TaskFunction.varargs(long[].class, args -> java.util.stream.LongStream.of(args).sum()));
    server.newWorker("eager", 1).launchAsync();
    String nested = "[".repeat(10_000) + "]".repeat(10_000);
    byte[] hostile =
        ("{\"UUID\":\"task_deep\",\"Name\":\"add\",\"Args\":[{\"Type\":\"[]int64\",\"Value\":"
                + nested
                + "}]}")
            .getBytes(StandardCharsets.UTF_8);
    broker.publish(Signature.builder("add").uuid("task_deep").routingKey("q").build(), hostile);
    assertThat(broker.deadLetters()).singleElement().asString().startsWith("Could not unmarshal");
    assertThat(
            server
                .sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)))
                .get(Duration.ofSeconds(5)))
        .containsExactly(3L);
  }

  @Test
  void aThrowingPostTaskHandlerDoesNotReachTheSender() {
    server.registerTask("one", TaskFunction.of(() -> 1L));
    server
        .workerBuilder("eager")
        .concurrency(1)
        .postTaskHandler(
            s -> {
              throw new IllegalStateException("post broke");
            })
        .build()
        .launchAsync();
    assertThat(server.sendTask(Signature.create("one")).get(Duration.ofSeconds(5)))
        .containsExactly(1L);
  }
}
