package io.machinery.broker.redis;

import io.machinery.Server;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.client.redis.RedisSession;
import io.machinery.config.Config;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * A worker process for {@link WorkerKilledIT} and {@link RedisChordKillIT}: {@code
 * KillableWorkerMain [--fair] <redis url> <queue> <runs key> <concurrency> <lease ms> [<executions
 * file>]}: {@link FaultWork}'s task, and with an executions file also {@link
 * WorkerProcesses#registerRecordingTasks the recording tasks} (and {@link
 * WorkerProcesses#outcomeLog}); {@code --fair} turns the broker's fairness on. Prints {@code READY}
 * once consuming, then runs until it is killed.
 */
public final class KillableWorkerMain {
  private KillableWorkerMain() {}

  public static void main(String[] given) throws Exception {
    boolean fair = given.length > 0 && given[0].equals("--fair");
    String[] args = fair ? java.util.Arrays.copyOfRange(given, 1, given.length) : given;
    String url = args[0];
    Config config = Config.builder().broker(url).resultBackend(url).defaultQueue(args[1]).build();
    RedisSession redis = RedisSession.open(url, config);
    RedisBroker broker =
        RedisBroker.builder(config)
            .leaseTimeout(Duration.ofMillis(Long.parseLong(args[4])))
            .fairness(fair)
            .build();
    RedisBackend backend = RedisBackend.create(config);
    Server server =
        args.length > 5
            ? WorkerProcesses.recordingServer(config, broker, backend, Path.of(args[5]))
            : Server.builder().config(config).broker(broker).backend(backend).build();
    FaultWork.register(server, redis, args[2]);
    server.newWorker("doomed", Integer.parseInt(args[3])).launchAsync();
    System.out.println("READY");
    System.out.flush();
    new CountDownLatch(1).await(); // until killed; nothing is closed on purpose
  }
}
