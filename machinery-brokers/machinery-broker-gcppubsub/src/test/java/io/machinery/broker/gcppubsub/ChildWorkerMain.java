package io.machinery.broker.gcppubsub;

import io.machinery.Server;
import io.machinery.TaskFunction;
import io.machinery.backend.redis.RedisBackend;
import io.machinery.config.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A worker process for {@link GcpPubSubWorkerKillIT}: Pub/Sub broker, Redis backend, one task {@code
 * record(index)} that appends its index to a file (one line per execution, so the parent counts the runs of a
 * killed process too).
 *
 * <p>Arguments: emulator host, broker URL, default queue, Redis URL, concurrency, executions file. Runs until
 * killed.
 */
public final class ChildWorkerMain {
  private ChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config = Config.builder().broker(args[1]).defaultQueue(args[2]).resultBackend(args[3]).build();
    int concurrency = Integer.parseInt(args[4]);
    FileChannel executions = FileChannel.open(Path.of(args[5]), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND);
    GcpPubSubBroker broker = GcpPubSubBroker.builder(config).emulatorHost(args[0]).build();
    RedisBackend backend = RedisBackend.create(config);
    Server server = Server.builder().config(config).broker(broker).backend(backend).build();
    server.registerTask("record", TaskFunction.of(Long.class, index -> {
      byte[] line = (index + "\n").getBytes(StandardCharsets.US_ASCII);
      try {
        synchronized (executions) {
          executions.write(ByteBuffer.wrap(line)); // O_APPEND: whole lines, kept by the OS if we are killed
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
