package io.machinery.cli;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;

/**
 * The options every command takes, before or after its name ({@code machinery --json queues} and
 * {@code machinery queues --json}): a mixin on the top command and on each leaf command, merged by
 * {@link #or}.
 */
final class GlobalOptions {
  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "YAML config with Go's keys (broker, result_backend, default_queue, ...); without it, Go's"
              + " environment variables (BROKER, RESULT_BACKEND, DEFAULT_QUEUE, ...)")
  @Nullable Path config;

  @Option(
      names = "--broker",
      paramLabel = "URL",
      description = "broker URL, over the config's (that broker alone, also during a move)")
  @Nullable String broker;

  @Option(
      names = "--backend",
      paramLabel = "URL",
      description = "result backend URL, over the config's")
  @Nullable String backend;

  @Option(names = "--json", description = "print JSON (one document) instead of a table")
  boolean json;

  @Option(
      names = {"-v", "--verbose"},
      description = "log what the libraries log, and show stack traces")
  boolean verbose;

  /** This command's options, with those given before the command's name filling the gaps. */
  GlobalOptions or(GlobalOptions outer) {
    GlobalOptions merged = new GlobalOptions();
    merged.config = config != null ? config : outer.config;
    merged.broker = broker != null ? broker : outer.broker;
    merged.backend = backend != null ? backend : outer.backend;
    merged.json = json || outer.json;
    merged.verbose = verbose || outer.verbose;
    return merged;
  }
}
