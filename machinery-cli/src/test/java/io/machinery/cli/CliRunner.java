package io.machinery.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.machinery.Server;
import io.machinery.config.Config;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Runs the command's main logic in this JVM with captured output, a given environment and
 * connector.
 */
final class CliRunner {
  record Result(int code, String out, String err) {
    JsonNode json() {
      try {
        return Render.JSON.readTree(out);
      } catch (IOException e) {
        throw new UncheckedIOException("not JSON: " + out + " / " + err, e);
      }
    }
  }

  private final Map<String, String> env;
  private final Function<Config, Server> connector;
  private final boolean terminal;

  CliRunner(Map<String, String> env, Function<Config, Server> connector, boolean terminal) {
    this.env = env;
    this.connector = connector;
    this.terminal = terminal;
  }

  Result run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        MachineryCli.run(
            args,
            new MachineryCli.Io(
                new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8),
                env,
                terminal,
                connector));
    return new Result(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** Runs and checks the exit code, so a failing step says why. */
  Result ok(String... args) {
    Result result = run(args);
    if (result.code() != 0) {
      throw new AssertionError(
          "machinery " + String.join(" ", args) + " exited " + result.code() + ": " + result.err());
    }
    return result;
  }

  static List<String> texts(JsonNode array, String field) {
    List<String> out = new ArrayList<>();
    array.forEach(node -> out.add(node.path(field).asText()));
    return out;
  }
}
