package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Arg;
import io.machinery.AsyncResult;
import io.machinery.Signature;
import java.time.Duration;
import java.util.UUID;

/** The scenarios that differ on SQS, shared by the SQS pairs (both directions). */
final class SqsInterop {
  private SqsInterop() {}

  /**
   * RetryCount 2 on a Go worker: Go republishes each retry through SQS and the task succeeds on its
   * third run. No timing is asserted: Go's SQS broker truncates the delay to whole seconds (the 1 s
   * retry is sent with DelaySeconds 0, the 2 s one with 1) and ignores ETAs when it receives, so a
   * Go worker runs its retries early (seen here: both retries within 5 ms). A Java worker holds
   * such messages until their ETA.
   */
  static void retryThroughGo(JavaSendsGoWorksSuite suite) {
    String key = "retry-" + UUID.randomUUID();
    Signature task =
        Signature.builder("fail_n_times").args(Arg.of(key), Arg.of(2L)).retryCount(2).build();
    AsyncResult result = suite.server.sendTask(task);
    assertThat(result.get(JavaSendsGoWorksSuite.TIMEOUT)).containsExactly("ok");
  }

  /**
   * Go's retry_later asks for 1 s; Go's SQS broker sends it with DelaySeconds 0 (see above): only
   * the outcome.
   */
  static void retryLaterThroughGo(JavaSendsGoWorksSuite suite) {
    String key = "later-" + UUID.randomUUID();
    assertThat(suite.send(Signature.create("retry_later", Arg.of(key)))).containsExactly("done");
  }

  /**
   * Go's SQS broker does not implement GetPendingTasks: the harness's {@code pending} command says
   * so.
   */
  static void goCannotListAnSqsQueue(JavaSendsGoWorksSuite suite) {
    String idle = suite.queues.extraQueue("pending");
    suite.server.sendTask(
        Signature.create("add", Arg.of(1L), Arg.of(1L)).toBuilder().routingKey(idle).build());
    GoHarness.Run run = GoHarness.run(Duration.ofSeconds(60), "pending", suite.queues.goArgs(idle));
    assertThat(run.exitCode()).as(run.describe()).isNotZero();
    assertThat(run.describe()).contains("Not implemented");
  }

  /**
   * A stopped Go worker leaves no receive open behind it. The test harness stops a Go worker as
   * Java's {@code Process.destroy()} does: SIGTERM, then stdin closed; the harness used to answer
   * the EOF with a second SIGTERM, Machinery then quit abruptly while its long poll was still open
   * at the server, and the next message sent to the queue went to that dead receive and stayed
   * hidden for the visibility timeout (ElasticMQ's 30 s: the flaky {@code
   * automaticRetryRepublishesWithGoCountersAndDelays} of the Go→Java suite, which runs right after
   * the shared-chord test stopped its Go worker). The message is sent right after the worker
   * exited, well inside the harness's 1 s long poll. Before the harness fix this failed in 3 of 4
   * runs, not all: the two SIGTERMs sometimes coalesce into one. (A longer poll would not help:
   * Go's receive loop picks between "stop" and "receive again" at random, so a stopping Go worker
   * polls a random number of times more, each as long.)
   */
  static void aStoppedGoWorkerLeavesNoReceiveOpen(JavaSendsGoWorksSuite suite) {
    String queue = suite.queues.extraQueue("go_stop");
    GoHarness.GoWorker go = GoHarness.startWorker(suite.queues.goArgs(queue));
    Signature first =
        Signature.create("add", Arg.of(2L), Arg.of(3L)).toBuilder().routingKey(queue).build();
    assertThat(suite.server.sendTask(first).get(JavaSendsGoWorksSuite.TIMEOUT))
        .as("the Go worker is consuming")
        .containsExactly(5L);
    go.close(); // returns once the process has exited
    suite.server.sendTask(
        Signature.create("add", Arg.of(1L), Arg.of(1L)).toBuilder().routingKey(queue).build());
    assertThat(AwsInterop.receive(queue, 2))
        .as(
            "the message sent after the Go worker stopped is there at once (Go's log: %s)",
            go.log())
        .hasSize(1);
    assertThat(GoHarness.read(go.log()))
        .as("Go's log: %s", go.log())
        .contains("worker stopped")
        .doesNotContain("quit abruptly");
  }

  /**
   * Go sends a task with RetryCount 2 that fails twice; the Java worker runs it three times with
   * Go's counters. SQS cannot show a retry while it waits, so only the outcome and the run counts
   * are checked.
   */
  static void javaRunsGoRetries(GoSendsJavaWorksSuite suite) {
    JsonNode sent = suite.goSend("retry");
    assertThat(sent.path("results")).isEqualTo(GoSendsJavaWorksSuite.json("[\"ok\"]"));
    assertThat(suite.tasks.calls(sent.path("key").asText()))
        .as("runs on Java: the first and two retries")
        .isEqualTo(3);
    assertThat(suite.javaRuns.get(GoSendsJavaWorksSuite.uuids(sent).get(0))).isEqualTo(3);
  }

  /** Java cannot list an SQS queue either: the broker says so clearly. */
  static void javaCannotListAnSqsQueue(GoSendsJavaWorksSuite suite) {
    String idle = suite.queues.extraQueue("pending");
    assertThat(GoSendsJavaWorksSuite.uuids(suite.goSendNoWait(idle, "task"))).hasSize(1);
    assertThatThrownBy(() -> suite.broker.pendingTasks(idle))
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("SQS cannot list");
  }
}
