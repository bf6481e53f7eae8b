package io.machinery.broker.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.machinery.Arg;
import io.machinery.Signature;
import io.machinery.config.Config;
import io.machinery.spi.Broker;
import io.machinery.spi.Delivery;
import io.machinery.spi.Inspector;
import io.machinery.testkit.BrokerContract;
import io.machinery.testkit.RecordingHandler;
import io.machinery.testkit.TestEndpoints;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The broker contract against the 3-master Redis Cluster, with fairness on (lanes, weights and the
 * head record are keys the scripts reach by name, in their queue's slot).
 */
class RedisClusterBrokerIT extends BrokerContract {
  @Override
  protected Config baseConfig() {
    return Config.builder().broker(TestEndpoints.redisClusterUrl()).build();
  }

  @Override
  protected Broker createBroker(Config config) {
    return RedisBroker.builder(config).fairness(true).build();
  }

  @Test
  void keyedTasksTakeTurnsAndAreCountedAndPurgedOnACluster() throws Exception {
    String queue = config.defaultQueue();
    publishKeyed(queue, 3);
    Inspector inspector = broker.inspector().orElseThrow();
    assertThat(inspector.pendingCount(queue)).isEqualTo(6);
    assertThat(inspector.queue(queue).pending()).isEqualTo(6);
    assertThat(take(queue, 4)).containsExactly("x0", "y0", "x1", "y1");
    publishTask(
        Signature.builder("t").routingKey("other").args(Arg.of("z")).fairnessKey("z").build());
    assertThat(inspector.purge("other")).isEqualTo(1);
    assertThat(inspector.pendingCount("other")).isZero();
  }

  /** The fetch script reaches the weights and the head record in the queue's slot too. */
  @Test
  void aWeightedKeyTakesItsWeightInARowOnACluster() throws Exception {
    String queue = config.defaultQueue();
    Inspector inspector = broker.inspector().orElseThrow();
    inspector.setFairnessWeight(queue, "x", 2);
    publishKeyed(queue, 4);
    assertThat(inspector.fairnessWeights(queue)).containsExactly(java.util.Map.entry("x", 2));
    assertThat(take(queue, 8)).containsExactly("x0", "x1", "y0", "x2", "x3", "y1", "y2", "y3");
  }

  /** Publishes {@code perKey} tasks of key "x", then as many of key "y", each named key + index. */
  private void publishKeyed(String queue, int perKey) throws Exception {
    for (String key : List.of("x", "y")) {
      for (int i = 0; i < perKey; i++) {
        publishTask(
            Signature.builder("t")
                .routingKey(queue)
                .args(Arg.of(key + i))
                .fairnessKey(key)
                .build());
      }
    }
  }

  /** Consumes {@code queue} with one slot and returns the names of its first {@code n} tasks. */
  private List<String> take(String queue, int n) throws Exception {
    RecordingHandler handler = new RecordingHandler(1);
    consume(queue, handler);
    List<String> taken = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Delivery delivery = handler.next(PATIENCE.toSeconds());
      assertThat(delivery).isNotNull();
      taken.add(String.valueOf(decode(delivery).args().get(0).value()));
      handler.ack(delivery);
    }
    return taken;
  }
}
