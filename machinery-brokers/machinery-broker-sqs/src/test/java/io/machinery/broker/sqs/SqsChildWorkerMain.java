package io.machinery.broker.sqs;

import io.machinery.Server;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import io.machinery.config.SqsConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A worker process for {@link SqsWorkerKillIT}: SQS broker, Redis backend, one task {@code record(index)} that
 * appends its index to a file (one line per run, kept by the OS even when the process is killed).
 *
 * <p>Arguments: SQS URL, Redis URL, queue, concurrency, visibility timeout (s), executions file. Runs until killed.
 */
public final class SqsChildWorkerMain {
  private SqsChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config = Config.builder().broker(args[0]).resultBackend(args[1]).defaultQueue(args[2])
        .sqs(new SqsConfig(1, Integer.parseInt(args[4]), true)).build();
    int concurrency = Integer.parseInt(args[3]);
    FileChannel executions = FileChannel.open(Path.of(args[5]), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND);
    SqsBroker broker = SqsBroker.create(config);
    RedisBackend backend = RedisBackend.create(config);
    Server server = Server.builder().config(config).broker(broker).backend(backend).build();
    server.registerTask("record", TaskFunction.of(Long.class, index -> {
      byte[] line = (index + "\n").getBytes(StandardCharsets.US_ASCII);
      try {
        synchronized (executions) {
          executions.write(ByteBuffer.wrap(line));
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return index;
    }));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), concurrency).launch();
  }
}
