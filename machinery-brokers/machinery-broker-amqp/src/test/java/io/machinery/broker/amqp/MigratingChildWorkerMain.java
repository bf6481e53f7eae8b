package io.machinery.broker.amqp;

import io.machinery.MigratingBroker;
import io.machinery.Server;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.broker.redis.RedisBroker;
import io.machinery.config.Config;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Path;

/**
 * A worker process for {@link RedisToAmqpMigrationKillIT}: a {@link MigratingBroker} from the Redis
 * broker to the AMQP one, the Redis backend and {@link WorkerProcesses#registerRecordingTasks the
 * recording tasks}.
 *
 * <p>Arguments: AMQP URL, default queue, concurrency, executions file, Redis URL (the old broker
 * and the result backend). Runs until killed.
 */
public final class MigratingChildWorkerMain {
  private MigratingChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config =
        Config.builder()
            .broker(args[0])
            .migrateFromBroker(args[4])
            .resultBackend(args[4])
            .defaultQueue(args[1])
            .amqp(Config.DEFAULT.amqp().withBindingKey(args[1]))
            .build();
    int concurrency = Integer.parseInt(args[2]);
    MigratingBroker broker =
        MigratingBroker.of(
            RedisBroker.create(config.toBuilder().broker(args[4]).build()),
            AmqpBroker.create(config));
    Server server =
        WorkerProcesses.recordingServer(
            config, broker, RedisBackend.create(config), Path.of(args[3]));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), concurrency).launch();
  }
}
