package io.machinery.client.redis;

import io.lettuce.core.RedisChannelWriter;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.StatefulRedisConnectionImpl;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.protocol.PushHandler;
import io.lettuce.core.pubsub.PubSubEndpoint;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnectionImpl;
import io.lettuce.core.pubsub.api.sync.RedisPubSubCommands;
import io.lettuce.core.resource.ClientResources;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import reactor.core.publisher.Mono;

/**
 * A Lettuce {@link RedisClient} whose connections, Pub/Sub ones included, have no synchronous
 * command API.
 *
 * <p>Design note: every {@code StatefulRedisConnectionImpl} builds its {@code sync()} view in its
 * constructor, a {@link java.lang.reflect.Proxy} over the 400-odd methods of {@link RedisCommands}
 * whose handler looks up each of them by reflection, at a cost of about 90 ms of CPU per
 * connection. {@link RedisSession} only ever uses {@code async()} and raw command dispatch, so its
 * connections skip the proxy and {@code sync()} fails with a clear message instead: a one-task
 * producer process ran in 1.10 s instead of 1.25 (docs/benchmarks.md, session 9). That is start-up
 * only; the JIT's later work on reflection and class-file code did not shrink with it. A Pub/Sub
 * connection ({@link SentinelSwitchListener}'s, one per Sentinel) builds the same proxy over {@link
 * RedisPubSubCommands}, which extends {@link RedisCommands}, so it skips it too: the first one in a
 * JVM cost 200-270 ms of CPU on Java threads (380-530 ms for the process, JIT included) and loaded
 * 199 classes; without the proxy 55-80 ms (80-140 ms) and 64 classes. Later ones cost about 7 ms
 * either way (session 57, six runs before and after on a shared machine).
 *
 * <p>It also asks the Sentinels that {@link SentinelSwitchListener} discovered ({@code SENTINEL
 * SENTINELS}) for the primary when none of the URI's answers: Lettuce asks only those of the URI,
 * and when they are all down it reconnects to the address it found last, the old primary after a
 * failover.
 */
final class AsyncOnlyRedisClient extends RedisClient {
  /** Sentinels not in the URI, found by {@link SentinelSwitchListener}; thread-safe. */
  private final List<RedisURI> discoveredSentinels;

  AsyncOnlyRedisClient(ClientResources resources, RedisURI defaultUri) {
    this(resources, defaultUri, List.of());
  }

  /**
   * A client that asks {@code discoveredSentinels} (a thread-safe list, appended to later) for the
   * primary when the Sentinels of a URI do not answer.
   */
  AsyncOnlyRedisClient(
      ClientResources resources, RedisURI defaultUri, List<RedisURI> discoveredSentinels) {
    super(resources, defaultUri);
    this.discoveredSentinels = discoveredSentinels;
  }

  @Override
  protected Mono<SocketAddress> getSocketAddress(RedisURI uri) {
    if (uri.getSentinels().isEmpty()) {
      return super.getSocketAddress(uri);
    }
    return super.getSocketAddress(uri)
        .onErrorResume(
            error -> {
              List<RedisURI> others = List.copyOf(discoveredSentinels);
              if (others.isEmpty()) {
                return Mono.error(error);
              }
              // the URI's settings (credentials, database, timeout), not its Sentinels
              RedisURI.Builder viaOthers =
                  RedisURI.builder(uri).withSentinelMasterId(uri.getSentinelMasterId());
              for (RedisURI sentinel : others) {
                viaOthers.withSentinel(sentinel);
              }
              return super.getSocketAddress(viaOthers.build());
            });
  }

  @Override
  protected <K, V> StatefulRedisConnectionImpl<K, V> newStatefulRedisConnection(
      RedisChannelWriter channelWriter,
      PushHandler pushHandler,
      RedisCodec<K, V> codec,
      Duration timeout) {
    return new AsyncOnlyConnection<>(
        channelWriter, pushHandler, codec, timeout, getOptions().getJsonParser());
  }

  @Override
  protected <K, V> StatefulRedisPubSubConnectionImpl<K, V> newStatefulRedisPubSubConnection(
      PubSubEndpoint<K, V> endpoint,
      RedisChannelWriter channelWriter,
      RedisCodec<K, V> codec,
      Duration timeout) {
    return new AsyncOnlyPubSubConnection<>(endpoint, channelWriter, codec, timeout);
  }

  private static UnsupportedOperationException noSync() {
    return new UnsupportedOperationException(
        "Machinery's Redis connections are asynchronous only; use async()");
  }

  private static final class AsyncOnlyConnection<K, V> extends StatefulRedisConnectionImpl<K, V> {
    AsyncOnlyConnection(
        RedisChannelWriter writer,
        PushHandler pushHandler,
        RedisCodec<K, V> codec,
        Duration timeout,
        java.util.function.Supplier<io.lettuce.core.json.JsonParser> parser) {
      super(writer, pushHandler, codec, timeout, parser);
    }

    @Override
    @SuppressWarnings("NullAway") // the field stays null: sync() below never hands it out
    protected RedisCommands<K, V> newRedisSyncCommandsImpl() {
      return null;
    }

    @Override
    public RedisCommands<K, V> sync() {
      throw noSync();
    }
  }

  private static final class AsyncOnlyPubSubConnection<K, V>
      extends StatefulRedisPubSubConnectionImpl<K, V> {
    AsyncOnlyPubSubConnection(
        PubSubEndpoint<K, V> endpoint,
        RedisChannelWriter writer,
        RedisCodec<K, V> codec,
        Duration timeout) {
      super(endpoint, writer, codec, timeout);
    }

    @Override
    @SuppressWarnings("NullAway") // the field stays null: sync() below never hands it out
    protected RedisPubSubCommands<K, V> newRedisSyncCommandsImpl() {
      return null;
    }

    @Override
    public RedisPubSubCommands<K, V> sync() {
      throw noSync();
    }
  }
}
