package io.machinery.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import io.machinery.config.Config;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;

/**
 * {@code machinery config}: the settings this command runs with (Go's environment variables or
 * {@code --config} file, then {@code --broker}/{@code --backend}), each with its environment
 * variable, YAML key and value, credentials masked ({@link Config#settings()}). It connects to
 * nothing, so it also shows what a worker started with the same environment would use.
 */
@Command(
    name = "config",
    description =
        "Show the settings in effect (environment or --config file, then --broker/--backend),"
            + " passwords masked; connects to nothing")
final class ConfigCommand extends CliCommand {
  @Override
  int run(Session session) {
    List<Config.Setting> settings = session.config().settings();
    PrintStream out = session.io().out();
    if (session.json()) {
      ArrayNode array = Render.JSON.createArrayNode();
      for (Config.Setting s : settings) {
        array
            .addObject()
            .put("variable", s.variable())
            .put("yaml", s.yamlKey())
            .put("value", session.scrub(s.value()));
      }
      Render.json(out, array);
    } else {
      List<List<String>> rows = new ArrayList<>();
      for (Config.Setting s : settings) {
        rows.add(Render.row(s.variable(), s.yamlKey(), session.scrub(s.value())));
      }
      Render.table(out, List.of("VARIABLE", "YAML", "VALUE"), rows);
    }
    return MachineryCli.EXIT_OK;
  }
}
