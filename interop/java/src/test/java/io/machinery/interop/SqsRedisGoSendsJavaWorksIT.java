package io.machinery.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Go sends, Java works: SQS broker (ElasticMQ), Redis result backend. Two scenarios differ from the other
 * brokers: SQS cannot show a delayed retry while it waits (so the retry test checks Go's counters through the
 * results and run counts), and neither side can list an SQS queue (Go's GetPendingTasks is "Not implemented").
 */
class SqsRedisGoSendsJavaWorksIT extends GoSendsJavaWorksSuite {
  @Override
  protected Pair pair() {
    return Pair.SQS_REDIS;
  }

  @Test
  @Override
  void automaticRetryRepublishesWithGoCountersAndDelays() {
    JsonNode sent = goSend("retry");
    assertThat(sent.path("results")).isEqualTo(json("[\"ok\"]"));
    assertThat(tasks.calls(sent.path("key").asText())).as("runs on Java: the first and two retries").isEqualTo(3);
    assertThat(javaRuns.get(uuids(sent).get(0))).isEqualTo(3);
  }

  @Test
  @Override
  void javaInspectsPendingTasksGoSent() {
    String idle = queues.extraQueue("pending");
    List<String> sent = uuids(goSendNoWait(idle, "task"));
    assertThat(sent).hasSize(1);
    assertThatThrownBy(() -> broker.pendingTasks(idle)).isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("SQS cannot list");
  }
}
