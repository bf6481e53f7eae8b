package io.machinery.benchmarks.outside;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.ShutdownSignalException;
import io.machinery.client.amqp.AmqpUrl;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * What the outside-in benchmark's driver needs of RabbitMQ for the AMQP rows: the pid of its {@code
 * beam.smp} (for the broker's CPU per task) and the removal of a row's exchange and queues
 * afterwards, since other people's tests share that RabbitMQ.
 */
final class Rabbit {
  private Rabbit() {}

  /**
   * The pid of the one {@code beam.smp} on this machine whose command line names RabbitMQ, else -1
   * (its CPU is then not shown).
   */
  static long localPid() {
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      List<Long> pids =
          procs
              .filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit))
              .filter(Rabbit::isRabbitBeam)
              .map(p -> Long.parseLong(p.getFileName().toString()))
              .toList();
      return pids.size() == 1 ? pids.get(0) : -1;
    } catch (IOException e) {
      return -1;
    }
  }

  private static boolean isRabbitBeam(Path proc) {
    try {
      String comm = Files.readString(proc.resolve("comm")).trim();
      String cmdline =
          new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8);
      return comm.equals("beam.smp") && cmdline.contains("rabbit");
    } catch (IOException | RuntimeException e) {
      return false; // gone, or not ours to read
    }
  }

  /**
   * Deletes {@code queues} and {@code exchange}, each on a channel of its own: RabbitMQ answers a
   * missing one (a warm-up queue nobody sent to) with 404, which closes that channel.
   */
  static void delete(String amqpUrl, String row, List<String> queues, String exchange) {
    try {
      // the library's URL parsing: Go's (and its AMQP_URL's) trailing "/" is vhost "/", not ""
      ConnectionFactory factory = AmqpUrl.parse(amqpUrl).connectionFactory();
      try (Connection connection = factory.newConnection("outside-bench-cleanup")) {
        for (String queue : queues) {
          deleteOne(connection, row, "queue " + queue, ch -> ch.queueDelete(queue));
        }
        deleteOne(connection, row, "exchange " + exchange, ch -> ch.exchangeDelete(exchange));
      }
    } catch (Exception e) {
      OutsideBenchmark.progress("  could not delete the AMQP objects of row %s: %s", row, e);
    }
  }

  private interface Deletion {
    void run(Channel channel) throws IOException;
  }

  private static void deleteOne(Connection connection, String row, String what, Deletion deletion)
      throws IOException {
    Channel channel = connection.createChannel();
    try {
      deletion.run(channel);
      channel.close();
    } catch (IOException | TimeoutException | ShutdownSignalException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      if (!String.valueOf(cause.getMessage()).contains("NOT_FOUND")) {
        OutsideBenchmark.progress("  could not delete %s of row %s: %s", what, row, cause);
      }
    }
  }
}
