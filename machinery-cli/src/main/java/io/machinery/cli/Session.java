package io.machinery.cli;

import io.machinery.Inspection;
import io.machinery.Server;
import io.machinery.config.Config;
import io.machinery.config.Redaction;
import io.machinery.internal.Causes;
import io.machinery.wire.WireCodec;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * One run of one command: its options, the config they name, and the server built from it on first
 * use (closed at the end of the run, with the connections it opened).
 *
 * <p>Design notes: the config is Go's environment variables, or a YAML file with {@code --config},
 * then {@code --broker}/{@code --backend} over it, the same rules as the library's {@link
 * Config#fromEnvironment()} and {@link Config#fromYaml}. Connecting is lazy so that usage errors
 * never need a server. Every text that leaves this process goes through {@link #scrub}: the
 * config's URLs are replaced by their redacted form and any other {@code scheme://user:password@}
 * is masked, so no password reaches the terminal or a script's log.
 */
final class Session implements AutoCloseable {
  /** {@code scheme://anything-but-slash@}: the credentials part of a URL in free text. */
  private static final Pattern CREDENTIALS =
      Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*://)[^\\s/@]*@");

  private final MachineryCli.Io io;
  private final GlobalOptions options;
  private @Nullable Config config;
  private @Nullable Server server;

  Session(MachineryCli.Io io, GlobalOptions options) {
    this.io = io;
    this.options = options;
  }

  MachineryCli.Io io() {
    return io;
  }

  boolean json() {
    return options.json;
  }

  boolean verbose() {
    return options.verbose;
  }

  Config config() {
    if (config == null) {
      Config base;
      try {
        base =
            options.config != null
                ? Config.fromYaml(options.config)
                : Config.fromEnvironment(io.env());
      } catch (IllegalArgumentException | IllegalStateException e) {
        throw new CliException(MachineryCli.EXIT_USAGE, scrub(String.valueOf(e.getMessage())), e);
      }
      Config.Builder builder = base.toBuilder();
      if (options.broker != null) {
        // that broker alone: a move in the config (MACHINERY_MIGRATE_FROM_BROKER) is not this one
        builder.broker(options.broker).migrateFromBroker("");
      }
      if (options.backend != null) {
        // that backend alone: a move in the config (MACHINERY_MIGRATE_FROM_RESULT_BACKEND) is not
        // this one
        builder.resultBackend(options.backend).migrateFromResultBackend("");
      }
      config = builder.build();
    }
    return config;
  }

  Server server() {
    if (server == null) {
      Config c = config();
      try {
        server = io.connector().apply(c);
      } catch (
          IllegalArgumentException
              e) { // a malformed URL, or one no module serves: the message says which
        throw new CliException(
            MachineryCli.EXIT_UNREACHABLE, scrub(String.valueOf(e.getMessage())), e);
      } catch (RuntimeException e) {
        throw new CliException(
            MachineryCli.EXIT_UNREACHABLE,
            "cannot connect to broker "
                + show(c.broker())
                + " / backend "
                + show(c.resultBackend())
                + ": "
                + scrub(Causes.withRoot(String.valueOf(e.getMessage()), e)),
            e);
      }
    }
    return server;
  }

  Inspection inspection() {
    return Inspection.of(server());
  }

  /**
   * Refuses a queue name the operator gave that names no queue, as a usage error before anything
   * connects ({@link WireCodec#checkQueueName}, with this config's delayed-task key): on Redis a
   * queue is a raw key, so {@code purge {emails}:processing:<consumer>} would delete a worker's
   * tasks in flight, and the commands would read or write Go's chord mutex, the delayed-task key or
   * a task's state as if they were queues. An empty name passes: it stands for the default queue.
   */
  void checkQueue(String queue) {
    if (queue.isEmpty()) {
      return;
    }
    try {
      WireCodec.checkQueueName(queue, config());
    } catch (IllegalArgumentException e) {
      throw new CliException(MachineryCli.EXIT_USAGE, String.valueOf(e.getMessage()), e);
    }
  }

  /**
   * Refuses a task UUID the operator gave that cannot be a task's, as a usage error before anything
   * connects ({@link WireCodec#checkTaskId}): on Redis a task's UUID is the raw key of its state,
   * so {@code task TriggerChordMutex} would read, and {@code cancel} would write, a key that is no
   * task's state.
   */
  void checkTask(String uuid) {
    try {
      WireCodec.checkTaskId(uuid, config());
    } catch (IllegalArgumentException e) {
      throw new CliException(MachineryCli.EXIT_USAGE, String.valueOf(e.getMessage()), e);
    }
  }

  /** The default queue an empty {@code --queue} stands for. */
  String queueName(String queue) {
    return queue.isEmpty() ? config().defaultQueue() : queue;
  }

  /**
   * A URL as it may be shown: as given when it holds no credentials, else Go's redacted form
   * (scheme://host).
   */
  static String show(String url) {
    return url.indexOf('@') < 0 ? url : Redaction.redactUrl(url);
  }

  /** Text with every URL's credentials masked and the config's URLs redacted. */
  String scrub(String text) {
    String out = text;
    if (config != null) {
      for (String url :
          new String[] {
            config.broker(),
            config.migrateFromBroker(),
            config.resultBackend(),
            config.migrateFromResultBackend(),
            config.lock()
          }) {
        if (url.indexOf('@') >= 0) {
          out = out.replace(url, Redaction.redactUrl(url));
        }
      }
    }
    for (String url : new String[] {options.broker, options.backend}) {
      if (url != null && url.indexOf('@') >= 0) {
        out = out.replace(url, Redaction.redactUrl(url));
      }
    }
    return CREDENTIALS.matcher(out).replaceAll(m -> Matcher.quoteReplacement(m.group(1)) + "***@");
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
  }
}
