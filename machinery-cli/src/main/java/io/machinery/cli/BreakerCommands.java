package io.machinery.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.machinery.internal.GoDurations;
import io.machinery.spi.ControlPlane.BreakerOpening;
import java.io.PrintStream;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The commands about breaker openings: {@code breakers} lists them, {@code breaker} opens or closes
 * one key on every worker (within one heartbeat, each worker with a breaker of that key follows).
 *
 * <p>Design notes: the key and the duration are checked before connecting, so a mistake is a usage
 * error (exit 1) without a server; a control plane that keeps no openings (AMQP's) throws {@link
 * UnsupportedOperationException}, which {@link MachineryCli} maps to exit 4. Times left are read in
 * the server's clock, the one the control plane gives {@link BreakerOpening#until()} in.
 */
final class BreakerCommands {
  /** The reason of an opening given no {@code --reason}. */
  static final String DEFAULT_REASON = "opened from the command line";

  /** The longest host name kept in {@code openedBy}. */
  private static final int MAX_HOST_LENGTH = 64;

  private BreakerCommands() {}

  @Command(
      name = "breakers",
      description =
          "List the circuit breaker openings in force (with `breaker`, or by shared breakers'"
              + " cluster window), which workers with a breaker of that key follow")
  static final class Breakers extends CliCommand {
    @Override
    int run(Session session) {
      Map<String, BreakerOpening> openings = new TreeMap<>(session.inspection().openBreakers());
      Instant now = session.server().clock().instant();
      PrintStream out = session.io().out();
      if (session.json()) {
        ArrayNode array = Render.JSON.createArrayNode();
        openings
            .values()
            .forEach(
                opening ->
                    array.add(
                        Render.JSON
                            .createObjectNode()
                            .put("key", opening.key())
                            .put("id", opening.id())
                            .put("until", opening.until().toString())
                            .put("leftMillis", left(opening, now).toMillis())
                            .put("openedBy", opening.openedBy())
                            .put("reason", opening.reason())
                            .put("trial", opening.trial())));
        Render.json(out, array);
      } else {
        List<List<String>> rows = new ArrayList<>();
        openings
            .values()
            .forEach(
                opening ->
                    rows.add(
                        Render.row(
                            opening.key(),
                            Render.instant(opening.until()),
                            GoDurations.format(left(opening, now).withNanos(0)),
                            opening.openedBy(),
                            opening.reason())));
        Render.table(out, List.of("KEY", "UNTIL", "LEFT", "BY", "REASON"), rows);
      }
      return MachineryCli.EXIT_OK;
    }

    /** The time left, never negative (an opening read just before its end). */
    private static Duration left(BreakerOpening opening, Instant now) {
      Duration left = Duration.between(now, opening.until());
      return left.isNegative() ? Duration.ZERO : left;
    }
  }

  @Command(
      name = "breaker",
      description =
          "Open the circuit breakers of KEY on every worker for a while (workers with a breaker of"
              + " that key park its tasks within a heartbeat), or --close them")
  static final class Breaker extends CliCommand {
    @Parameters(
        paramLabel = "KEY",
        description = "the breaker key: a task name, or what a breaker's key function returns")
    String key = "";

    @Option(
        names = "--open",
        paramLabel = "DURATION",
        description = "how long, as a Go duration such as 90s, 10m or 1h30m (at most 168h)")
    String open = "";

    @Option(
        names = "--reason",
        paramLabel = "TEXT",
        description = "why, for people (default: " + DEFAULT_REASON + ")")
    @Nullable String reason;

    @Option(
        names = "--close",
        description = "remove the opening: workers whose breaker it opened close it")
    boolean close;

    @Override
    int run(Session session) {
      if (close == !open.isEmpty()) {
        throw new IllegalArgumentException(
            close
                ? "breaker takes --open DURATION or --close, not both"
                : "breaker needs --open DURATION or --close");
      }
      BreakerOpening.requireBreakerKey(key);
      if (close) {
        if (reason != null) {
          throw new IllegalArgumentException("--close takes no --reason");
        }
        session.inspection().closeBreaker(key);
        if (session.json()) {
          Render.json(
              session.io().out(),
              Render.JSON.createObjectNode().put("action", "closed").put("key", key));
        } else {
          session
              .io()
              .out()
              .println(
                  "closed breaker "
                      + key
                      + " (workers whose breaker it opened close it within a heartbeat)");
        }
        return MachineryCli.EXIT_OK;
      }
      Duration openFor = openFor(open);
      BreakerOpening opening =
          session
              .inspection()
              .openBreaker(key, openFor, reason == null ? DEFAULT_REASON : reason, openedBy());
      if (session.json()) {
        ObjectNode node =
            Render.JSON
                .createObjectNode()
                .put("action", "opened")
                .put("key", opening.key())
                .put("id", opening.id())
                .put("until", opening.until().toString())
                .put("openedBy", opening.openedBy())
                .put("reason", opening.reason());
        Render.json(session.io().out(), node);
      } else {
        session
            .io()
            .out()
            .println(
                "opened breaker "
                    + opening.key()
                    + " for "
                    + GoDurations.format(openFor)
                    + ", until "
                    + Render.instant(opening.until())
                    + " (workers with a breaker of that key park its tasks within a heartbeat)");
      }
      return MachineryCli.EXIT_OK;
    }
  }

  /** {@code --open}'s Go duration, from 1 ms to {@link BreakerOpening#MAX_OPEN_FOR}. */
  static Duration openFor(String text) {
    Duration openFor;
    try {
      openFor = GoDurations.parse(text);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "--open '"
              + text
              + "' is not a Go duration such as 90s, 10m or 1h30m"
              + (text.matches("[0-9.]+d") ? " (Go durations have no days: 24h is one)" : ""));
    }
    if (openFor.toMillis() < 1) {
      throw new IllegalArgumentException("--open " + text + " is not at least 1ms");
    }
    if (openFor.compareTo(BreakerOpening.MAX_OPEN_FOR) > 0) {
      throw new IllegalArgumentException(
          "--open "
              + text
              + " is over "
              + GoDurations.format(BreakerOpening.MAX_OPEN_FOR)
              + " (7 days), the longest a breaker opening lasts");
    }
    return openFor;
  }

  /**
   * Who opens, for people: {@code cli:user@host}, the host's first label (never failing: a host
   * that cannot be named is {@code unknown}).
   */
  static String openedBy() {
    return "cli:" + System.getProperty("user.name", "unknown") + "@" + hostName();
  }

  private static String hostName() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (Exception e) { // no name for this host: the opening still says it came from the CLI
      host = "unknown";
    }
    boolean address = host.chars().allMatch(c -> Character.isDigit(c) || c == '.' || c == ':');
    int dot = host.indexOf('.');
    if (!address && dot > 0) {
      host = host.substring(0, dot);
    }
    return host.isEmpty()
        ? "unknown"
        : host.length() > MAX_HOST_LENGTH ? host.substring(0, MAX_HOST_LENGTH) : host;
  }
}
