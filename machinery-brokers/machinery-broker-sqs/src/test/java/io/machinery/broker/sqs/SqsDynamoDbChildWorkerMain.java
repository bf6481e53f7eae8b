package io.machinery.broker.sqs;

import io.machinery.Server;
import io.machinery.backend.dynamodb.DynamoDbBackend;
import io.machinery.config.Config;
import io.machinery.config.DynamoDbConfig;
import io.machinery.config.SqsConfig;
import io.machinery.testkit.WorkerProcesses;
import java.nio.file.Path;

/**
 * A worker process for {@link SqsDynamoDbChildWorkers}: SQS broker, DynamoDB backend, {@link
 * WorkerProcesses#recordingServer the recording tasks}, which append to a file (one line per run,
 * kept by the OS even when the process is killed).
 *
 * <p>Arguments: SQS URL, DynamoDB endpoint, task states table, group metas table, queue,
 * concurrency, visibility timeout (s), executions file. Runs until killed.
 */
public final class SqsDynamoDbChildWorkerMain {
  private SqsDynamoDbChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config =
        Config.builder()
            .broker(args[0])
            .resultBackend(args[1])
            .dynamoDb(new DynamoDbConfig(args[2], args[3]))
            .defaultQueue(args[4])
            .sqs(new SqsConfig(1, Integer.parseInt(args[6]), true))
            .build();
    SqsBroker broker = SqsBroker.create(config);
    DynamoDbBackend backend = DynamoDbBackend.create(config);
    Server server = WorkerProcesses.recordingServer(config, broker, backend, Path.of(args[7]));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), Integer.parseInt(args[5])).launch();
  }
}
