package io.machinery.cli;

import io.machinery.Machinery;
import io.machinery.Server;
import io.machinery.config.Config;
import java.util.Map;

/** The scenario on a real server named by one URL for broker and backend, built as users build it (from URLs). */
abstract class UrlCliScenario extends CliScenario {
  /** The broker and result backend URL. */
  abstract String url();

  @Override
  CliRunner cli() {
    return new CliRunner(Map.of("BROKER", url(), "RESULT_BACKEND", url(), "DEFAULT_QUEUE", queue), Machinery::connect, false);
  }

  @Override
  Server workerServer() {
    return Machinery.connect(Config.builder().broker(url()).resultBackend(url()).defaultQueue(queue).build());
  }

  @Override
  boolean hasControlPlane() {
    return true;
  }
}
