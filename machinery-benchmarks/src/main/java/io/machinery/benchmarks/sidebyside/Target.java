package io.machinery.benchmarks.sidebyside;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.machinery.client.amqp.AmqpUrl;
import java.util.ArrayList;
import java.util.List;

/**
 * Where one side-by-side row runs: a broker URL (Redis or AMQP), the Redis result backend, and the
 * bench queue, which both implementations use in turn and which is emptied before and after every
 * run.
 */
record Target(
    String label, String brokerUrl, String backendUrl, String queue, int resultsExpireIn) {

  boolean amqpBroker() {
    return brokerUrl.startsWith("amqp");
  }

  /**
   * Empties the bench queue. Redis: the list, and the processing lists, leases and dead letters a
   * Java consumer keeps beside it ({@code {queue}:*}). AMQP: declares the queue as both
   * implementations do (durable, no arguments) and purges it.
   */
  void purge() throws Exception {
    if (PubSubBench.isPubSub(brokerUrl)) {
      PubSubBench.recreate(queue);
    } else if (amqpBroker()) {
      AmqpUrl url = AmqpUrl.parse(brokerUrl);
      ConnectionFactory f = url.connectionFactory();
      try (Connection connection = f.newConnection("sidebyside-purge");
          Channel channel = connection.createChannel()) {
        channel.queueDeclare(queue, true, false, false, null);
        channel.queuePurge(queue);
      }
    } else {
      RedisClient client = RedisClient.create(brokerUrl);
      try (StatefulRedisConnection<String, String> connection = client.connect()) {
        RedisCommands<String, String> redis = connection.sync();
        List<String> keys = new ArrayList<>(redis.keys("{" + queue + "}:*"));
        keys.add(queue);
        redis.del(keys.toArray(String[]::new));
      } finally {
        client.shutdown();
      }
    }
  }
}
