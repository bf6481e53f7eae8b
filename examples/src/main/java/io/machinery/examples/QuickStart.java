package io.machinery.examples;

// README:quickstart:begin
import io.machinery.Arg;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.TaskFunction;
import java.time.Duration;
import java.util.List;
import java.util.stream.LongStream;

public class QuickStart {
  public static void main(String[] args) {
    // No broker or backend given: an in-JVM memory broker and backend, owned and closed by the
    // server.
    try (Server server = Server.builder().build()) {
      server.registerTask(
          "add", TaskFunction.varargs(long[].class, numbers -> LongStream.of(numbers).sum()));
      server.newWorker("quickstart", 10).launchAsync();

      List<Object> results =
          server
              .sendTask(Signature.create("add", Arg.of(1L), Arg.of(2L)))
              .get(Duration.ofSeconds(10));
      System.out.println("1 + 2 = " + results.get(0)); // 1 + 2 = 3
    }
  }
}
// README:quickstart:end
