package io.machinery.broker.redis;

import io.machinery.Server;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * A worker process for {@link RedisControlPlaneEndToEndIT}: {@code HeartbeatWorkerMain <redis url>
 * <queue> <heartbeat ms>}. Prints {@code READY} once it announced itself, then runs until it is
 * killed.
 */
public final class HeartbeatWorkerMain {
  private HeartbeatWorkerMain() {}

  public static void main(String[] args) throws InterruptedException {
    String url = args[0];
    Config config = Config.builder().broker(url).resultBackend(url).defaultQueue(args[1]).build();
    Server server =
        Server.builder()
            .config(config)
            .broker(RedisBroker.create(config))
            .backend(RedisBackend.create(config))
            .build();
    server
        .workerBuilder("doomed")
        .concurrency(1)
        .heartbeatInterval(Duration.ofMillis(Long.parseLong(args[2])))
        .build()
        .launchAsync();
    System.out.println("READY");
    System.out.flush();
    new CountDownLatch(1).await(); // until killed; nothing is closed on purpose
  }
}
