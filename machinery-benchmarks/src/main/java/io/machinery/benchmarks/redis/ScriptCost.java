package io.machinery.benchmarks.redis;

import io.lettuce.core.api.sync.RedisCommands;
import java.lang.reflect.Field;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What the script benchmarks share: a script's source read from this build's classes, or from
 * another build's jar ({@code --before-jar}), by reflection (the scripts are not public API); the
 * time Redis spent in {@code EVALSHA} since the last {@code CONFIG RESETSTAT}; the markdown table
 * of medians.
 */
final class ScriptCost {
  private ScriptCost() {}

  /**
   * The scripts to compare: {@code label (before)} from {@code beforeJar} when given, then {@code
   * label} from this build, each the source of the {@code RedisScript} in static field {@code
   * field} of class {@code scripts}.
   */
  static Map<String, String> thisBuildAndBefore(
      String scripts, String field, String label, @Nullable Path beforeJar) throws Exception {
    Map<String, String> sources = new LinkedHashMap<>();
    if (beforeJar != null) {
      try (URLClassLoader loader =
          new URLClassLoader(
              new URL[] {beforeJar.toUri().toURL()}, ClassLoader.getPlatformClassLoader())) {
        sources.put(label + " (before)", source(loader, scripts, field));
      }
    }
    sources.put(label, source(ScriptCost.class.getClassLoader(), scripts, field));
    return sources;
  }

  private static String source(ClassLoader loader, String scripts, String field)
      throws ReflectiveOperationException {
    Field holder = Class.forName(scripts, true, loader).getDeclaredField(field);
    holder.setAccessible(true);
    Object script = holder.get(null);
    Field source = script.getClass().getDeclaredField("source");
    source.setAccessible(true);
    return new String((byte[]) source.get(script), StandardCharsets.UTF_8);
  }

  /**
   * Microseconds Redis spent in {@code EVALSHA} (the scripts and the commands they ran) since the
   * last {@code CONFIG RESETSTAT}, checking that exactly {@code calls} were made (another client's
   * scripts would be counted too).
   */
  static long evalshaMicros(RedisCommands<byte[], byte[]> redis, long calls) {
    String stats = redis.info("commandstats");
    Matcher m = Pattern.compile("cmdstat_evalsha:calls=(\\d+),usec=(\\d+)").matcher(stats);
    if (!m.find() || Long.parseLong(m.group(1)) != calls) {
      throw new IllegalStateException(
          "no EVALSHA statistics for exactly " + calls + " calls (another client?): " + stats);
    }
    return Long.parseLong(m.group(2));
  }

  static String serverVersion(RedisCommands<byte[], byte[]> redis) {
    Matcher m = Pattern.compile("redis_version:(\\S+)").matcher(redis.info("server"));
    return m.find() ? m.group(1) : "?";
  }

  /** One row per script: the median of its rounds and each round's figure. */
  static void printTable(String unit, Map<String, List<Double>> rounds) {
    System.out.println("| script | " + unit + ", median | per round |");
    System.out.println("|---|---:|---|");
    for (Map.Entry<String, List<Double>> row : rounds.entrySet()) {
      List<Double> values = row.getValue();
      double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      System.out.printf(
          Locale.ROOT,
          "| %s | %.2f | %s |%n",
          row.getKey(),
          sorted[sorted.length / 2],
          String.join(
              ", ", values.stream().map(v -> String.format(Locale.ROOT, "%.2f", v)).toList()));
    }
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
