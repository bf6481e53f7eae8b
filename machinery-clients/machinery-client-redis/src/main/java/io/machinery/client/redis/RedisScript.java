package io.machinery.client.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A Lua script run with {@code EVALSHA}, falling back to {@code EVAL} (which also caches it) when
 * the server answers {@code NOSCRIPT}: after a restart, a {@code SCRIPT FLUSH}, or on a cluster
 * node that has not seen it. Immutable and thread-safe.
 */
public final class RedisScript {
  private final String name;
  private final byte[] source;
  private final String sha1;
  private final ScriptOutputType output;

  private RedisScript(String name, String source, ScriptOutputType output) {
    this.name = name;
    this.source = source.getBytes(StandardCharsets.UTF_8);
    this.output = output;
    try {
      this.sha1 = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(this.source));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is missing from this JVM", e);
    }
  }

  /**
   * A script returning {@code output}: {@code INTEGER} (Long), {@code VALUE} (byte[]), {@code
   * MULTI} (List of byte[], Long and nested lists), {@code STATUS} (String) or {@code BOOLEAN}.
   */
  public static RedisScript of(String name, String source, ScriptOutputType output) {
    return new RedisScript(
        Objects.requireNonNull(name),
        Objects.requireNonNull(source),
        Objects.requireNonNull(output));
  }

  public String name() {
    return name;
  }

  public String sha1() {
    return sha1;
  }

  /**
   * Runs the script. All {@code keys} must share one cluster slot. The future completes on a
   * Lettuce I/O thread; do not block in its callbacks.
   */
  public <T> CompletableFuture<T> run(
      RedisClusterAsyncCommands<String, byte[]> commands, String[] keys, byte[]... args) {
    CompletableFuture<T> first =
        commands.<T>evalsha(sha1, output, keys, args).toCompletableFuture();
    return first.exceptionallyCompose(
        error -> {
          Throwable cause =
              error instanceof CompletionException && error.getCause() != null
                  ? error.getCause()
                  : error;
          if (cause instanceof RedisNoScriptException) {
            return commands.<T>eval(source, output, keys, args).toCompletableFuture();
          }
          return CompletableFuture.failedFuture(cause);
        });
  }

  @Override
  public String toString() {
    return "RedisScript{" + name + " " + sha1 + "}";
  }
}
