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
import java.time.Duration;

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
 */
final class AsyncOnlyRedisClient extends RedisClient {
  AsyncOnlyRedisClient(ClientResources resources, RedisURI defaultUri) {
    super(resources, defaultUri);
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
