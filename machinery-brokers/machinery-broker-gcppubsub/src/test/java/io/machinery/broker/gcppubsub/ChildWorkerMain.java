package io.machinery.broker.gcppubsub;

import io.machinery.Server;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Path;

/**
 * A worker process for {@link GcpPubSubWorkerKillIT}: Pub/Sub broker, Redis backend, one task
 * {@code record(index)} that appends its index to a file (one line per execution, so the parent
 * counts the runs of a killed process too).
 *
 * <p>Arguments: emulator host, broker URL, default queue, Redis URL, concurrency, executions file.
 * Runs until killed.
 */
public final class ChildWorkerMain {
  private ChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config =
        Config.builder().broker(args[1]).defaultQueue(args[2]).resultBackend(args[3]).build();
    int concurrency = Integer.parseInt(args[4]);
    GcpPubSubBroker broker = GcpPubSubBroker.builder(config).emulatorHost(args[0]).build();
    RedisBackend backend = RedisBackend.create(config);
    Server server = Server.builder().config(config).broker(broker).backend(backend).build();
    WorkerProcesses.registerRecordingTasks(server, Path.of(args[5]));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), concurrency).launch();
  }
}
