package io.machinery.client.redis;

import io.lettuce.core.RedisCommandExecutionException;
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
import org.jspecify.annotations.Nullable;

/**
 * A Lua script run with {@code EVALSHA}, falling back to {@code EVAL} (which also caches it) when
 * the server answers {@code NOSCRIPT}: after a restart, a {@code SCRIPT FLUSH}, or on a cluster
 * node that has not seen it. Thread-safe.
 *
 * <p>Design note: call order. Redis applies the commands of one connection in the order sent, but a
 * call whose {@code EVALSHA} failed is applied only when its {@code EVAL} arrives, after any call
 * sent meanwhile that found the script cached: a burst of calls pipelined while the script was
 * unknown could be applied out of call order (measured: 4 to 11 bursts in 3,000 of five calls up to
 * 0.3 ms apart; a dead-letter list once kept its envelopes in the wrong order that way). So until
 * the server has answered a call of this script, and again after any {@code NOSCRIPT}, calls send
 * the whole script with {@code EVAL}: every call of a burst on a server that has not seen the
 * script is applied in order, and the calls after the first answer find it cached. What remains is
 * a server that forgets the script while calls are on their way (a restart, {@code SCRIPT FLUSH}, a
 * failover) or a second server (one script object serves every session of the JVM): calls pipelined
 * at that moment may still be applied out of order. No caller here depends on the order of calls it
 * has not awaited: a task's state writes are joined before its message is acknowledged, and
 * settlements of different messages are independent.
 */
public final class RedisScript {
  private final String name;
  private final byte[] source;
  private final String sha1;
  private final ScriptOutputType output;

  /**
   * Whether the server has answered a call since the last {@code NOSCRIPT} (see the class notes);
   * until then, calls send the script itself.
   */
  private volatile boolean cached;

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

  /** Whether the next call goes by SHA-1 ({@code EVALSHA}) rather than with the script. */
  boolean goesBySha1() {
    return cached;
  }

  /**
   * Runs the script. All {@code keys} must share one cluster slot. The future completes on a
   * Lettuce I/O thread; do not block in its callbacks. Cancelling it cancels the command it waits
   * for ({@code EVALSHA}, or the {@code EVAL} after a {@code NOSCRIPT}), so a call whose caller
   * gave up ({@link RedisSession#timed}) is not sent after a reconnect: a lock try reported as
   * failed took the lock once Redis was back, for instance.
   */
  public <T> CompletableFuture<T> run(
      RedisClusterAsyncCommands<String, byte[]> commands, String[] keys, byte[]... args) {
    Call<T> call = new Call<>();
    if (!cached) {
      eval(call, commands, keys, args);
      return call;
    }
    CompletableFuture<T> first =
        commands.<T>evalsha(sha1, output, keys, args).toCompletableFuture();
    call.waitingFor(first);
    first.whenComplete(
        (value, error) -> {
          if (error == null) {
            call.complete(value);
            return;
          }
          Throwable cause = unwrap(error);
          if (cause instanceof RedisNoScriptException && !call.isDone()) {
            cached = false;
            eval(call, commands, keys, args);
          } else {
            call.completeExceptionally(cause);
          }
        });
    return call;
  }

  /**
   * {@code EVAL} for {@code call}: the server runs and caches the script; once it has answered (a
   * result, or an error the script raised), calls go by its SHA-1 (set before the call completes).
   */
  private <T> void eval(
      Call<T> call,
      RedisClusterAsyncCommands<String, byte[]> commands,
      String[] keys,
      byte[]... args) {
    CompletableFuture<T> reply = commands.<T>eval(source, output, keys, args).toCompletableFuture();
    call.waitingFor(reply);
    reply.whenComplete(
        (value, error) -> {
          if (error == null || unwrap(error) instanceof RedisCommandExecutionException) {
            cached = true;
          }
          if (error == null) {
            call.complete(value);
          } else {
            call.completeExceptionally(unwrap(error));
          }
        });
  }

  /** A call's future: cancelling it cancels the command it waits for. */
  private static final class Call<T> extends CompletableFuture<T> {
    private volatile @Nullable CompletableFuture<?> waitingFor;

    void waitingFor(CompletableFuture<?> command) {
      waitingFor = command;
      if (isCancelled()) {
        command.cancel(false); // cancelled while the EVALSHA's NOSCRIPT was on its way
      }
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean cancelled = super.cancel(mayInterruptIfRunning);
      CompletableFuture<?> command = waitingFor;
      if (command != null) {
        command.cancel(false); // Lettuce drops a cancelled command it has not written yet
      }
      return cancelled;
    }
  }

  private static Throwable unwrap(Throwable error) {
    return error instanceof CompletionException && error.getCause() != null
        ? error.getCause()
        : error;
  }

  @Override
  public String toString() {
    return "RedisScript{" + name + " " + sha1 + "}";
  }
}
