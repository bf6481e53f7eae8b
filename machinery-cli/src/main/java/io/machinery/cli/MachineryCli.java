package io.machinery.cli;

import io.machinery.Machinery;
import io.machinery.Server;
import io.machinery.config.Config;
import io.machinery.internal.Causes;
import java.io.Console;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * The {@code machinery} command: looks into and repairs a deployment's queues, from the same URLs
 * and config (Go's environment variables, or a YAML file) as the library. {@code machinery --help}
 * lists the commands.
 *
 * <p>Design notes: each run parses its arguments with picocli, builds one {@link Server} with
 * {@link Machinery#connect} from {@link Providers#ALL} (every broker and backend module of the
 * jar), runs one command through {@link io.machinery.Inspection}, and closes the server. Failures
 * become one line on standard error and an exit code scripts can rely on ({@link #EXIT_OK} ...
 * {@link #EXIT_TASK_FAILED}); a stack trace only with {@code --verbose}. No text leaves the process
 * without going through {@link Session#scrub}, so passwords in URLs are never printed. Library
 * logging is off unless {@code --verbose}.
 */
@Command(
    name = "machinery",
    mixinStandardHelpOptions = true,
    versionProvider = MachineryCli.Version.class,
    description =
        "Look into and repair the queues of a Machinery deployment (Redis, AMQP, SQS, Pub/Sub, ...).",
    subcommands = {
      QueueCommands.Queues.class,
      QueueCommands.Lanes.class,
      QueueCommands.Weight.class,
      TaskCommands.Tasks.class,
      TaskCommands.Send.class,
      TaskCommands.Cancel.class,
      TaskCommands.Requeue.class,
      TaskCommands.Delete.class,
      QueueCommands.Purge.class,
      QueueCommands.Pause.class,
      QueueCommands.Resume.class,
      QueueCommands.Workers.class,
      QueueCommands.Periodic.class,
      LimitCommands.Limits.class,
      LimitCommands.Limit.class,
      BreakerCommands.Breakers.class,
      BreakerCommands.Breaker.class,
      ConfigCommand.class,
      DashboardCommand.class
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:ok",
      "1:usage: unknown command or option, bad argument, unreadable config file",
      "2:not found: no such task; no dead letter with that id, or of task NAME (--task)",
      "3:bad URL, or the broker or backend cannot be reached",
      "4:not supported by this broker or backend",
      "5:send --wait: the task failed or gave no result in time"
    })
public final class MachineryCli implements Callable<Integer> {
  /** Success. */
  public static final int EXIT_OK = 0;

  /** Unknown command or option, bad argument, unreadable config file. */
  public static final int EXIT_USAGE = 1;

  /**
   * The task named does not exist, or no dead letter has the id given or the task name of {@code
   * --task}.
   */
  public static final int EXIT_NOT_FOUND = 2;

  /** A URL is malformed or served by no module, or the broker or backend cannot be reached. */
  public static final int EXIT_UNREACHABLE = 3;

  /** The broker or backend cannot do this (no inspector, no control plane). */
  public static final int EXIT_UNSUPPORTED = 4;

  /** {@code send --wait}: the task failed or had no result in time. */
  public static final int EXIT_TASK_FAILED = 5;

  /** Where a run reads and writes, and how it connects (tests pass their own). */
  record Io(
      PrintStream out,
      PrintStream err,
      Map<String, String> env,
      boolean terminal,
      Function<Config, Server> connector) {}

  @Mixin GlobalOptions options = new GlobalOptions();

  private final Io io;
  private @Nullable Session current;

  private MachineryCli(Io io) {
    this.io = io;
  }

  /**
   * Runs the command and exits with its code.
   *
   * @param args the command line
   */
  public static void main(String[] args) {
    boolean verbose =
        java.util.Arrays.stream(args).anyMatch(a -> a.equals("-v") || a.equals("--verbose"));
    quietLogging(verbose);
    int code =
        run(
            args,
            new Io(System.out, System.err, System.getenv(), onTerminal(), Providers::connect));
    System.out.flush();
    System.exit(code);
  }

  /** Runs one command line; returns the exit code instead of exiting. */
  static int run(String[] args, Io io) {
    MachineryCli root = new MachineryCli(io);
    CommandLine cli = new CommandLine(root);
    cli.setOut(new PrintWriter(io.out(), true));
    cli.setErr(new PrintWriter(io.err(), true));
    cli.setParameterExceptionHandler(
        (e, ignored) -> {
          io.err().println("machinery: " + Render.safe(root.scrub(String.valueOf(e.getMessage()))));
          io.err()
              .println(
                  "Try 'machinery "
                      + (e.getCommandLine().getCommandName().equals("machinery")
                          ? ""
                          : e.getCommandLine()
                                  .getCommandSpec()
                                  .qualifiedName(" ")
                                  .substring("machinery ".length())
                              + " ")
                      + "--help'.");
          return EXIT_USAGE;
        });
    cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> root.fail(e));
    return cli.execute(args);
  }

  /** No command: the usage, as a usage error. */
  @Override
  public Integer call() {
    new CommandLine(this).usage(io.err());
    return EXIT_USAGE;
  }

  Session open(GlobalOptions leaf) {
    GlobalOptions merged = leaf.or(options);
    if (merged.verbose) {
      quietLogging(true);
    }
    current = new Session(io, merged);
    return current;
  }

  private String scrub(String text) {
    return current == null ? new Session(io, options).scrub(text) : current.scrub(text);
  }

  private int fail(Exception e) {
    int code;
    String message;
    if (e instanceof CliException cli) {
      code = cli.exitCode();
      message = cli.getMessage();
    } else if (e instanceof UnsupportedOperationException) {
      code = EXIT_UNSUPPORTED;
      message = "not supported here: " + e.getMessage();
    } else if (e instanceof IllegalArgumentException) {
      code = EXIT_USAGE;
      message = e.getMessage();
    } else {
      code = EXIT_UNREACHABLE;
      message = "the broker or backend failed: " + e.getMessage();
    }
    String text =
        e instanceof CliException
            ? String.valueOf(message)
            : Causes.withRoot(String.valueOf(message), e);
    io.err().println("machinery: " + Render.safe(scrub(text)));
    if (current != null && current.verbose()) {
      StringWriter trace = new StringWriter();
      e.printStackTrace(new PrintWriter(trace));
      io.err().print(scrub(trace.toString()));
    }
    return code;
  }

  private static void quietLogging(boolean verbose) {
    if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)
        instanceof ch.qos.logback.classic.Logger logback) {
      logback.setLevel(
          verbose ? ch.qos.logback.classic.Level.INFO : ch.qos.logback.classic.Level.OFF);
    }
  }

  /**
   * On JDK 22+ {@link System#console()} exists even when redirected; {@code Console.isTerminal()}
   * tells.
   */
  private static boolean onTerminal() {
    Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true; // JDK 21: a console is a terminal
    }
  }

  /** The jar's version, from its manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String version = MachineryCli.class.getPackage().getImplementationVersion();
      return new String[] {"machinery " + (version == null ? "(development build)" : version)};
    }
  }
}
