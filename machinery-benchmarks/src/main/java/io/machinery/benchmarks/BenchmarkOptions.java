package io.machinery.benchmarks;

import io.machinery.config.Config;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The command line of the in-JVM workflow benchmarks ({@code --name value} pairs) and the config
 * they share: one URL for broker and backend, a fresh queue, results kept ten minutes, no signal
 * handlers.
 */
final class BenchmarkOptions {
  private final Map<String, String> values = new HashMap<>();

  private BenchmarkOptions(String[] args) {
    for (int i = 0; i + 1 < args.length; i += 2) {
      values.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
  }

  static BenchmarkOptions parse(String[] args) {
    return new BenchmarkOptions(args);
  }

  String text(String name, String orElse) {
    return values.getOrDefault(name, orElse);
  }

  int integer(String name, int orElse) {
    return values.containsKey(name) ? Integer.parseInt(values.get(name)) : orElse;
  }

  long number(String name, long orElse) {
    return values.containsKey(name) ? Long.parseLong(values.get(name)) : orElse;
  }

  /** A queue no earlier run used: {@code prefix} and eight random hex digits. */
  static String freshQueue(String prefix) {
    return prefix + UUID.randomUUID().toString().substring(0, 8);
  }

  /** The benchmarks' config on {@code url} (broker and backend) and {@code queue}. */
  static Config.Builder config(String url, String queue) {
    return Config.builder()
        .broker(url)
        .resultBackend(url)
        .defaultQueue(queue)
        .resultsExpireIn(600)
        .noUnixSignals(true);
  }
}
