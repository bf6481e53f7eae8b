package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Signature;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TopologyTest {
  private final Topology direct = new Topology(Config.DEFAULT);
  private final Topology topic =
      new Topology(
          Config.DEFAULT.toBuilder().amqp(AmqpConfig.DEFAULT.withExchangeType("topic")).build());

  @Test
  void routingFollowsGosAdjustRoutingKey() {
    assertThat(direct.routingKeyFor(Signature.create("add"))).isEqualTo("machinery_task");
    assertThat(topic.routingKeyFor(Signature.create("add"))).isEqualTo("machinery_tasks");
    assertThat(direct.routingKeyFor(Signature.builder("add").routingKey("custom").build()))
        .isEqualTo("custom");
  }

  @Test
  void publishersDeclareTheWorkersQueueInsteadOfGosCopyQueue() {
    assertThat(direct.publishTarget("machinery_task"))
        .isEqualTo(new Topology.QueueBinding("machinery_tasks", "machinery_task"));
    assertThat(direct.publishTarget("custom"))
        .isEqualTo(new Topology.QueueBinding("custom", "custom"));
    assertThat(topic.publishTarget("anything"))
        .isEqualTo(new Topology.QueueBinding("machinery_tasks", "machinery_task"));
  }

  @Test
  void workersBindTheDefaultQueueWithTheBindingKeyAndCustomQueuesWithTheirName() {
    assertThat(direct.workerQueue(""))
        .isEqualTo(new Topology.QueueBinding("machinery_tasks", "machinery_task"));
    assertThat(direct.workerQueue("machinery_tasks"))
        .isEqualTo(new Topology.QueueBinding("machinery_tasks", "machinery_task"));
    assertThat(direct.workerQueue("images"))
        .isEqualTo(new Topology.QueueBinding("images", "images"));
  }

  @Test
  void delayQueuesHaveGosNameAndArguments() {
    // interop/go/captured/amqp-delay-queue-declare.json
    assertThat(Topology.delayQueueName(992, "machinery_exchange", "machinery_task"))
        .isEqualTo("delay.992.machinery_exchange.machinery_task");
    assertThat(Topology.delayQueueArgs(992, "machinery_exchange", "machinery_task"))
        .isEqualTo(
            Map.of(
                "x-dead-letter-exchange",
                "machinery_exchange",
                "x-dead-letter-routing-key",
                "machinery_task",
                "x-message-ttl",
                992L,
                "x-expires",
                1984L));
  }

  @Test
  void headersBecomeATableOfStrings() {
    assertThat(Publishing.headerTable(Map.of())).isNull();
    java.util.Map<String, Object> headers = new java.util.LinkedHashMap<>();
    headers.put("a", "b");
    headers.put("n", 5L);
    headers.put("gone", null);
    assertThat(Publishing.headerTable(headers)).isEqualTo(Map.of("a", "b", "n", "5"));
  }

  @Test
  void requeueDelaysSpreadOverSixteenStepsUpToHalfAgain() {
    assertThat(Publishing.spread(3_200, 0)).isEqualTo(3_200);
    assertThat(Publishing.spread(3_200, Publishing.SPREAD_STEPS - 1)).isEqualTo(3_200 + 15 * 100);
    assertThat(Publishing.spread(5, 7)).as("too short to spread").isEqualTo(5);
  }
}
