package io.machinery.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.machinery.testkit.TestEndpoints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Follows {@code docs/getting-started.md} as a new user would: writes the files the page shows into
 * an empty folder, builds them with Maven against this build's artifacts, runs the worker and the
 * sender on the real Redis at REDIS_URL, and stops the worker with SIGTERM.
 *
 * <p>Design notes: the page's project depends on {@code io.machinery:*:0.1.0-SNAPSHOT}, which
 * {@code verify} does not install and no repository serves. So this test lays out this reactor's
 * poms and jars (built before this module) in a fresh local repository, and gives Maven this
 * build's own repository as {@code maven.repo.local.tail} (Maven 3.9) for the third-party
 * artifacts. The nested build is not offline only because {@code make test} never fetches
 * exec-maven-plugin (only {@code make run} does); the Machinery artifacts can come from nowhere but
 * the laid-out repository. Placed in this module because it comes after every module the page uses.
 */
class GettingStartedIT {
  private static final Path ROOT = Path.of("../..").toAbsolutePath().normalize();
  private static final String VERSION = "0.1.0-SNAPSHOT";

  /** artifactId, the folder of its pom, whether it has a jar. */
  private static final String[][] REACTOR = {
    {"machinery-parent", "", "pom"},
    {"machinery-bom", "machinery-bom", "pom"},
    {"machinery-core", "machinery-core", "jar"},
    {"machinery-clients", "machinery-clients", "pom"},
    {"machinery-client-redis", "machinery-clients/machinery-client-redis", "jar"},
    {"machinery-brokers", "machinery-brokers", "pom"},
    {"machinery-broker-redis", "machinery-brokers/machinery-broker-redis", "jar"},
    {"machinery-backends", "machinery-backends", "pom"},
    {"machinery-backend-redis", "machinery-backends/machinery-backend-redis", "jar"},
  };

  @TempDir Path work;

  @Test
  void theGettingStartedProjectBuildsAndItsWorkerAnswersItsSender() throws Exception {
    String redisUrl = TestEndpoints.redisUrl();
    Path project = Files.createDirectories(work.resolve("hello-machinery"));
    Map<String, String> files = filesOf(Files.readString(ROOT.resolve("docs/getting-started.md")));
    assertThat(files)
        .containsOnlyKeys(
            "pom.xml",
            "src/main/java/hello/HelloWorker.java",
            "src/main/java/hello/HelloSender.java");
    for (Map.Entry<String, String> file : files.entrySet()) {
      Path target = project.resolve(file.getKey());
      Files.createDirectories(target.getParent());
      Files.writeString(target, file.getValue());
    }
    Path repository = installReactor(work.resolve("repository"));

    Map<String, String> env =
        Map.of(
            "BROKER",
            redisUrl,
            "RESULT_BACKEND",
            redisUrl,
            "DEFAULT_QUEUE",
            "getting_started_it_" + UUID.randomUUID().toString().substring(0, 8));
    Process build = maven(project, repository, env, work.resolve("build.log"), "compile");
    assertThat(build.waitFor(240, TimeUnit.SECONDS)).as("the build finishes").isTrue();
    assertThat(build.exitValue())
        .as("mvn compile; log:%n%s", log(work.resolve("build.log")))
        .isZero();

    Process worker =
        maven(
            project,
            repository,
            env,
            work.resolve("worker.log"),
            "exec:java",
            "-Dexec.mainClass=hello.HelloWorker");
    try {
      Process sender =
          maven(
              project,
              repository,
              env,
              work.resolve("sender.log"),
              "exec:java",
              "-Dexec.mainClass=hello.HelloSender");
      assertThat(sender.waitFor(120, TimeUnit.SECONDS)).as("the sender finishes").isTrue();
      assertThat(log(work.resolve("sender.log")))
          .as("sender output; worker log:%n%s", log(work.resolve("worker.log")))
          .contains("1 + 2 = 3");
      assertThat(sender.exitValue()).isZero();
    } finally {
      worker.destroy(); // SIGTERM: the worker asked for signal handling, so it quits gracefully
      await().atMost(Duration.ofSeconds(60)).until(() -> !worker.isAlive());
    }
    assertThat(log(work.resolve("worker.log"))).contains("Signal TERM received");
    assertThat(worker.exitValue())
        .as("worker exit; log:%n%s", log(work.resolve("worker.log")))
        .isZero();
  }

  /**
   * The files the page shows: a bold {@code `path`} caption line, a blank line, then a fenced
   * block.
   */
  static Map<String, String> filesOf(String page) {
    Matcher m =
        Pattern.compile("\\*\\*`([^`]+)`\\*\\*\\n\\n```[a-z]*\\n(.*?)```", Pattern.DOTALL)
            .matcher(page);
    Map<String, String> files = new LinkedHashMap<>();
    while (m.find()) {
      files.put(m.group(1), m.group(2));
    }
    return files;
  }

  private static Path installReactor(Path repository) throws IOException {
    for (String[] module : REACTOR) {
      String artifactId = module[0];
      Path moduleDir = ROOT.resolve(module[1]);
      Path dir =
          Files.createDirectories(
              repository.resolve("io/machinery").resolve(artifactId).resolve(VERSION));
      Files.copy(moduleDir.resolve("pom.xml"), dir.resolve(artifactId + "-" + VERSION + ".pom"));
      if (module[2].equals("jar")) {
        Path jar = moduleDir.resolve("target").resolve(artifactId + "-" + VERSION + ".jar");
        assertThat(jar).as("built by this reactor before this module").exists();
        Files.copy(jar, dir.resolve(artifactId + "-" + VERSION + ".jar"));
      }
    }
    return repository;
  }

  private static Process maven(
      Path project, Path repository, Map<String, String> env, Path log, String... goals)
      throws IOException {
    String buildRepository =
        System.getProperty(
            "machinery.build.repository",
            Path.of(System.getProperty("user.home"), ".m2", "repository").toString());
    List<String> command =
        new ArrayList<>(
            List.of(
                ROOT.resolve("mvnw").toString(),
                "-B",
                "-q",
                "-f",
                project.resolve("pom.xml").toString(),
                "-Dmaven.repo.local=" + repository,
                "-Dmaven.repo.local.tail=" + buildRepository));
    command.addAll(List.of(goals));
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .directory(ROOT.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile());
    builder
        .environment()
        .remove("MAVEN_ARGS"); // the outer build's flags (its own repository) must not leak in
    builder.environment().putAll(env);
    String buildJavaHome = System.getProperty("machinery.build.javaHome");
    if (buildJavaHome != null) {
      builder.environment().put("JAVA_HOME", buildJavaHome); // the JDK that built this reactor
    }
    return builder.start();
  }

  private static String log(Path file) throws IOException {
    return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "(no log)";
  }
}
