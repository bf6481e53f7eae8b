package io.machinery.backend.amqp;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * RabbitMQ's side of a test: a connection of the test's own to the test RabbitMQ, to look at the
 * queues the backend leaves there and to clean them up. Every look opens a channel of its own,
 * because RabbitMQ closes a channel on a failed passive declaration (an absent queue).
 */
final class RabbitSide implements AutoCloseable {
  /** What {@link #ready} says of a queue that does not exist. */
  static final int ABSENT = -1;

  private static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(5);

  private final Connection connection;

  private RabbitSide(Connection connection) {
    this.connection = connection;
  }

  /** Opens a connection named {@code name} (as RabbitMQ lists it) to the test RabbitMQ. */
  static RabbitSide open(String name) throws Exception {
    return new RabbitSide(AmqpBackendTesting.connect(name));
  }

  /** Work on a channel that may fail as RabbitMQ refuses it. */
  interface ChannelWork<T> {
    T run(Channel channel) throws IOException;
  }

  /** Runs {@code work} on a channel of its own, closed after it. */
  <T> T onChannel(ChannelWork<T> work) {
    try (Channel channel = connection.createChannel()) {
      return work.run(channel);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (TimeoutException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The ready messages of {@code queue}, or {@link #ABSENT} when it does not exist. */
  int ready(String queue) {
    try (Channel channel = connection.createChannel()) {
      return channel.queueDeclarePassive(queue).getMessageCount();
    } catch (IOException e) {
      return ABSENT;
    } catch (TimeoutException e) {
      throw new IllegalStateException(e);
    }
  }

  boolean exists(String queue) {
    return ready(queue) != ABSENT;
  }

  /** The consumers of {@code queue}, which must exist. */
  int consumers(String queue) {
    return onChannel(channel -> channel.queueDeclarePassive(queue).getConsumerCount());
  }

  /**
   * Publishes {@code body} to {@code queue} through the default exchange and waits until RabbitMQ
   * confirms it.
   */
  void publish(String queue, AMQP.@Nullable BasicProperties properties, byte[] body) {
    onChannel(
        channel -> {
          channel.confirmSelect();
          channel.basicPublish("", queue, properties, body);
          try {
            channel.waitForConfirmsOrDie(CONFIRM_TIMEOUT.toMillis());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
          } catch (TimeoutException e) {
            throw new IOException(e);
          }
          return null;
        });
  }

  /** Deletes the queues (an absent one is no error). */
  void delete(String... queues) {
    onChannel(
        channel -> {
          for (String queue : queues) {
            channel.queueDelete(queue);
          }
          return null;
        });
  }

  /** Deletes a test chord's group queue and its winner's marker. */
  void deleteChord(String group) {
    delete(group, ChordTrigger.marker(group));
  }

  /**
   * Consumes {@code queue} on {@code channel} as Go's group reader and the chord's taker do:
   * exclusively, without a prefetch limit, acknowledging nothing. Returns the bodies delivered so
   * far, which RabbitMQ holds for the consumer until its channel goes.
   */
  static List<byte[]> holdExclusively(Channel channel, String queue) throws IOException {
    List<byte[]> held = new CopyOnWriteArrayList<>();
    channel.basicQos(0);
    channel.basicConsume(
        queue,
        false,
        "",
        false,
        true,
        null,
        new DefaultConsumer(channel) {
          @Override
          public void handleDelivery(
              String tag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) {
            held.add(body);
          }
        });
    return held;
  }

  /** The connection itself, for a test that publishes or holds queues on RabbitMQ's side. */
  Connection connection() {
    return connection;
  }

  @Override
  public void close() throws IOException {
    connection.close();
  }
}
