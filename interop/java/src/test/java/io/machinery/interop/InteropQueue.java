package io.machinery.interop;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.GetResponse;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScoredValue;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.machinery.Signature;
import io.machinery.client.amqp.AmqpUrl;
import io.machinery.config.AmqpConfig;
import io.machinery.config.Config;
import io.machinery.config.RedisConfig;
import io.machinery.wire.WireCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * The queues one test class uses, and raw access to the servers beside both Machinery
 * implementations: the configuration of each side, cleanup, and probes that watch messages without
 * consuming them.
 *
 * <p>Every class gets its own queue ({@code interop_<pair>_<direction>_<random>}); on AMQP the
 * binding key is the queue's name too, on both sides, so no class ever sees another's messages.
 * {@link #close()} deletes what the class left behind.
 */
final class InteropQueue implements AutoCloseable {
  static final String DELAYED_TASKS_KEY = RedisConfig.DEFAULT_DELAYED_TASKS_KEY;
  static final String EXCHANGE = AmqpConfig.DEFAULT_EXCHANGE;

  final Pair pair;
  final String queue;
  private final Set<String> queues = new HashSet<>();
  private @Nullable RedisClient redisClient;
  private @Nullable StatefulRedisConnection<String, String> redis;
  private @Nullable Connection amqp;

  private InteropQueue(Pair pair, String queue) {
    this.pair = pair;
    this.queue = queue;
    queues.add(queue);
  }

  static InteropQueue create(Pair pair, String direction) {
    String suffix = UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    InteropQueue queues =
        new InteropQueue(pair, "interop_" + pair.id() + "_" + direction + "_" + suffix);
    if (pair.broker == Pair.Kind.GCPPUBSUB) {
      PubSubAdmin.ensure(queues.queue); // Go's broker requires the topic and subscription to exist
    }
    queues.createOnAws(queues.queue);
    return queues;
  }

  /**
   * The queue {@code queue} on {@code pair}'s broker (cleaned up with this object): a class that
   * uses one queue name on two brokers (a migration) takes the second this way.
   */
  static InteropQueue named(Pair pair, String queue) {
    InteropQueue queues = new InteropQueue(pair, queue);
    if (pair.broker == Pair.Kind.GCPPUBSUB) {
      PubSubAdmin.ensure(queue);
    }
    queues.createOnAws(queue);
    return queues;
  }

  /** Another queue for this class (cleaned up with it), e.g. one no worker consumes. */
  String extraQueue(String name) {
    String extra = queue + "_" + name;
    queues.add(extra);
    if (pair.broker == Pair.Kind.GCPPUBSUB) {
      PubSubAdmin.ensure(extra);
    }
    createOnAws(extra);
    return extra;
  }

  /** Go's SQS broker and DynamoDB backend expect their queues and tables to exist: create them. */
  private void createOnAws(String name) {
    if (pair.broker == Pair.Kind.SQS) {
      AwsInterop.createQueue(name);
    }
    if (pair.backend == Pair.Kind.DYNAMODB) {
      AwsInterop.createGoTables();
    }
  }

  /**
   * The Java configuration for {@code defaultQueue} (binding key = queue name, as on the Go side).
   */
  Config javaConfig(String defaultQueue) {
    return Config.builder()
        .broker(pair.brokerUrl(defaultQueue))
        .resultBackend(pair.backend.url())
        .defaultQueue(defaultQueue)
        .amqp(AmqpConfig.DEFAULT.withBindingKey(defaultQueue))
        .noUnixSignals(true)
        .build();
  }

  Config javaConfig() {
    return javaConfig(queue);
  }

  /** The Go harness flags for {@code defaultQueue}. */
  List<String> goArgs(String defaultQueue) {
    return List.of(
        "-broker",
        pair.brokerUrl(defaultQueue),
        "-backend",
        pair.backend.url(),
        "-queue",
        defaultQueue,
        "-binding-key",
        defaultQueue);
  }

  List<String> goArgs() {
    return goArgs(queue);
  }

  // -------------------------------------------------------------------------------------- raw
  // access

  synchronized RedisCommands<String, String> redis() {
    if (redis == null) {
      redisClient = RedisClient.create(Pair.Kind.REDIS.url());
      redis = redisClient.connect();
    }
    return redis.sync();
  }

  synchronized Channel amqpChannel() throws IOException {
    if (amqp == null) {
      AmqpUrl url = AmqpUrl.parse(Pair.Kind.AMQP.url());
      ConnectionFactory f = url.connectionFactory();
      try {
        amqp = f.newConnection("machinery-interop-test");
      } catch (java.util.concurrent.TimeoutException e) {
        throw new IOException(e);
      }
    }
    return amqp.createChannel();
  }

  /**
   * A message seen by a {@link Probe}: the decoded task, when it was seen and, on Redis, its ZSET
   * score.
   */
  record Seen(Signature signature, Instant seenAt, @Nullable Double score) {}

  /**
   * Watches the messages of one queue without taking them: on a Redis broker the shared {@code
   * delayed_tasks} ZSET (where ETA tasks and retries wait), on AMQP a spy queue bound to the task
   * exchange with the queue's binding key, which gets a copy of every message routed to the queue
   * (first publishes, and retries when their delay queue dead-letters them).
   */
  interface Probe extends AutoCloseable {
    /** Reads what is there now; returns every message of {@code taskUuid} seen so far. */
    List<Seen> poll(String taskUuid) throws IOException;

    @Override
    void close() throws IOException;
  }

  Probe probe() throws IOException {
    return switch (pair.broker) {
      case REDIS -> new RedisProbe();
      case AMQP -> new AmqpProbe();
      case GCPPUBSUB -> PubSubAdmin.probe(queue);
      case SQS ->
          throw new UnsupportedOperationException(
              "SQS cannot show messages while they wait (delayed retries)");
      default -> throw new IllegalStateException("no broker " + pair.broker);
    };
  }

  private final class RedisProbe implements Probe {
    private final List<Seen> seen = new ArrayList<>();
    private final Set<String> members = new HashSet<>();

    @Override
    public List<Seen> poll(String taskUuid) {
      for (ScoredValue<String> member : redis().zrangeWithScores(DELAYED_TASKS_KEY, 0, -1)) {
        if (member.getValue().contains(taskUuid) && members.add(member.getValue())) {
          Signature s =
              WireCodec.decodeSignature(member.getValue().getBytes(StandardCharsets.UTF_8));
          seen.add(new Seen(s, Instant.now(), member.getScore()));
        }
      }
      return List.copyOf(seen);
    }

    @Override
    public void close() {}
  }

  private final class AmqpProbe implements Probe {
    private final Channel channel;
    private final String spy;
    private final List<Seen> seen = new ArrayList<>();

    AmqpProbe() throws IOException {
      channel = amqpChannel();
      channel.exchangeDeclare(EXCHANGE, "direct", true, false, false, null);
      spy =
          channel
              .queueDeclare(
                  queue + ".spy." + UUID.randomUUID().toString().substring(0, 8),
                  false,
                  true,
                  true,
                  null)
              .getQueue();
      channel.queueBind(spy, EXCHANGE, queue);
    }

    @Override
    public List<Seen> poll(String taskUuid) throws IOException {
      GetResponse r;
      while ((r = channel.basicGet(spy, true)) != null) {
        Signature s = WireCodec.decodeSignature(r.getBody());
        if (s.uuid().equals(taskUuid)) {
          seen.add(new Seen(s, Instant.now(), null));
        }
      }
      return List.copyOf(seen);
    }

    @Override
    public void close() throws IOException {
      if (channel.isOpen()) {
        channel.queueDelete(spy);
        closeChannel(channel);
      }
    }
  }

  private static void closeChannel(Channel channel) throws IOException {
    try {
      channel.close();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IOException("closing an AMQP channel timed out", e);
    }
  }

  // ------------------------------------------------------------------------------------------
  // cleanup

  /**
   * Deletes this class's queues (and on Redis, the Java broker's keys and delayed tasks of these
   * queues).
   */
  @Override
  public synchronized void close() throws IOException {
    try {
      if (pair.broker == Pair.Kind.REDIS) {
        RedisCommands<String, String> r = redis();
        for (String q : queues) {
          List<String> keys = new ArrayList<>(r.keys("*" + q + "*"));
          if (!keys.isEmpty()) {
            r.del(keys.toArray(String[]::new));
          }
          for (String member : r.zrange(DELAYED_TASKS_KEY, 0, -1)) {
            if (member.contains("\"RoutingKey\":\"" + q + "\"")) {
              r.zrem(DELAYED_TASKS_KEY, member);
            }
          }
        }
      } else if (pair.broker == Pair.Kind.GCPPUBSUB) {
        PubSubAdmin.delete(queues);
      } else if (pair.broker == Pair.Kind.SQS) {
        queues.forEach(AwsInterop::deleteQueue);
      } else {
        for (String q : queues) {
          for (String name : List.of(q, q + ".dead_letters")) {
            Channel ch = amqpChannel();
            try {
              ch.queueDelete(name);
            } finally {
              closeChannel(ch);
            }
          }
        }
      }
    } finally {
      if (redis != null) {
        redis.close();
        redisClient.shutdown();
        redis = null;
      }
      if (amqp != null) {
        amqp.close();
        amqp = null;
      }
    }
  }
}
