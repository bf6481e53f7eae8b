package io.machinery.examples;

import io.machinery.Arg;
import io.machinery.Chain;
import io.machinery.Chord;
import io.machinery.Group;
import io.machinery.Server;
import io.machinery.Signature;
import io.machinery.Worker;
import io.machinery.config.Config;
import io.machinery.spi.Backend;
import io.machinery.spi.Broker;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Go Machinery's example program in Java: {@code worker} runs a worker, {@code send} sends a task,
 * a group, a chord and a chain and prints their results, {@code demo} (the default) does both in
 * one JVM on the embedded memory broker and backend.
 *
 * <p>Broker and backend come from the environment with Go's variable names ({@code BROKER}, {@code
 * RESULT_BACKEND}, {@code DEFAULT_QUEUE}, ...); without {@code BROKER} the embedded memory ones are
 * used.
 */
public final class Example {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private Example() {}

  public static void main(String[] args) throws Exception {
    String command = args.length == 0 ? "demo" : args[0];
    Components components = Components.fromEnvironment();
    switch (command) {
      case "demo" -> {
        try (Stack stack = components.open()) {
          ExampleTasks.registerAll(stack.server());
          stack.server().newWorker("example_worker", 10).launchAsync();
          send(stack.server(), System.out);
        }
      }
      case "worker" -> {
        components.requireShared("worker");
        try (Stack stack = components.open()) {
          ExampleTasks.registerAll(stack.server());
          Worker worker =
              stack
                  .server()
                  .workerBuilder("example_worker")
                  .concurrency(10)
                  .handleSignals(true)
                  .build();
          worker.launch();
        }
      }
      case "send" -> {
        components.requireShared("send");
        try (Stack stack = components.open()) {
          send(stack.server(), System.out);
        }
      }
      default -> {
        System.err.println("usage: Example [demo|worker|send]");
        System.exit(2);
      }
    }
  }

  /** Sends the four examples and prints one line each: 2, [2 4 11], 88 and 60. */
  static List<String> send(Server server, PrintStream out) {
    List<String> lines = new ArrayList<>();

    Signature add = Signature.create("add", Arg.of(1L), Arg.of(1L));
    lines.add("task   add(1, 1) = " + show(server.sendTask(add).get(TIMEOUT)));

    Group group =
        Group.of(
            Signature.create("add", Arg.of(1L), Arg.of(1L)),
            Signature.create("add", Arg.of(2L), Arg.of(2L)),
            Signature.create("add", Arg.of(5L), Arg.of(6L)));
    List<Object> groupResults = new ArrayList<>();
    server.sendGroup(group, 10).forEach(r -> groupResults.addAll(r.get(TIMEOUT)));
    lines.add("group  add(1, 1), add(2, 2), add(5, 6) = " + show(groupResults, true));

    Group members =
        Group.of(
            Signature.create("add", Arg.of(1L), Arg.of(1L)),
            Signature.create("add", Arg.of(2L), Arg.of(2L)),
            Signature.create("add", Arg.of(5L), Arg.of(6L)));
    Chord chord = Chord.of(members, Signature.emptyBuilder().name("multiply").build());
    lines.add(
        "chord  multiply(add(1, 1), add(2, 2), add(5, 6)) = "
            + show(server.sendChord(chord, 10).get(TIMEOUT)));

    Chain chain =
        Chain.of(
            Signature.create("add", Arg.of(2L), Arg.of(2L)),
            Signature.create("add", Arg.of(5L), Arg.of(6L)),
            Signature.create("multiply", Arg.of(4L)));
    lines.add(
        "chain  add(2, 2) -> add(5, 6) -> multiply(4) = "
            + show(server.sendChain(chain).get(TIMEOUT)));

    lines.forEach(out::println);
    return lines;
  }

  private static String show(List<Object> results) {
    return show(results, results.size() != 1);
  }

  /** Go's {@code %v}: a single value as is, several as {@code [a b c]}. */
  private static String show(List<Object> results, boolean asList) {
    List<String> parts = results.stream().map(String::valueOf).toList();
    return asList ? "[" + String.join(" ", parts) + "]" : parts.get(0);
  }

  /** Which broker and backend to use, from Go's environment variables. */
  record Components(Config config, boolean embedded) {
    static Components fromEnvironment() {
      boolean embedded = System.getenv("BROKER") == null || System.getenv("BROKER").isBlank();
      return new Components(Config.fromEnvironment(), embedded);
    }

    void requireShared(String command) {
      if (embedded) {
        throw new IllegalStateException(
            "'"
                + command
                + "' talks to a worker in another process, so it needs a shared"
                + " broker and backend: set BROKER and RESULT_BACKEND (e.g. redis://127.0.0.1:6379). Without them, run"
                + " 'demo', which keeps both sides in this JVM.");
      }
    }

    /** A server with its broker and backend; closing it closes all three, server first. */
    Stack open() {
      if (embedded) {
        return new Stack(Server.builder().config(config).build(), List.of());
      }
      Broker broker = Brokers.broker(config);
      Backend backend = Brokers.backend(config);
      return new Stack(
          Server.builder().config(config).broker(broker).backend(backend).build(),
          List.of(broker, backend));
    }
  }

  /** What the example built; whoever builds a component closes it. */
  record Stack(Server server, List<AutoCloseable> components) implements AutoCloseable {
    @Override
    public void close() throws Exception {
      server.close();
      for (AutoCloseable component : components) {
        component.close();
      }
    }
  }
}
