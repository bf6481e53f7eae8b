package io.machinery.broker.amqp;

import io.machinery.Server;
import io.machinery.TaskFunction;
import io.machinery.backend.amqp.AmqpBackend;
import io.machinery.config.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A worker process for {@link AmqpWorkerKillIT} and {@link AmqpChordKillIT}: AMQP broker and backend, a task
 * {@code record(index)} that appends its index to a file (one line per execution, so the parent counts runs even
 * of a killed process) and a chord callback {@code collect(chord, results...)} that appends {@code
 * cb:<chord>:<number of results>}.
 *
 * <p>Arguments: AMQP URL, default queue, concurrency, executions file. Runs until killed.
 */
public final class ChildWorkerMain {
  private ChildWorkerMain() {}

  public static void main(String[] args) throws Exception {
    Config config = Config.builder().broker(args[0]).resultBackend(args[0]).defaultQueue(args[1]).build();
    int concurrency = Integer.parseInt(args[2]);
    FileChannel executions = FileChannel.open(Path.of(args[3]), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND);
    AmqpBroker broker = AmqpBroker.create(config);
    AmqpBackend backend = AmqpBackend.create(config);
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
    // a chord callback: its first argument is the chord's number, then the members' results
    server.registerTask("collect", TaskFunction.varargs(long[].class, values -> {
      byte[] line = ("cb:" + values[0] + ":" + (values.length - 1) + "\n").getBytes(StandardCharsets.US_ASCII);
      try {
        synchronized (executions) {
          executions.write(ByteBuffer.wrap(line));
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return values[0];
    }));
    System.out.println("worker ready, pid " + ProcessHandle.current().pid());
    server.newWorker("child-" + ProcessHandle.current().pid(), concurrency).launch();
  }
}
