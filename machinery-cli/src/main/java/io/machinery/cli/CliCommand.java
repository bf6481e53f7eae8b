package io.machinery.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A leaf command: runs with a {@link Session} made of its options and the top command's, closed
 * after it.
 */
abstract class CliCommand implements Callable<Integer> {
  @Mixin GlobalOptions options = new GlobalOptions();

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean help;

  @SuppressWarnings("NullAway.Init") // injected by picocli before call()
  @Spec
  CommandSpec spec;

  @Override
  public final Integer call() {
    MachineryCli root = (MachineryCli) spec.root().userObject();
    try (Session session = root.open(options)) {
      return run(session);
    }
  }

  /**
   * Runs the command and returns its exit code; failures are thrown and mapped by {@link
   * MachineryCli}.
   */
  abstract int run(Session session);
}
