package io.machinery.cli;

import io.machinery.Server;
import io.machinery.config.Config;
import java.util.Map;

/**
 * The scenario on a real server named by one URL for broker and backend, built as users build it:
 * from Go's environment variables. The queue is the AMQP binding key too, so that no other test's
 * tasks (bound with Go's default key on the shared exchange) reach this queue.
 */
abstract class UrlCliScenario extends CliScenario {
  /** The broker and result backend URL. */
  abstract String url();

  private Map<String, String> env() {
    return Map.of(
        "BROKER",
        url(),
        "RESULT_BACKEND",
        url(),
        "DEFAULT_QUEUE",
        queue,
        "AMQP_BINDING_KEY",
        queue);
  }

  @Override
  CliRunner cli() {
    return new CliRunner(env(), Providers::connect, false);
  }

  @Override
  Server workerServer() {
    return Providers.connect(Config.fromEnvironment(env()));
  }

  @Override
  boolean hasControlPlane() {
    return true;
  }
}
