package io.machinery.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every Java block of the README is compiled: it must be, verbatim (less its indentation), a region
 * between {@code // README:<name>:begin} and {@code // README:<name>:end} of a Java file of the
 * repository, which its module compiles (and, for the regions in tests, runs). A block written by
 * hand into the README fails here.
 */
class ReadmeJavaBlocksTest {
  private static final Path ROOT = Path.of("..");
  private static final Pattern BLOCK = Pattern.compile("```java\n(.*?)```\n", Pattern.DOTALL);
  private static final Pattern BEGIN = Pattern.compile("// README:([\\w-]+):begin\n");

  @Test
  void everyJavaBlockOfTheReadmeIsARegionOfACompiledFile() throws IOException {
    Set<String> regions = regions();
    List<String> strays = new ArrayList<>();
    Matcher block = BLOCK.matcher(Files.readString(ROOT.resolve("README.md")));
    int count = 0;
    while (block.find()) {
      count++;
      if (!regions.contains(block.group(1))) {
        strays.add(block.group(1).lines().findFirst().orElse(""));
      }
    }
    assertThat(count).as("Java blocks in the README").isGreaterThan(5);
    assertThat(strays)
        .as("README Java blocks that are no region of a compiled file (first lines)")
        .isEmpty();
  }

  private static Set<String> regions() throws IOException {
    Set<String> regions = new HashSet<>();
    try (Stream<Path> files = Files.walk(ROOT)) {
      files
          .filter(p -> p.toString().endsWith(".java"))
          .filter(
              p ->
                  !p.toString().contains("/target/")
                      && !p.toString().contains("/.git/")
                      && !p.toString().contains("/node_modules/"))
          .forEach(
              p -> {
                try {
                  String source = Files.readString(p);
                  Matcher begin = BEGIN.matcher(source);
                  while (begin.find()) {
                    int end = source.indexOf("// README:" + begin.group(1) + ":end", begin.end());
                    if (end > 0) {
                      regions.add(
                          dedent(source.substring(begin.end(), source.lastIndexOf('\n', end) + 1)));
                    }
                  }
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    }
    return regions;
  }

  private static String dedent(String body) {
    int indent =
        body.lines()
            .filter(l -> !l.isBlank())
            .mapToInt(l -> l.length() - l.stripLeading().length())
            .min()
            .orElse(0);
    StringBuilder out = new StringBuilder();
    body.lines().forEach(l -> out.append(l.isBlank() ? "" : l.substring(indent)).append('\n'));
    return out.toString();
  }
}
