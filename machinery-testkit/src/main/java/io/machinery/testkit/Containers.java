package io.machinery.testkit;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

/**
 * The only class that links to Testcontainers; {@link MachineryServers} loads it only after
 * checking that Testcontainers is on the classpath. Containers are never stopped here:
 * Testcontainers' reaper removes them when the JVM exits, so one container serves every test class
 * of a run.
 */
final class Containers {
  private Containers() {}

  static boolean dockerAvailable() {
    return DockerClientFactory.instance().isDockerAvailable();
  }

  @SuppressWarnings("resource") // lives until the JVM exits, removed by Testcontainers' reaper
  static String start(MachineryServers.Kind kind) {
    GenericContainer<?> container =
        new GenericContainer<>(DockerImageName.parse(kind.image))
            .withExposedPorts(kind.port)
            .waitingFor(Wait.forLogMessage(kind.readyLog, 1));
    container.start();
    return kind.url(container.getHost(), container.getMappedPort(kind.port));
  }
}
