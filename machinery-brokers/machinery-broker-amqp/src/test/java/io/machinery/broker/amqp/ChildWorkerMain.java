package io.machinery.broker.amqp;

import io.machinery.Server;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Path;

/**
 * A worker process for {@link AmqpWorkerKillIT}, {@link AmqpChordKillIT}, {@link
 * AmqpRedisDagKillIT} and {@link AmqpRedisPausedWorkerIT}: AMQP broker, AMQP or Redis backend and
 * {@link WorkerProcesses#registerRecordingTasks the recording tasks}, which log every run to a file
 * so the parent counts runs even of a killed process (with {@link WorkerProcesses#outcomeLog}).
 *
 * <p>Arguments: AMQP URL, default queue, concurrency, executions file, and optionally the result
 * backend's URL (an AMQP or Redis URL; the AMQP URL by default). Runs until killed.
 */
public final class ChildWorkerMain {
  private ChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    String backendUrl = args.length > 4 ? args[4] : args[0];
    Config config =
        Config.builder().broker(args[0]).resultBackend(backendUrl).defaultQueue(args[1]).build();
    int concurrency = Integer.parseInt(args[2]);
    AmqpBroker broker = AmqpBroker.create(config);
    Backend backend =
        backendUrl.startsWith("redis") ? RedisBackend.create(config) : AmqpBackend.create(config);
    Server server = WorkerProcesses.recordingServer(config, broker, backend, Path.of(args[3]));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), concurrency).launch();
  }
}
