package io.machinery.broker.gcppubsub;

import io.machinery.Server;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A worker process for {@link GcpPubSubWorkerKillIT} and {@link GcpPubSubRedisPausedWorkerIT}:
 * Pub/Sub broker, Redis backend, {@link WorkerProcesses#registerRecordingTasks the recording
 * tasks}, which append to a file (one line per execution, so the parent counts the runs of a killed
 * process too), and {@link WorkerProcesses#outcomeLog}.
 *
 * <p>Arguments: emulator host, broker URL, default queue, Redis URL, concurrency, executions file,
 * and optionally the ack deadline in seconds (the broker's default otherwise). Runs until killed.
 */
public final class ChildWorkerMain {
  private ChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config =
        Config.builder().broker(args[1]).defaultQueue(args[2]).resultBackend(args[3]).build();
    int concurrency = Integer.parseInt(args[4]);
    GcpPubSubBroker.Builder builder = GcpPubSubBroker.builder(config).emulatorHost(args[0]);
    if (args.length > 6 && !args[6].isEmpty()) {
      builder.ackDeadline(Duration.ofSeconds(Long.parseLong(args[6])));
    }
    GcpPubSubBroker broker = builder.build();
    RedisBackend backend = RedisBackend.create(config);
    Server server = WorkerProcesses.recordingServer(config, broker, backend, Path.of(args[5]));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), concurrency).launch();
  }
}
