package io.machinery.backend.mongodb;

import io.machinery.Server;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A worker process for {@link RedisMongoDbChildWorkers}: Redis broker with a short lease, MongoDB
 * backend, {@link WorkerProcesses#recordingServer the recording tasks}, which append to a file (one
 * line per run, kept by the OS even when the process is killed).
 *
 * <p>Arguments: Redis URL, MongoDB URI, queue, concurrency, lease (ms), executions file. Runs until
 * killed.
 */
public final class RedisMongoDbChildWorkerMain {
  private RedisMongoDbChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config =
        Config.builder().broker(args[0]).resultBackend(args[1]).defaultQueue(args[2]).build();
    RedisBroker broker =
        RedisBroker.builder(config)
            .leaseTimeout(Duration.ofMillis(Long.parseLong(args[4])))
            .build();
    MongoDbBackend backend = MongoDbBackend.create(config);
    Server server = WorkerProcesses.recordingServer(config, broker, backend, Path.of(args[5]));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), Integer.parseInt(args[3])).launch();
  }
}
