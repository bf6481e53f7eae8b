package io.machinery.backend.mongodb;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.testkit.TestEndpoints;

/** Removes a test's uniquely named AMQP queue from the shared RabbitMQ once the test is done. */
final class TestQueues {
  private TestQueues() {}

  static void deleteAmqpQueue(String queue) throws Exception {
    AmqpUrl url = AmqpUrl.parse(TestEndpoints.amqpUrl());
    ConnectionFactory f = new ConnectionFactory();
    f.setHost(url.host());
    f.setPort(url.port());
    f.setUsername(url.username());
    f.setPassword(url.password());
    f.setVirtualHost(url.vhost());
    try (Connection connection = f.newConnection("machinery-test-cleanup"); Channel channel = connection.createChannel()) {
      channel.queueDelete(queue);
    }
  }
}
