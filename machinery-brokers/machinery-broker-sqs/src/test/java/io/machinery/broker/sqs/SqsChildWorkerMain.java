package io.machinery.broker.sqs;

import io.machinery.Server;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Path;

/**
 * A worker process for {@link SqsWorkerKillIT} and {@link SqsRedisPausedWorkerIT}: SQS broker,
 * Redis backend, {@link WorkerProcesses#registerRecordingTasks the recording tasks}, which append
 * to a file (one line per run, kept by the OS even when the process is killed), and {@link
 * WorkerProcesses#outcomeLog}.
 *
 * <p>Arguments: SQS URL, Redis URL, queue, concurrency, visibility timeout (s), executions file.
 * Runs until killed.
 */
public final class SqsChildWorkerMain {
  private SqsChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config =
        Config.builder()
            .broker(args[0])
            .resultBackend(args[1])
            .defaultQueue(args[2])
            .sqs(new SqsConfig(1, Integer.parseInt(args[4]), true))
            .build();
    int concurrency = Integer.parseInt(args[3]);
    SqsBroker broker = SqsBroker.create(config);
    RedisBackend backend = RedisBackend.create(config);
    Server server = WorkerProcesses.recordingServer(config, broker, backend, Path.of(args[5]));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), concurrency).launch();
  }
}
