package io.machinery.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * jackson-dataformat-yaml is optional: core loads and configures from the environment without it,
 * and reading YAML says which dependency is missing. Runs core in a class loader that has
 * everything but YAML.
 */
class YamlOptionalTest {
  private static URL jarOf(Class<?> type) {
    return type.getProtectionDomain().getCodeSource().getLocation();
  }

  @Test
  void withoutTheYamlModuleOnlyReadingYamlFailsAndItSaysWhatToAdd(@TempDir Path dir)
      throws Exception {
    URL[] classPath = {
      jarOf(Config.class),
      jarOf(JsonFactory.class),
      jarOf(ObjectMapper.class),
      jarOf(com.fasterxml.jackson.annotation.JsonProperty.class),
      jarOf(LoggerFactory.class),
      jarOf(NullMarked.class)
    };
    assertThat(classPath).noneMatch(url -> url.toString().contains("yaml"));
    Path file = dir.resolve("config.yml");
    Files.writeString(file, "default_queue: q\n");
    try (URLClassLoader withoutYaml =
        new URLClassLoader(classPath, ClassLoader.getPlatformClassLoader())) {
      Class<?> config = Class.forName(Config.class.getName(), true, withoutYaml);
      Object fromEnv =
          config.getMethod("fromEnvironment", Map.class).invoke(null, Map.of("DEFAULT_QUEUE", "q"));
      assertThat(config.getMethod("defaultQueue").invoke(fromEnv)).isEqualTo("q");

      Method fromYaml = config.getMethod("fromYaml", Path.class);
      Throwable thrown = null;
      try {
        fromYaml.invoke(null, file);
      } catch (InvocationTargetException e) {
        thrown = e.getCause();
      }
      assertThat(thrown)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("com.fasterxml.jackson.dataformat:jackson-dataformat-yaml")
          .hasMessageContaining("Config.fromEnvironment()");
    }
  }
}
