package io.machinery.broker.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ShutdownSignalException;
import com.rabbitmq.client.impl.AMQImpl;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pure parts of consuming: QoS, the consumer_timeout close, the delivery count. */
class AmqpConsumerTest {

  @Test
  void theQosIsTheWorkersCapacityNeverThePrefetchBeyondIt() {
    assertThat(AmqpConsumer.qos(2, 10)).isEqualTo(2);
    assertThat(AmqpConsumer.qos(10, 3)).isEqualTo(10);
    assertThat(AmqpConsumer.qos(1_000_000, 3)).isEqualTo(AmqpConsumer.MAX_QOS);
    assertThat(AmqpConsumer.qos(Integer.MAX_VALUE, 3)).as("no capacity: the prefetch").isEqualTo(3);
    assertThat(AmqpConsumer.qos(Integer.MAX_VALUE, 0)).isEqualTo(1);
  }

  /** RabbitMQ's own words when consumer_timeout fires (3.10's rabbit_channel). */
  @Test
  void rabbitmqsDeliveryAcknowledgementTimeoutIsRecognised() {
    String text =
        "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: "
            + "1800000 ms. This timeout value can be configured, see consumers doc guide to learn more";
    ShutdownSignalException timeout =
        new ShutdownSignalException(
            false, false, new AMQImpl.Channel.Close(AMQP.PRECONDITION_FAILED, text, 0, 0), null);
    assertThat(AmqpConsumer.isConsumerTimeout(timeout)).isTrue();
    ShutdownSignalException other =
        new ShutdownSignalException(
            false,
            false,
            new AMQImpl.Channel.Close(
                AMQP.PRECONDITION_FAILED, "PRECONDITION_FAILED - unknown delivery tag 7", 0, 0),
            null);
    assertThat(AmqpConsumer.isConsumerTimeout(other)).isFalse();
    assertThat(AmqpConsumer.isConsumerTimeout("the broker cancelled the subscription")).isFalse();
    assertThat(AmqpConsumer.CONSUMER_TIMEOUT_ADVICE)
        .contains("consumer_timeout")
        .contains("run again");
  }

  @Test
  void theDeliveryCountIsRabbitmqsCountPlusThisDelivery() {
    assertThat(AmqpDelivery.deliveryCount(new AMQP.BasicProperties(), false))
        .as("classic queue")
        .isZero();
    assertThat(AmqpDelivery.deliveryCount(new AMQP.BasicProperties(), true))
        .as("quorum, first delivery")
        .isEqualTo(1);
    assertThat(
            AmqpDelivery.deliveryCount(
                new AMQP.BasicProperties.Builder().headers(Map.of("x-delivery-count", 2L)).build(),
                true))
        .isEqualTo(3);
    assertThat(
            AmqpDelivery.deliveryCount(
                new AMQP.BasicProperties.Builder().headers(Map.of("x-delivery-count", "2")).build(),
                true))
        .as("not a number: the first")
        .isEqualTo(1);
  }
}
